// Samples whose series lack the tenant label belong to no project and are
// ignored; telex_ingest_samples_without_tenant_total counts them. This warns
// in the log too, at most once a minute, naming one such series and the
// label expected, so that whoever runs the agent can see what to relabel.
// Cheap on the hot path: once an example is held, a series costs one check.
import { decodeLabelBytes } from "../../remotewrite/index.js";
import { escapeLabelValue } from "../../metrics/exposition.js";
import type { Clock, Logger } from "../../util/index.js";

export const UNTENANTED_WARNING = {
  /** At most one warning this often. */
  intervalMs: 60_000,
  /** The example series is cut to this many characters. */
  maxSeriesChars: 256,
} as const;

export interface UntenantedWarningOptions {
  readonly tenantLabel: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Samples ignored for want of the tenant label so far (the ingest counter). */
  readonly ignoredSamples: () => number;
  readonly intervalMs?: number;
}

export class UntenantedWarnings {
  private example: Uint8Array | undefined;
  private lastWarningMs = -Infinity;
  private ignoredAtLastWarning = 0;

  constructor(private readonly options: UntenantedWarningOptions) {}

  /**
   * A series without the tenant label, bytes[start, end) its encoded labels
   * (in a buffer the caller reuses): kept as the next warning's example
   * unless one is held already.
   */
  noteSeries(bytes: Uint8Array, start: number, end: number): void {
    if (this.example !== undefined) return;
    this.example = bytes.slice(start, end);
    const intervalMs = this.options.intervalMs ?? UNTENANTED_WARNING.intervalMs;
    const wait = Math.max(0, this.lastWarningMs + intervalMs - this.options.clock.now());
    // Even when due now, a timer: the request's samples are counted once it has been applied.
    this.options.clock.setTimer(wait, () => {
      this.warn();
    });
  }

  private warn(): void {
    const example = this.example;
    this.example = undefined;
    const ignored = this.options.ignoredSamples();
    const samples = ignored - this.ignoredAtLastWarning;
    // The series' request was refused as a whole: nothing was ignored, nothing to say.
    if (example === undefined || samples <= 0) return;
    this.ignoredAtLastWarning = ignored;
    this.lastWarningMs = this.options.clock.now();
    this.options.logger.warn(
      "ignored samples of series without the tenant label: agents must add it (see the README, Attaching the tenant label)",
      {
        tenantLabel: this.options.tenantLabel,
        samples,
        example: formatSeries(example, UNTENANTED_WARNING.maxSeriesChars),
      },
    );
  }
}

/** `name{a="b",c="d"}` as PromQL prints a series, cut to maxChars with a trailing "…". */
export function formatSeries(labelBytes: Uint8Array, maxChars: number): string {
  let name = "";
  const pairs: string[] = [];
  for (const { name: label, value } of decodeLabelBytes(labelBytes)) {
    if (label === "__name__") name = value;
    else pairs.push(`${label}="${escapeLabelValue(value)}"`);
  }
  const text = `${name}{${pairs.join(",")}}`;
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}
