// The README's "Attaching the tenant label", run: its Prometheus
// write_relabel_configs and its vmagent flags, read from the README itself,
// in real agents sending to a Telex ingest. Two projects have a policy each
// (my-project, the snippets' value, and other); what each project's sink
// receives shows which series carried which tenant label.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { startCountingReceiver, type CountingReceiver } from "../../../test-support/counting-receiver.js";
import { eventually } from "../../../test-support/eventually.js";
import { TENANT_LABEL } from "../../../test-support/platform-series.js";
import { policyPlan } from "../../../test-support/policies.js";
import { prometheusAvailability, startPrometheus } from "../../../test-support/prometheus.js";
import { pushSeries } from "../../../test-support/remote-write-client.js";
import { startVmagent, vmagentAvailability } from "../../../test-support/vmagent.js";
import { Exporter } from "../exporter.js";
import { startIngestServer, type IngestServer } from "./server.js";

const README = new URL("../../../../README.md", import.meta.url);
const PROJECT = "my-project";

/** The README section, and the fenced blocks of a language in it. */
function snippets(language: string): string[] {
  const text = readFileSync(README, "utf8");
  const start = text.indexOf("### Attaching the tenant label");
  assert.ok(start >= 0, "the README section");
  const end = text.indexOf("\n## ", start);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map(
    (m) => m[1] ?? "",
  );
}

/** The README's write_relabel_configs for the remote_write to Telex. */
function prometheusRelabelConfigs(): unknown[] {
  const [block] = snippets("yaml");
  const config = parse(block ?? "") as { remote_write: { url: string; write_relabel_configs: unknown[] }[] };
  const [remote] = config.remote_write;
  assert.ok(remote !== undefined && remote.url.endsWith("/api/v1/write"), "a remote_write to Telex's ingest");
  return remote.write_relabel_configs;
}

/** The README's vmagent flags that attach the label (not its URL or token). */
function vmagentLabelFlags(): string[] {
  const [block] = snippets("console");
  const flags = (block ?? "").split(/\s+/).filter((word) => word.startsWith("-remoteWrite.label="));
  assert.deepEqual(flags, [`-remoteWrite.label=${TENANT_LABEL}=${PROJECT}`]);
  return flags;
}

/** A scrape target: one series without the tenant label, one of project other. */
async function startTarget(): Promise<{ address: string; server: Server }> {
  const server = createServer((_request, response) => {
    response
      .writeHead(200, { "Content-Type": "text/plain; version=0.0.4" })
      .end(`untenanted_total 1\nother_total{${TENANT_LABEL}="other"} 1\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    address: `127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`,
    server,
  };
}

const skip = prometheusAvailability().skip ?? vmagentAvailability().skip;

describe("the README's ways of attaching the tenant label, in real agents", { skip }, () => {
  let dir = "";
  let exporter: Exporter;
  let ingest: IngestServer;
  const receivers: Record<string, CountingReceiver> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-tenant-label-"));
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    for (const project of [PROJECT, "other"]) {
      const receiver = await startCountingReceiver();
      receivers[project] = receiver;
      exporter.apply(
        policyPlan(project, {
          name: "all",
          sources: { all: "{}" },
          sinks: [{ name: "r", endpoint: receiver.writeUrl, sources: ["all"], batch: { timeout: "100ms" } }],
        }),
      );
    }
    ingest = await startIngestServer({ host: "127.0.0.1", port: 0, processor: exporter.ingest });
  });

  after(async () => {
    await ingest.close();
    await exporter.close();
    await Promise.all(Object.values(receivers).map((r) => r.close()));
    await rm(dir, { recursive: true, force: true });
  });

  /** Samples each project's sink received since `before`. */
  const received = (before: Readonly<Record<string, number>>) => ({
    mine: (receivers[PROJECT]?.samples ?? 0) - (before[PROJECT] ?? 0),
    other: (receivers["other"]?.samples ?? 0) - (before["other"] ?? 0),
  });
  const snapshot = () => ({
    [PROJECT]: receivers[PROJECT]?.samples ?? 0,
    other: receivers["other"]?.samples ?? 0,
  });

  it("Prometheus: write_relabel_configs adds the label where it is missing and keeps one a series has", async () => {
    const target = await startTarget();
    const start = snapshot();
    const prometheus = await startPrometheus({
      config: stringify({
        global: { scrape_interval: "1s" },
        scrape_configs: [{ job_name: "platform", static_configs: [{ targets: [target.address] }] }],
        remote_write: [
          {
            url: `${ingest.url}/api/v1/write`,
            queue_config: { batch_send_deadline: "500ms", min_backoff: "100ms" },
            write_relabel_configs: prometheusRelabelConfigs(),
          },
        ],
      }),
    });
    try {
      await eventually(
        () => received(start).mine > 0 && received(start).other > 0,
        "samples in both projects' sinks",
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      assert.equal(exporter.ingest.stats.samplesWithoutTenant, 0, "every series had a tenant label");
    } finally {
      await prometheus.stop();
      target.server.close();
    }
  });

  const pushThroughVmagent = async (args: readonly string[]) => {
    const vmagent = await startVmagent({
      remoteWriteUrls: [`${ingest.url}/api/v1/write`],
      args: [...args, "-remoteWrite.flushInterval=100ms"],
    });
    const base = exporter.ingest.stats.samplesReceived;
    try {
      const at = Date.now();
      const pushed = await pushSeries(vmagent.writeUrl, [
        {
          labels: [{ name: "__name__", value: "untenanted_total" }],
          samples: [{ value: 1, timestampMs: at }],
        },
        {
          labels: [
            { name: "__name__", value: "other_total" },
            { name: TENANT_LABEL, value: "other" },
          ],
          samples: [{ value: 1, timestampMs: at }],
        },
      ]);
      assert.equal(pushed.status, 204, pushed.body);
      await eventually(
        () => exporter.ingest.stats.samplesReceived >= base + 2,
        "vmagent forwarding both samples",
        {
          timeoutMs: 20_000,
          intervalMs: 100,
        },
      );
    } finally {
      await vmagent.stop();
    }
  };

  it("vmagent: -remoteWrite.label sets the label on every series, replacing a project's", async () => {
    const received0 = exporter.ingest.stats.samplesReceived;
    const start = snapshot();
    await pushThroughVmagent(vmagentLabelFlags());
    await eventually(() => received(start).mine >= 2, "both samples in my-project's sink");
    assert.equal(received(start).other, 0);
    assert.equal(exporter.ingest.stats.samplesReceived - received0, 2);
    assert.equal(exporter.ingest.stats.samplesWithoutTenant, 0);
  });

  it("vmagent: the Prometheus rule in -remoteWrite.urlRelabelConfig adds it only where it is missing", async () => {
    const file = join(dir, "telex-relabel.yml");
    await writeFile(file, stringify(prometheusRelabelConfigs()));
    const start = snapshot();
    await pushThroughVmagent([`-remoteWrite.urlRelabelConfig=${file}`]);
    await eventually(
      () => received(start).mine >= 1 && received(start).other >= 1,
      "one sample in each project's sink",
    );
    assert.deepEqual(received(start), { mine: 1, other: 1 });
    assert.equal(exporter.ingest.stats.samplesWithoutTenant, 0);
  });
});
