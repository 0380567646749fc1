// `npm run bench -- loss [scenario…]`: what telex loses, next to vmagent in
// the same run (issue 12). Every scenario runs both systems as child
// processes against the same kind of endpoint and prints one row each:
// samples acknowledged/pushed, delivered, lost (acknowledged and never
// delivered), dropped as the system's own counters report it, wall time.
//
//   outage-kill-push  endpoint answers 503 for LOSS_OUTAGE_S; the system is
//                     SIGKILLed halfway through and restarted on the same
//                     data dir and ports; numbered samples, checked one by one
//                     in the receiving VictoriaMetrics
//   outage-kill-pull  the same for telex --source-url (vmagent: n/a)
//   far-endpoint      every answer 100 ms late: 10,000 samples/s with the
//                     default batch, then full speed with maxSize 5000
//   burst             1 M samples at full speed for 50 projects
//
// Loss is reported, never fatal; a harness fault (a peer that does not
// start, a policy that is refused) fails the run. Knobs: bench/loss/knobs.ts.
import { performance } from "node:perf_hooks";
import { startCountingReceiver, type CountingReceiver } from "../test-support/counting-receiver.js";
import { startOutageProxy, type OutageProxy } from "../test-support/outage-proxy.js";
import {
  exportSamples,
  forceFlush,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../test-support/victoriametrics.js";
import { vmagentAvailability } from "../test-support/vmagent.js";
import { formatCounts } from "./loss/exposition.js";
import { describeKnobs, lossKnobs, type LossKnobs } from "./loss/knobs.js";
import {
  SEQ_METRIC,
  SequencePusher,
  projectName,
  projectRequest,
  pushAtRate,
  pushFullSpeed,
} from "./loss/pushers.js";
import { startTelex, startVmagentSystem, type LossSystem } from "./loss/systems.js";

type SystemName = "telex" | "vmagent";

interface Row {
  readonly scenario: string;
  readonly system: SystemName;
  readonly acknowledged: number;
  readonly pushed: number;
  readonly delivered: number;
  readonly lost: number;
  readonly dropped: string;
  readonly seconds: number;
  readonly note: string;
}

/** Nothing acknowledged, or a receiver that could not read a body, is the harness's fault, not a loss. */
function checkHarness(
  scenario: string,
  which: SystemName,
  acknowledged: number,
  receiver?: CountingReceiver,
): void {
  if (acknowledged === 0) throw new Error(`${scenario}/${which}: no push was acknowledged (harness fault)`);
  if (receiver !== undefined && receiver.badRequests > 0) {
    throw new Error(`${scenario}/${which}: the receiver could not decode ${receiver.badRequests} requests`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const n = (value: number): string => Math.round(value).toLocaleString("en-US");

const COLUMNS = [
  ["scenario", 20],
  ["system", 8],
  ["ack/pushed", 22],
  ["delivered", 11],
  ["lost", 10],
  ["dropped (own metrics)", 34],
  ["time", 6],
] as const;

function printHeader(): void {
  console.log(`  ${COLUMNS.map(([name, width]) => name.padEnd(width)).join(" ")}  note`);
}

function printRow(row: Row): void {
  const cells = [
    row.scenario,
    row.system,
    `${n(row.acknowledged)}/${n(row.pushed)}`,
    n(row.delivered),
    n(row.lost),
    row.dropped,
    `${row.seconds.toFixed(0)} s`,
  ];
  console.log(`  ${cells.map((cell, i) => cell.padEnd(COLUMNS[i]?.[1] ?? 0)).join(" ")}  ${row.note}`);
}

function printSkipped(scenario: string, system: SystemName, why: string): void {
  console.log(`  ${scenario.padEnd(20)} ${system.padEnd(8)} ${why}`);
}

/** Sequence numbers VictoriaMetrics holds for the numbered metric. */
async function heldValues(vm: RunningVictoriaMetrics, fromMs: number): Promise<Set<number>> {
  await forceFlush(vm);
  const rows = await exportSamples(vm, `{__name__="${SEQ_METRIC}"}`, {
    start: Math.floor(fromMs / 1000) - 120,
    end: Math.ceil(Date.now() / 1000) + 120,
  });
  const values = new Set<number>();
  for (const row of rows) for (const value of row.values) values.add(value);
  return values;
}

interface Timeline {
  readonly startAt: number;
  readonly outageAt: number;
  readonly killAt: number;
  readonly restartedAt: number;
  readonly healAt: number;
  readonly endAt: number;
}

/**
 * Pushes numbered samples through: healthy margin, outage, SIGKILL and
 * restart halfway, heal, healthy margin. The pusher is left stopped.
 */
async function runOutage(
  k: LossKnobs,
  pusher: SequencePusher,
  proxy: OutageProxy,
  system: LossSystem,
): Promise<Timeline> {
  const startAt = Date.now();
  pusher.start();
  await sleep(k.marginS * 1000);
  proxy.outage(503);
  const outageAt = Date.now();
  await sleep((k.outageS * 1000) / 2);
  const killAt = Date.now();
  await system.kill();
  await system.restart();
  const restartedAt = Date.now();
  await sleep(outageAt + k.outageS * 1000 - Date.now());
  proxy.restore();
  const healAt = Date.now();
  await sleep(k.marginS * 1000);
  await pusher.stop();
  return { startAt, outageAt, killAt, restartedAt, healAt, endAt: Date.now() };
}

/**
 * Waits for what is still on its way: until every expected value is held,
 * or the system has nothing pending and nothing new arrived for 5 s, or
 * the settle time is up. `earliestQuietMs`: no quiet exit before then (a
 * pull source has samples it has not read yet).
 */
async function settle(
  k: LossKnobs,
  system: LossSystem,
  expected: () => Promise<readonly number[]>,
  held: () => Promise<Set<number>>,
  earliestQuietMs = 0,
): Promise<Set<number>> {
  const deadline = Date.now() + k.settleS * 1000;
  let values = await held();
  let lastSize = values.size;
  let quietSince = Date.now();
  for (;;) {
    const wanted = await expected();
    if (wanted.every((v) => values.has(v))) return values;
    if (Date.now() > deadline) return values;
    if (Date.now() >= earliestQuietMs && Date.now() - quietSince > 5000 && (await system.pending()) === 0) {
      return values;
    }
    await sleep(1000);
    values = await held();
    if (values.size !== lastSize) {
      lastSize = values.size;
      quietSince = Date.now();
    }
  }
}

/** Where the lost samples were sent, relative to the outage and the kill. */
function lossBreakdown(sentAtMs: readonly number[], lost: readonly number[], t: Timeline): string {
  const phases = { before: 0, outageToKill: 0, lastSecond: 0, restartToHeal: 0, after: 0 };
  for (const seq of lost) {
    const at = sentAtMs[seq] ?? 0;
    if (at < t.outageAt) phases.before++;
    else if (at < t.killAt) {
      phases.outageToKill++;
      if (at >= t.killAt - 1000) phases.lastSecond++;
    } else if (at < t.healAt) phases.restartToHeal++;
    else phases.after++;
  }
  return `lost sent: before outage ${n(phases.before)}, outage→kill ${n(phases.outageToKill)} (last 1 s ${n(phases.lastSecond)}), restart→heal ${n(phases.restartToHeal)}, after heal ${n(phases.after)}; down ${((t.restartedAt - t.killAt) / 1000).toFixed(1)} s`;
}

const SEQ_PROJECT = "loss-seq";
const OUTAGE_RETRY = { maxAttempts: 2, backoffDuration: "1s" } as const;

async function outageKillPush(k: LossKnobs, which: SystemName): Promise<Row> {
  const started = performance.now();
  const vm = await startVictoriaMetrics();
  const proxy = await startOutageProxy({ upstream: vm.url });
  const endpoint = `${proxy.url}/api/v1/write`;
  let system: LossSystem | undefined;
  try {
    system =
      which === "telex"
        ? await startTelex({
            policies: [
              {
                project: SEQ_PROJECT,
                name: "seq",
                selector: `{__name__="${SEQ_METRIC}"}`,
                endpoint,
                retry: OUTAGE_RETRY,
              },
            ],
          })
        : await startVmagentSystem(endpoint);
    const writeUrl = system.writeUrl;
    if (writeUrl === undefined) throw new Error(`${which} has no ingest URL`);
    const pusher = new SequencePusher(writeUrl, k.seqRate, SEQ_PROJECT);
    const timeline = await runOutage(k, pusher, proxy, system);
    const acked: number[] = [];
    for (let seq = 0; seq < pusher.pushed; seq++) if (pusher.acked[seq] === 1) acked.push(seq);
    checkHarness("outage-kill-push", which, acked.length);
    const live = system;
    const held = await settle(
      k,
      live,
      () => Promise.resolve(acked),
      () => heldValues(vm, timeline.startAt),
    );
    const lost = acked.filter((seq) => !held.has(seq));
    return {
      scenario: "outage-kill-push",
      system: which,
      acknowledged: acked.length,
      pushed: pusher.pushed,
      delivered: acked.length - lost.length,
      lost: lost.length,
      dropped: formatCounts(await system.dropped()),
      seconds: (performance.now() - started) / 1000,
      note: lossBreakdown(pusher.sentAtMs, lost, timeline),
    };
  } finally {
    await system?.stop();
    await proxy.close();
    await vm.stop();
  }
}

async function outageKillPull(k: LossKnobs): Promise<Row> {
  const started = performance.now();
  const [source, destination] = await Promise.all([startVictoriaMetrics(), startVictoriaMetrics()]);
  const proxy = await startOutageProxy({ upstream: destination.url });
  let system: LossSystem | undefined;
  try {
    system = await startTelex({
      sourceUrl: source.url,
      pullIntervalS: k.pullIntervalS,
      pullLagS: k.pullLagS,
      policies: [
        {
          project: SEQ_PROJECT,
          name: "seq",
          selector: `{__name__="${SEQ_METRIC}"}`,
          endpoint: `${proxy.url}/api/v1/write`,
          retry: OUTAGE_RETRY,
        },
      ],
    });
    // The platform's store is written to, as agents would; telex reads it.
    const pusher = new SequencePusher(`${source.url}/api/v1/write`, k.seqRate, SEQ_PROJECT);
    const timeline = await runOutage(k, pusher, proxy, system);
    const inSource = async (): Promise<number[]> => [...(await heldValues(source, timeline.startAt))];
    const held = await settle(
      k,
      system,
      inSource,
      () => heldValues(destination, timeline.startAt),
      Date.now() + (k.pullLagS + 2 * k.pullIntervalS) * 1000,
    );
    const sourceValues = await inSource();
    checkHarness("outage-kill-pull", "telex", sourceValues.length);
    const lost = sourceValues.filter((seq) => !held.has(seq));
    return {
      scenario: "outage-kill-pull",
      system: "telex",
      acknowledged: sourceValues.length,
      pushed: pusher.pushed,
      delivered: sourceValues.length - lost.length,
      lost: lost.length,
      dropped: formatCounts(await system.dropped()),
      seconds: (performance.now() - started) / 1000,
      note: `ack = held by the source store; ${lossBreakdown(pusher.sentAtMs, lost, timeline)}`,
    };
  } finally {
    await system?.stop();
    await proxy.close();
    await Promise.all([source.stop(), destination.stop()]);
  }
}

interface Endpoint {
  readonly receiver: CountingReceiver;
  readonly proxy: OutageProxy;
  close(): Promise<void>;
}

async function farEndpoint(latencyMs: number): Promise<Endpoint> {
  const receiver = await startCountingReceiver();
  const proxy = await startOutageProxy({ upstream: receiver.url, latencyMs });
  return {
    receiver,
    proxy,
    close: async () => {
      await proxy.close();
      await receiver.close();
    },
  };
}

const FAR_SERIES = 1000;

/**
 * Waits until the receiver has counted `acknowledged` samples, or the
 * system has nothing pending and nothing arrived for 3 s, or the settle
 * time is up.
 */
async function drain(
  k: LossKnobs,
  system: LossSystem,
  receiver: CountingReceiver,
  acknowledged: number,
): Promise<void> {
  const deadline = Date.now() + k.settleS * 1000;
  let last = receiver.samples;
  let quietSince = Date.now();
  while (receiver.samples < acknowledged && Date.now() < deadline) {
    if (Date.now() - quietSince > 3000 && (await system.pending()) === 0) return;
    await sleep(200);
    if (receiver.samples !== last) {
      last = receiver.samples;
      quietSince = Date.now();
    }
  }
}

async function startSystem(
  which: SystemName,
  endpoint: string,
  projects: number,
  batchMaxSize?: number,
): Promise<LossSystem> {
  if (which === "vmagent") return startVmagentSystem(endpoint);
  return startTelex({
    policies: Array.from({ length: projects }, (_, p) => ({
      project: projectName(p),
      name: "all",
      selector: "{}",
      endpoint,
      ...(batchMaxSize === undefined ? {} : { batchMaxSize }),
    })),
  });
}

async function farSteady(k: LossKnobs, which: SystemName): Promise<Row> {
  const started = performance.now();
  const far = await farEndpoint(k.farLatencyMs);
  let system: LossSystem | undefined;
  try {
    system = await startSystem(which, `${far.proxy.url}/api/v1/write`, 1);
    const writeUrl = system.writeUrl ?? "";
    const bodies = Array.from({ length: 10 }, (_, i) =>
      projectRequest(1, FAR_SERIES, Date.now() - 10_000 + i),
    );
    const pushStart = Date.now();
    const tally = await pushAtRate(writeUrl, bodies, FAR_SERIES, k.farRate, k.farS);
    await sleep(pushStart + k.farDeadlineS * 1000 - Date.now());
    const delivered = far.receiver.samples;
    checkHarness("far-endpoint", which, tally.acknowledgedSamples, far.receiver);
    return {
      scenario: "far-endpoint",
      system: which,
      acknowledged: tally.acknowledgedSamples,
      pushed: tally.requests * FAR_SERIES,
      delivered,
      lost: Math.max(0, tally.acknowledgedSamples - delivered),
      dropped: formatCounts(await system.dropped()),
      seconds: (performance.now() - started) / 1000,
      note: `${k.farLatencyMs} ms endpoint, ${n(k.farRate)}/s for ${k.farS} s, default batch; delivered within ${k.farDeadlineS} s of the first push; ${far.proxy.stats.requests} requests out`,
    };
  } finally {
    await system?.stop();
    await far.close();
  }
}

async function farFullSpeed(k: LossKnobs, which: SystemName): Promise<Row> {
  const started = performance.now();
  const far = await farEndpoint(k.farLatencyMs);
  let system: LossSystem | undefined;
  try {
    system = await startSystem(which, `${far.proxy.url}/api/v1/write`, 1, 5000);
    const writeUrl = system.writeUrl ?? "";
    const bodies = Array.from({ length: 10 }, (_, i) =>
      projectRequest(1, FAR_SERIES, Date.now() - 10_000 + i),
    );
    const pushStart = performance.now();
    const tally = await pushFullSpeed(writeUrl, bodies, FAR_SERIES, k.writers, {
      untilMs: Date.now() + k.fastS * 1000,
    });
    const pushSeconds = (performance.now() - pushStart) / 1000;
    const rate = far.receiver.samples / pushSeconds;
    await drain(k, system, far.receiver, tally.acknowledgedSamples);
    const delivered = far.receiver.samples;
    checkHarness("far-endpoint-fast", which, tally.acknowledgedSamples, far.receiver);
    return {
      scenario: "far-endpoint-fast",
      system: which,
      acknowledged: tally.acknowledgedSamples,
      pushed: tally.requests * FAR_SERIES,
      delivered,
      lost: Math.max(0, tally.acknowledgedSamples - delivered),
      dropped: formatCounts(await system.dropped()),
      seconds: (performance.now() - started) / 1000,
      note: `delivered ${n(rate)} samples/s to the ${k.farLatencyMs} ms endpoint while pushing (${which === "telex" ? "batch maxSize 5000" : "vmagent defaults"}), ${k.writers} writers at full speed for ${k.fastS} s; delivered/lost after settling`,
    };
  } finally {
    await system?.stop();
    await far.close();
  }
}

const BURST_SAMPLES_PER_BODY = 1000;

async function burst(k: LossKnobs, which: SystemName): Promise<Row> {
  const started = performance.now();
  const receiver = await startCountingReceiver();
  let system: LossSystem | undefined;
  try {
    system = await startSystem(which, receiver.writeUrl, k.burstProjects);
    const perRequest = k.burstOneProjectPerRequest ? 1 : k.burstProjects;
    const seriesPerProject = Math.max(1, Math.round(BURST_SAMPLES_PER_BODY / perRequest));
    const perBody = seriesPerProject * perRequest;
    const count = Math.ceil(k.burstSamples / perBody);
    const base = Date.now() - count;
    const bodies = Array.from({ length: count }, (_, i) =>
      k.burstOneProjectPerRequest
        ? projectRequest(1, seriesPerProject, base + i, i % k.burstProjects)
        : projectRequest(k.burstProjects, seriesPerProject, base + i),
    );
    const pushStart = performance.now();
    const tally = await pushFullSpeed(system.writeUrl ?? "", bodies, perBody, k.writers, { count });
    const pushSeconds = (performance.now() - pushStart) / 1000;
    await drain(k, system, receiver, tally.acknowledgedSamples);
    checkHarness("burst", which, tally.acknowledgedSamples, receiver);
    return {
      scenario: "burst",
      system: which,
      acknowledged: tally.acknowledgedSamples,
      pushed: tally.requests * perBody,
      delivered: receiver.samples,
      lost: Math.max(0, tally.acknowledgedSamples - receiver.samples),
      dropped: formatCounts(await system.dropped()),
      seconds: (performance.now() - started) / 1000,
      note: `${k.burstProjects} projects${which === "telex" ? ", one {} policy each" : ", one -remoteWrite.url"}; pushed in ${pushSeconds.toFixed(1)} s (${n(tally.acknowledgedSamples / pushSeconds)}/s acknowledged), ${tally.failedRequests} pushes refused`,
    };
  } finally {
    await system?.stop();
    await receiver.close();
  }
}

const SCENARIOS = ["outage-kill-push", "outage-kill-pull", "far-endpoint", "burst"] as const;

export async function runLossBench(): Promise<void> {
  const k = lossKnobs();
  const named = SCENARIOS.filter(
    (s) => process.argv.includes(s) || (process.env["LOSS_SCENARIOS"] ?? "").split(",").includes(s),
  );
  const scenarios = named.length === 0 ? SCENARIOS : named;
  console.log(`\n## loss: telex vs vmagent under faults (issue 12) — ${describeKnobs(k)}`);
  if (victoriaMetricsAvailability().path === undefined) {
    console.log(
      "  VictoriaMetrics not installed (apt-get install victoria-metrics): the outage scenarios are skipped",
    );
  }
  const vmagentInstalled = vmagentAvailability().path !== undefined;
  if (!vmagentInstalled)
    console.log("  vmagent not installed (apt-get install victoria-metrics): telex only");
  const systems: SystemName[] = vmagentInstalled ? ["telex", "vmagent"] : ["telex"];
  printHeader();
  const vmInstalled = victoriaMetricsAvailability().path !== undefined;
  for (const scenario of scenarios) {
    for (const which of systems) {
      switch (scenario) {
        case "outage-kill-push":
          if (vmInstalled) printRow(await outageKillPush(k, which));
          else printSkipped(scenario, which, "VictoriaMetrics not installed");
          break;
        case "outage-kill-pull":
          if (which === "vmagent") printSkipped(scenario, which, "n/a (vmagent has no pull from a store)");
          else if (vmInstalled) printRow(await outageKillPull(k));
          else printSkipped(scenario, which, "VictoriaMetrics not installed");
          break;
        case "far-endpoint":
          printRow(await farSteady(k, which));
          printRow(await farFullSpeed(k, which));
          break;
        case "burst":
          printRow(await burst(k, which));
          break;
      }
    }
  }
}
