// Runs one `telex` command as a child process (`node bin/telex.js …`), the
// way a user's shell would: its own process, stdin, exit status. For
// end-to-end tests; test-support/cli.ts runs commands in-process instead.
import { spawn, type ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killOnExit } from "./peers.js";
import { TELEX_BIN } from "./telex-serve.js";

export interface TelexResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TelexRunOptions {
  /** Written to the command's stdin, which is then closed (default: nothing). */
  readonly stdin?: string;
  /** Killed (SIGKILL) and reported as a failure after this long (default 30 s). */
  readonly timeoutMs?: number;
}

/**
 * No developer's config file (~/.config/telex/config.yaml) may change what
 * a test's commands do: they read this path, which does not exist.
 */
export const NO_TELEX_CONFIG = join(tmpdir(), "telex-test-no-config.yaml");

export async function runTelex(args: readonly string[], options: TelexRunOptions = {}): Promise<TelexResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, [TELEX_BIN, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, TELEX_CONFIG: NO_TELEX_CONFIG },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  child.stdin.end(options.stdin ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (exitCode) => {
        resolve(exitCode);
      });
    });
    if (code === null) {
      throw new Error(
        `telex ${args.join(" ")} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
      );
    }
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** runTelex, failing with the command's output unless it exits 0. */
export async function telexOk(args: readonly string[], options: TelexRunOptions = {}): Promise<string> {
  const result = await runTelex(args, options);
  if (result.code !== 0) {
    throw new Error(
      `telex ${args.join(" ")} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return result.stdout;
}

/** Starts a `telex` command that runs until killed, such as `get -w`; killed at the latest when the test process exits. */
export function spawnTelex(args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [TELEX_BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TELEX_CONFIG: NO_TELEX_CONFIG },
  });
  const unregister = killOnExit(child);
  child.once("exit", unregister);
  return child;
}
