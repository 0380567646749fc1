// The loss benchmark's durations and sizes, from the environment so that a
// quick run (LOSS_OUTAGE_S=10 …) and the full run use the same code.
// Defaults are the measurements.

function numberKnob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return value;
}

export interface LossKnobs {
  /** Seconds the endpoint answers 503 (telex is killed halfway through). */
  readonly outageS: number;
  /** Seconds of healthy pushing before the outage and after it. */
  readonly marginS: number;
  /** Samples/s of the numbered pusher. */
  readonly seqRate: number;
  /** Longest wait after pushing for what is still on its way. */
  readonly settleS: number;
  readonly pullIntervalS: number;
  readonly pullLagS: number;
  /** far-endpoint: latency, rate and duration of the steady push, and the delivery deadline from its start. */
  readonly farLatencyMs: number;
  readonly farRate: number;
  readonly farS: number;
  readonly farDeadlineS: number;
  /** far-endpoint, second variant: seconds of full-speed pushing with batch maxSize 5000. */
  readonly fastS: number;
  readonly burstSamples: number;
  readonly burstProjects: number;
  /** Each burst request holds one project's samples (LOSS_BURST_LAYOUT=project) instead of every project's. */
  readonly burstOneProjectPerRequest: boolean;
  readonly writers: number;
}

export function lossKnobs(): LossKnobs {
  return {
    outageS: numberKnob("LOSS_OUTAGE_S", 40),
    marginS: numberKnob("LOSS_MARGIN_S", 5),
    seqRate: numberKnob("LOSS_SEQ_RATE", 120),
    settleS: numberKnob("LOSS_SETTLE_S", 90),
    pullIntervalS: numberKnob("LOSS_PULL_INTERVAL_S", 2),
    pullLagS: numberKnob("LOSS_PULL_LAG_S", 5),
    farLatencyMs: numberKnob("LOSS_FAR_LATENCY_MS", 100),
    farRate: numberKnob("LOSS_FAR_RATE", 10_000),
    farS: numberKnob("LOSS_FAR_S", 30),
    farDeadlineS: numberKnob("LOSS_FAR_DEADLINE_S", 60),
    fastS: numberKnob("LOSS_FAST_S", 20),
    burstSamples: numberKnob("LOSS_BURST_SAMPLES", 1_000_000),
    burstProjects: numberKnob("LOSS_BURST_PROJECTS", 50),
    burstOneProjectPerRequest: process.env["LOSS_BURST_LAYOUT"] === "project",
    writers: numberKnob("LOSS_WRITERS", 4),
  };
}

export function describeKnobs(k: LossKnobs): string {
  return `outage ${k.outageS} s (margins ${k.marginS} s, ${k.seqRate} samples/s, settle ≤ ${k.settleS} s, pull every ${k.pullIntervalS} s lag ${k.pullLagS} s); far ${k.farLatencyMs} ms, ${k.farRate}/s × ${k.farS} s, deadline ${k.farDeadlineS} s, full speed ${k.fastS} s; burst ${k.burstSamples} samples, ${k.burstProjects} projects (${k.burstOneProjectPerRequest ? "one" : "all"} per request), ${k.writers} writers`;
}
