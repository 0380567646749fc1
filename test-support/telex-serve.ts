// Runs `telex serve` as a child process (for tests that must kill it or drive
// it through the CLI), reads the addresses it prints and stops it by PID.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { captureOutput, hasExited, killOnExit, stopProcess } from "./peers.js";

/** bin/telex.js of this checkout (test support runs from dist/test-support). */
export const TELEX_BIN = fileURLToPath(new URL("../../bin/telex.js", import.meta.url));

/** The API it serves, or with --join, --kubeconfig or --in-cluster the API it follows. */
const LISTENING =
  /^(?:api: listening on|controller: watching exportpolicies of (?:project \S+|every project) at) (https?:\/\/\S+)$/m;
const INGEST = /^ingest: listening on (http:\/\/\S+)\/api\/v1\/write$/m;
const METRICS = /^metrics: (http:\/\/\S+)\/metrics$/m;
/** serve prints its next steps after every address line. */
const ADDRESSES_DONE = /^Next:$/m;

export interface TelexServe {
  readonly child: ChildProcess;
  /** http://127.0.0.1:PORT: the embedded API, or with --join or --kubeconfig the server it follows. */
  readonly url: string;
  /**
   * The ingest listener, http://127.0.0.1:PORT: agents POST to `${ingestUrl}/api/v1/write`,
   * and `${ingestUrl}/metrics` is the server's exposition. Undefined in pull mode and with --api-only.
   */
  readonly ingestUrl: string | undefined;
  /** Where `${metricsUrl}/metrics` is served: the ingest listener, or in pull mode a listener of its own. */
  readonly metricsUrl: string | undefined;
  /** Everything the process printed so far (last 8 KiB). */
  output(): string;
  /** SIGTERM and wait (graceful stop). */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash at an arbitrary moment. */
  kill(): Promise<void>;
}

export interface TelexServeOptions {
  /** Options for node itself, before the script, e.g. --max-old-space-size=256. */
  readonly nodeArgs?: readonly string[];
}

export async function startTelexServe(
  args: readonly string[],
  timeoutMs = 15_000,
  options: TelexServeOptions = {},
): Promise<TelexServe> {
  // Tests run side by side: the ingest endpoint gets a free port too unless the test picks one
  // (or there is none: --api-only runs no ingest and refuses the flag).
  const ingest =
    args.includes("--ingest-listen") || args.includes("--api-only") ? [] : ["--ingest-listen", "127.0.0.1:0"];
  // Pull mode's /metrics listener defaults to a fixed port: side by side, each takes a free one.
  if (args.includes("--source-url") && !args.includes("--metrics-listen") && !args.includes("--api-only"))
    ingest.push("--metrics-listen", "127.0.0.1:0");
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), TELEX_BIN, "serve", ...ingest, ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const unregister = killOnExit(child);
  const output = captureOutput(child);
  const { url, ingestUrl, metricsUrl } = await new Promise<{
    url: string;
    ingestUrl: string | undefined;
    metricsUrl: string | undefined;
  }>((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => {
      reject(new Error(`telex serve printed no address within ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      stdout += chunk.toString("utf8");
      const api = LISTENING.exec(stdout)?.[1];
      if (api === undefined || !ADDRESSES_DONE.test(stdout)) return;
      clearTimeout(timer);
      child.stdout.off("data", onData);
      resolve({ url: api, ingestUrl: INGEST.exec(stdout)?.[1], metricsUrl: METRICS.exec(stdout)?.[1] });
    };
    child.stdout.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`telex serve exited (${String(code ?? signal)}) before listening:\n${output()}`));
    });
  });
  const waitExit = async (): Promise<void> => {
    if (hasExited(child)) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => {
        resolve();
      });
    });
  };
  return {
    child,
    url,
    ingestUrl,
    metricsUrl,
    output,
    stop: async () => {
      await stopProcess(child);
      unregister();
    },
    kill: async () => {
      if (!hasExited(child)) child.kill("SIGKILL");
      await waitExit();
      unregister();
    },
  };
}
