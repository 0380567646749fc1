// Runs the real kubectl against a Telex control plane: a throwaway HOME with
// its own kubeconfig (and discovery cache) per instance, so tests never
// touch the developer's configuration nor share caches.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killOnExit, peerAvailability, type PeerAvailability } from "./peers.js";

export const kubectlPeer: PeerAvailability = peerAvailability(
  "kubectl",
  "apt-get install kubernetes-client, or any kubectl ≥ 1.27 on PATH",
);

export interface KubectlOptions {
  /** The project's control-plane URL (ApiServer.projectUrl). */
  readonly server: string;
  readonly token?: string;
  readonly namespace?: string;
  /** The server's self-signed certificate (PEM), trusted as the cluster's CA. */
  readonly caPem?: string;
}

export interface KubectlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class Kubectl {
  private constructor(
    readonly home: string,
    private readonly binary: string,
  ) {}

  static async create(options: KubectlOptions): Promise<Kubectl> {
    const home = await mkdtemp(join(tmpdir(), "telex-kubectl-"));
    const user = options.token === undefined ? "{}" : `{token: ${JSON.stringify(options.token)}}`;
    await writeFile(
      join(home, "kubeconfig"),
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: telex",
        `  cluster: {server: ${JSON.stringify(options.server)}${
          options.caPem === undefined
            ? ""
            : `, certificate-authority-data: ${Buffer.from(options.caPem).toString("base64")}`
        }}`,
        "contexts:",
        "- name: telex",
        `  context: {cluster: telex, user: user, namespace: ${options.namespace ?? "default"}}`,
        "current-context: telex",
        "users:",
        "- name: user",
        `  user: ${user}`,
        "",
      ].join("\n"),
    );
    return new Kubectl(home, kubectlPeer.requirePath());
  }

  /** Starts kubectl; for long-running commands such as `get -w` or a waiting `delete`. */
  spawn(args: readonly string[]): ChildProcess {
    const child = spawn(this.binary, [...args], {
      env: { PATH: process.env["PATH"] ?? "", HOME: this.home, KUBECONFIG: join(this.home, "kubeconfig") },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const unregister = killOnExit(child);
    child.once("exit", unregister);
    return child;
  }

  /** Runs kubectl to completion (stdin optional) and returns its exit code and output. */
  async run(args: readonly string[], stdin?: string, timeoutMs = 20_000): Promise<KubectlResult> {
    const child = this.spawn(args);
    return collect(child, stdin, timeoutMs);
  }

  /** Like run, but fails with kubectl's stderr when it exits non-zero. */
  async ok(args: readonly string[], stdin?: string): Promise<string> {
    const result = await this.run(args, stdin);
    if (result.code !== 0) {
      throw new Error(
        `kubectl ${args.join(" ")} exited ${String(result.code)}:\n${result.stderr}${result.stdout}`,
      );
    }
    return result.stdout;
  }

  async cleanup(): Promise<void> {
    await rm(this.home, { recursive: true, force: true });
  }
}

export async function collect(
  child: ChildProcess,
  stdin: string | undefined,
  timeoutMs: number,
): Promise<KubectlResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  child.stdin?.end(stdin ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode) => {
      resolve(exitCode);
    });
  });
  clearTimeout(timer);
  return { code, stdout, stderr };
}
