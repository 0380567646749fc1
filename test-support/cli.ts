// Runs CLI commands in-process with captured streams, for tests.
import { Readable } from "node:stream";
import { main } from "../src/cli/main.js";

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(argv: readonly string[], stdinText = ""): Promise<CommandResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from([Buffer.from(stdinText)]),
  });
  return { code, stdout, stderr };
}
