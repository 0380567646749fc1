// The sizes of V8's heap that `telex serve` wants, given to node itself (V8
// reads them once, when the heap is set up, and NODE_OPTIONS does not take
// them): `npm start`, the image's entrypoint and the benchmarks pass them; a
// process started without them says so once.
//
// --min-semi-space-size=16: the young generation fixed at its largest. V8
// sizes it between a small start and 16 MiB by what it measures, and a
// relaying process could settle in a state where it runs a full mark-compact
// every 50–100 ms: in `npm run bench -- ingest` (one policy), runs without the
// flag took either 0.7 or 1.1–1.2 CPU-s per million samples, about half of
// them the slow way, and every run with it took 0.7–0.8. Peak RSS grows by
// about 8 MiB.
//
// --initial-old-space-size=64: the old generation may grow to 64 MiB before
// V8 marks it. A relaying process holds ~22 MiB live and promotes ~20 MiB/s
// of request-scoped objects (those alive across a durable write); V8's limit,
// derived from the live size, then started a mark-compact every ~100 ms ("GC
// in old space requested" in --trace-gc). Measured (1 policy, disk buffer,
// 3 M samples, four runs each): 0–18 mark-compacts and 1.11–1.21 CPU-s per
// million without it, 1 and 0.89–1.13 with it; peak RSS +4–8 MiB. It costs an
// idle process that holds little: ~40 MiB more RSS at rest with no policy
// (garbage V8 lets wait), nothing measurable at 10,000 policies, whose live
// heap is far above 64 MiB.
export const HEAP_FLAGS = ["--min-semi-space-size=16", "--initial-old-space-size=64"] as const;

/** What to tell the operator of a process started without the flags; undefined when it has them (any sizes). */
export function heapFlagsHint(execArgv: readonly string[] = process.execArgv): string | undefined {
  const missing = HEAP_FLAGS.filter((flag) => {
    const name = flag.slice(0, flag.indexOf("="));
    return !execArgv.some((argument) => argument.startsWith(name));
  });
  if (missing.length === 0) return undefined;
  return `node was started without ${missing.join(" ")}: ingest may cost up to 1.6× the CPU (start telex as node ${HEAP_FLAGS.join(" ")} bin/telex.js serve, as npm start and the image do)`;
}
