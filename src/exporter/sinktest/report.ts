// What a sink test found, phase by phase: the shape the API serves (the
// ExportPolicy `sinktest` subresource, src/apiserver/sink-test.ts) and
// `telex test-sink` prints, one line per phase.

export type SinkTestPhaseName = "DNS" | "TCP" | "TLS" | "HTTP";

/**
 * Succeeded, Failed; Forbidden: the egress policy refused the address, so
 * nothing was connected to; Skipped: not needed (an IP literal needs no
 * lookup, http:// no TLS) or not reached after an earlier phase failed.
 */
export type SinkTestResult = "Succeeded" | "Failed" | "Forbidden" | "Skipped";

export interface SinkTestPhase {
  readonly name: SinkTestPhaseName;
  readonly result: SinkTestResult;
  /** How long the phase took; absent when it did not run. */
  readonly durationMs?: number;
  /** What happened, on one line: addresses, the TLS version and certificate, the HTTP status and body. */
  readonly message: string;
  /** A machine-readable cause: ENOTFOUND, ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, HTTP401, … */
  readonly reason?: string;
  /** What to change, for the failures people commonly meet. */
  readonly fix?: string;
}

export interface SinkTestReport {
  /** The endpoint answered the request with a 2xx. */
  readonly accepted: boolean;
  readonly phases: readonly SinkTestPhase[];
}
