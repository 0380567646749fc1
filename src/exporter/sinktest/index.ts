// `telex test-sink`'s work on the server: one harmless request to a sink's
// endpoint, phase by phase (see probe.ts).
export { SINK_TEST_TIMEOUTS, testSink, type SinkTestOptions, type SinkTestTimeouts } from "./probe.js";
export { REMOTE_WRITE_PATHS } from "./fixes.js";
export type { SinkTestPhase, SinkTestPhaseName, SinkTestReport, SinkTestResult } from "./report.js";
