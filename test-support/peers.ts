// Shared bits for tests that run a real peer program (a database, a receiver)
// on 127.0.0.1: finding its binary, picking a port, waiting for it to be
// ready, and stopping it by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";

export interface PeerAvailability {
  readonly binary: string;
  /** Absolute path of the binary, when installed. */
  readonly path: string | undefined;
  /**
   * For node:test's `skip` option: a reason when the binary is missing and
   * this is not CI, otherwise undefined (so in CI the test runs and fails).
   */
  readonly skip: string | undefined;
  /** The binary's path; throws a clear error when it is missing. */
  requirePath(): string;
}

/**
 * Whether a peer binary is on PATH. A missing peer skips its tests on a
 * developer machine but fails them under CI=true: CI must never pass by not
 * testing.
 */
export function peerAvailability(
  binary: string,
  installHint: string,
  env: NodeJS.ProcessEnv = process.env,
): PeerAvailability {
  const path = findOnPath(binary, env["PATH"] ?? "");
  const inCI = env["CI"] === "true";
  const missing = `${binary} is not installed (${installHint})`;
  return {
    binary,
    path,
    skip: path === undefined && !inCI ? `${missing}; under CI=true this fails instead` : undefined,
    requirePath() {
      if (path === undefined) {
        throw new Error(inCI ? `${missing}, and CI=true requires every peer test to run` : missing);
      }
      return path;
    },
  };
}

function findOnPath(binary: string, pathVariable: string): string | undefined {
  for (const dir of pathVariable.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory; keep looking.
    }
  }
  return undefined;
}

/** A port that was free a moment ago on 127.0.0.1 (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        if (port === 0) reject(new Error("could not read the port of a listening socket"));
        else resolve(port);
      });
    });
  });
}

/** Keeps the last `limit` characters a child printed, for error messages. */
export function captureOutput(child: ChildProcess, limit = 8192): () => string {
  let tail = "";
  const append = (chunk: Buffer): void => {
    tail = (tail + chunk.toString("utf8")).slice(-limit);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  return () => tail;
}

/** A child's stdout as it grows; waitFor resolves once the whole output so far satisfies a predicate. */
export function outputOf(child: ChildProcess): {
  waitFor(predicate: (stdout: string) => boolean, timeoutMs?: number): Promise<string>;
} {
  let stdout = "";
  const waiters = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    for (const wake of [...waiters]) wake();
  });
  return {
    waitFor: (predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(stdout)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(stdout);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for output; got:\n${stdout}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

export interface WaitForHttpOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** Stops waiting early, e.g. when the child exited: return a reason to give up. */
  readonly giveUp?: () => string | undefined;
}

/** Polls url until it answers 2xx. */
export async function waitForHttp(url: string, options: WaitForHttpOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let lastError = "no attempt";
  while (Date.now() < deadline) {
    const reason = options.giveUp?.();
    if (reason !== undefined) throw new Error(reason);
    try {
      const response = await fetch(url, { headers: options.headers, signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
    } catch (error: unknown) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(50);
  }
  throw new Error(`${url} not ready after ${options.timeoutMs ?? 20_000} ms: ${lastError}`);
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM by PID, then SIGKILL if it has not exited within graceMs. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  child.kill("SIGTERM");
  const escalation = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(escalation);
}

/** SIGKILL by PID and wait for the exit. */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  child.kill("SIGKILL");
  await exited;
}

/**
 * SIGKILLs the child if this process exits without stopping it (a crashed
 * test run must not leave a server behind). Returns the un-registration.
 */
export function killOnExit(child: ChildProcess): () => void {
  const kill = (): void => {
    if (!hasExited(child)) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  return () => process.removeListener("exit", kill);
}

export function basicAuthHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

async function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface PeerProcessSpec {
  readonly binary: string;
  readonly args: readonly string[];
  /** Polled until it answers 2xx. */
  readonly readyUrl: string;
  readonly readyHeaders?: Readonly<Record<string, string>>;
  /** Runs after the process has exited on stop(), e.g. to remove its data dir. */
  readonly cleanup?: () => Promise<void>;
}

export interface PeerProcess {
  readonly pid: number;
  /** Idempotent: SIGTERM, SIGKILL after 10 s, then cleanup. */
  stop(): Promise<void>;
  /** SIGKILL and wait, then cleanup: a crash at an arbitrary moment (state it was given survives). */
  kill(): Promise<void>;
}

/** Spawns a peer, waits until readyUrl answers, and gives a stop() that always cleans up. */
export async function launchPeer(spec: PeerProcessSpec): Promise<PeerProcess> {
  const { binary } = spec;
  const child = spawn(binary, [...spec.args], { stdio: ["ignore", "pipe", "pipe"] });
  const unregister = killOnExit(child);
  const output = captureOutput(child);
  let spawnError: Error | undefined;
  child.once("error", (error) => (spawnError = error));

  let stopped: Promise<void> | undefined;
  const end = async (signal: "SIGTERM" | "SIGKILL"): Promise<void> => {
    stopped ??= (async () => {
      // SIGKILL alone: a SIGTERM first would let the peer flush what a crash loses.
      if (signal === "SIGKILL") await killProcess(child);
      else await stopProcess(child);
      unregister();
      await spec.cleanup?.();
    })();
    return stopped;
  };
  const stop = (): Promise<void> => end("SIGTERM");

  try {
    await waitForHttp(spec.readyUrl, {
      ...(spec.readyHeaders ? { headers: spec.readyHeaders } : {}),
      giveUp: () => {
        if (spawnError !== undefined) return `cannot run ${binary}: ${spawnError.message}`;
        if (hasExited(child)) return `${binary} exited (${child.exitCode ?? child.signalCode}):\n${output()}`;
        return undefined;
      },
    });
  } catch (error: unknown) {
    await stop();
    throw error;
  }
  return { pid: child.pid ?? 0, stop, kill: () => end("SIGKILL") };
}

/** Runs start(port) on a free port, retrying with another port when one was taken in between. */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await start(await freePort());
    } catch (error: unknown) {
      lastError = error;
    }
  }
  throw lastError;
}
