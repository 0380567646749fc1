// A Logger for tests that records every line (src/util/log.ts has the rest).
import { streamLogger, type Logger } from "../src/util/index.js";

/** Records every event; for tests. */
export function memoryLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const logger = streamLogger((line) => lines.push(line.trimEnd()));
  return Object.assign(logger, { lines });
}
