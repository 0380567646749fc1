// The size of V8's young generation, which `telex serve` wants fixed at its
// largest. V8 sizes it between a small start and 16 MiB by what it measures,
// and a relaying process can settle in a state where it runs a full
// mark-compact every 50–100 ms: in `npm run bench -- ingest` (one policy),
// runs without the flag took either 0.7 or 1.1–1.2 CPU-s per million
// samples, about half of them the slow way, and every run with it took
// 0.7–0.8. Peak RSS grows by about 8 MiB. The flag must be given to node
// itself (V8 reads it once, when the heap is set up, and NODE_OPTIONS does
// not take it), so `npm start`, the image's entrypoint and the benchmarks
// pass it; a process started without it says so once.
export const YOUNG_GENERATION_FLAG = "--min-semi-space-size=16";

/** What to tell the operator of a process started without the flag; undefined when it has it. */
export function youngGenerationHint(execArgv: readonly string[] = process.execArgv): string | undefined {
  if (execArgv.some((argument) => argument.startsWith("--min-semi-space-size"))) return undefined;
  return `node was started without ${YOUNG_GENERATION_FLAG}: ingest may cost up to 1.6× the CPU (start telex as node ${YOUNG_GENERATION_FLAG} bin/telex.js serve, as npm start and the image do)`;
}
