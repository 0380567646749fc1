// `npm run bench -- cli`: how long the CLI's verbs take against a local
// `telex serve --api-only`, wall clock from spawn to exit, beside `node -e 0`
// (the floor any Node CLI pays) and kubectl doing the same (issue 15: every
// read verb under 200 ms). Each command runs CLI_RUNS times (default 15);
// the median and the 90th percentile are printed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { stringify } from "yaml";
import { kubectlPeer } from "../test-support/kubectl.js";
import { policyManifest } from "../test-support/policies.js";
import { TELEX_BIN, startTelexServe } from "../test-support/telex-serve.js";

const RUNS = Number(process.env["CLI_RUNS"] ?? 15);
const PROJECT = "bench-cli";

function timeRuns(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { median: number; p90: number; failed: number } {
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const result = spawnSync(command, args, { encoding: "utf8", env });
    times.push(performance.now() - started);
    if (result.status !== 0) failed++;
  }
  times.sort((a, b) => a - b);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN;
  return { median: at(0.5), p90: at(0.9), failed };
}

export async function runCliBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "telex-bench-cli-"));
  const server = await startTelexServe(["--api-only", "--data-dir", join(dir, "data")]);
  try {
    const manifest = join(dir, "policy.yaml");
    writeFileSync(
      manifest,
      stringify(
        policyManifest({
          name: "gateway",
          sources: { gateway: '{service_name="networking.miloapis.com"}' },
          sinks: [
            {
              name: "prometheus",
              endpoint: "https://metrics.example.com/api/v1/write",
              sources: ["gateway"],
            },
          ],
        }),
      ),
    );
    const telex = (...args: string[]): [string, string[]] => [
      process.execPath,
      [TELEX_BIN, ...args, "--server", server.url, "--project", PROJECT],
    ];
    const applied = spawnSync(...telex("apply", "-f", manifest), { encoding: "utf8" });
    if (applied.status !== 0) throw new Error(`telex apply failed: ${applied.stderr}`);
    const controlPlane = `${server.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${PROJECT}/control-plane`;
    const rows: [string, string, string[]][] = [
      ["node -e 0", process.execPath, ["-e", "0"]],
      ["telex get exportpolicies", ...telex("get", "exportpolicies")],
      ["telex get ep gateway -o yaml", ...telex("get", "ep", "gateway", "-o", "yaml")],
      ["telex describe exportpolicy gateway", ...telex("describe", "exportpolicy", "gateway")],
      ["telex explain exportpolicies.spec", process.execPath, [TELEX_BIN, "explain", "exportpolicies.spec"]],
      ["telex apply -f policy.yaml (unchanged)", ...telex("apply", "-f", manifest)],
    ];
    if (kubectlPeer.path !== undefined) {
      // Its discovery cache (in HOME) is warm after the first run, as on a user's machine.
      rows.push([
        "kubectl get exportpolicies",
        kubectlPeer.path,
        ["--server", controlPlane, "get", "exportpolicies"],
      ]);
    }
    // A HOME of its own: no user config file or kubeconfig is read.
    const env = { ...process.env, HOME: dir };
    console.log(
      `\n## cli: wall time of one command against telex serve --api-only on 127.0.0.1 (${RUNS} runs)`,
    );
    for (const [label, command, args] of rows) {
      const { median, p90, failed } = timeRuns(command, args, env);
      console.log(
        `  ${label.padEnd(42)} median ${median.toFixed(0).padStart(4)} ms, p90 ${p90.toFixed(0).padStart(4)} ms${failed > 0 ? ` (${failed} failed)` : ""}`,
      );
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
