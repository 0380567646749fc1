// `telex serve --demo` end to end, as a newcomer runs it: the server as its
// own process, then every next step it prints run as printed, in a shell —
// start VictoriaMetrics, preview the policy, apply it, query — until the
// demo's metrics of my-project (and only those) come back from the real
// receiver. The one thing the test chooses is the receiver's port
// (--demo-receiver): tests never take fixed ports.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { eventuallyValue } from "../../test-support/eventually.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { freePort, killOnExit, stopProcess, waitForHttp } from "../../test-support/peers.js";
import { NO_TELEX_CONFIG } from "../../test-support/telex-cli.js";
import { startTelexServe, type TelexServe } from "../../test-support/telex-serve.js";
import { victoriaMetricsAvailability } from "../../test-support/victoriametrics.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/** The printed steps: each command line, with a here-document's lines up to its EOF. */
function printedCommands(output: string): string[] {
  const next = output.indexOf("\nNext:\n");
  assert.ok(next >= 0, `no next steps in:\n${output}`);
  const lines = output.slice(next + "\nNext:\n".length).split("\n");
  const commands: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    // Prose is indented; a log line (on stderr, interleaved) starts with a timestamp.
    if (line === "" || line.startsWith(" ") || /^\d{4}-\d\d-\d\dT/.test(line)) continue;
    if (!line.endsWith("<<'EOF'")) {
      commands.push(line);
      if (line.startsWith("curl ")) break;
      continue;
    }
    const block = [line];
    while (i + 1 < lines.length && lines[i + 1] !== "EOF") block.push(lines[++i] ?? "");
    block.push(lines[++i] ?? "");
    commands.push(block.join("\n"));
  }
  return commands;
}

interface Shell {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function shell(command: string): Promise<Shell> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", command], {
      cwd: REPO,
      env: { ...process.env, TELEX_CONFIG: NO_TELEX_CONFIG },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("exit", (code) => {
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

describe(
  "telex serve --demo, following its printed next steps",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let dataDir: string;
    let serve: TelexServe;
    let receiverPort: number;
    let receiver: ChildProcess | undefined;
    let unregister = (): void => undefined;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), "telex-demo-"));
      receiverPort = await freePort();
      serve = await startTelexServe([
        "--demo",
        "--api-listen",
        "127.0.0.1:0",
        "--data-dir",
        dataDir,
        "--demo-receiver",
        `http://127.0.0.1:${receiverPort}`,
      ]);
    });

    after(async () => {
      if (receiver !== undefined) await stopProcess(receiver);
      unregister();
      await serve.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it("prints a receiver, a preview, a policy and a query; run as printed, the data comes back", async () => {
      const [start, preview, apply, query, ...rest] = printedCommands(serve.output());
      assert.equal(rest.length, 0);
      assert.match(
        start ?? "",
        new RegExp(`^victoria-metrics -httpListenAddr=127\\.0\\.0\\.1:${receiverPort} `),
      );
      assert.match(
        preview ?? "",
        /^npx telex preview --server http:\/\/127\.0\.0\.1:\d+ --project my-project -f - <<'EOF'\n/,
      );
      assert.match(apply ?? "", /^npx telex apply /);
      assert.match(query ?? "", /^curl -s /);

      // 1. The receiver, as printed (exec: the shell's PID is VictoriaMetrics', to stop it by).
      receiver = spawn("bash", ["-c", `exec ${start ?? ""}`], { cwd: REPO, stdio: "ignore" });
      unregister = killOnExit(receiver);
      await waitForHttp(`http://127.0.0.1:${receiverPort}/health`, { timeoutMs: 30_000 });

      // 2. The preview shows my-project's 12 request series (3 gateways × 4 codes) once the demo has fed them.
      const previewed = await eventuallyValue(
        () => shell(preview ?? ""),
        (result) =>
          result.code === 0 && result.stdout.includes("SOURCE gateway-requests: 12 series match now"),
        "the preview of my-project's 12 gateway request series",
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
      assert.match(previewed.stdout, /^victoriametrics +gateway-requests +12 +[\d.]+$/m);
      assert.doesNotMatch(previewed.stdout, /test-rdzjb8|prod-x7k2p9/);
      const applied = await shell(apply ?? "");
      assert.equal(applied.code, 0, applied.stderr);
      assert.equal(applied.stdout, "exportpolicy.telemetry.miloapis.com/demo-to-victoriametrics created\n");

      // 3. The query, as printed, until every gateway of my-project has a rate.
      const answered = await eventuallyValue(
        async () => {
          const result = await shell(query ?? "");
          return JSON.parse(result.stdout || "{}") as {
            data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
          };
        },
        (answer) => (answer.data?.result ?? []).length === 3,
        "a request rate per demo gateway in VictoriaMetrics",
        { timeoutMs: 90_000, intervalMs: 1000 },
      );
      const rows = answered.data?.result ?? [];
      assert.deepEqual(rows.map((r) => r.metric["gateway_name"]).sort(), [
        "api-gateway",
        "edge-01",
        "web-frontend",
      ]);
      for (const row of rows) assert.ok(Number(row.value[1]) > 0, JSON.stringify(row));

      // Only my-project's series were sent: the receiver holds no other project.
      const projects = await fetch(
        `http://127.0.0.1:${receiverPort}/api/v1/label/${TENANT_LABEL}/values`,
      ).then((r) => r.json() as Promise<{ data: string[] }>);
      assert.deepEqual(projects.data, ["my-project"]);
    });
  },
);
