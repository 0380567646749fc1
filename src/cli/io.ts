// The streams a command talks through; injected so commands run in-process in tests.
import type { Readable } from "node:stream";

export interface TextSink {
  write(text: string): unknown;
}

export interface CommandIO {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly stdin: Readable;
}

/** Exit codes shared by every command. */
export const EXIT = {
  ok: 0,
  /** The command ran and found a problem (invalid manifest, failed request). */
  failure: 1,
  /** The command line itself is wrong. */
  usage: 2,
} as const;

export class UsageError extends Error {
  override readonly name = "UsageError";
}
