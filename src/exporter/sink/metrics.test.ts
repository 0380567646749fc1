import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { ExpositionWriter } from "../../metrics/exposition.js";
import { peerAvailability } from "../../../test-support/peers.js";
import { writeSinkMetrics } from "./metrics.js";
import { SinkStats } from "./stats.js";

function sampleStats(): SinkStats {
  const stats = new SinkStats();
  stats.samplesReceived = 1000;
  stats.recordSuccess(1_700_000_000_000, 900, 12_345, 0.03);
  stats.recordFailure(1_700_000_001_000, "ServerError", "HTTP 503", 0.2);
  stats.dropped.expired = 60;
  stats.dropped.buffer_full = 10;
  return stats;
}

function render(): string {
  const writer = new ExpositionWriter();
  const labels = { project: "test-rdzjb8", policy: 'gw "edge"\\metrics', sink: "grafana" };
  const gauges = {
    bufferedBytes: 960,
    shardCount: 2,
    desiredShardCount: 3,
    isDown: false,
    lagSeconds: () => 12.5,
  };
  writeSinkMetrics(writer, [
    { labels, sink: { stats: sampleStats(), buffered: 30, ...gauges } },
    {
      labels: { ...labels, sink: "backup" },
      sink: {
        stats: new SinkStats(),
        buffered: 0,
        ...gauges,
        bufferedBytes: 0,
        lagSeconds: () => 0,
      },
    },
  ]);
  return writer.render();
}

const promtool = peerAvailability("promtool", "apt-get install prometheus");

describe("sink metrics", () => {
  it("renders counters, gauges and the latency histogram with escaped labels", () => {
    const text = render();
    const labels = 'project="test-rdzjb8",policy="gw \\"edge\\"\\\\metrics",sink="grafana"';
    assert.match(text, new RegExp(`^telex_sink_samples_received_total\\{${escapeRe(labels)}\\} 1000$`, "m"));
    assert.match(
      text,
      new RegExp(`^telex_sink_samples_dropped_total\\{${escapeRe(labels)},reason="buffer_full"\\} 10$`, "m"),
    );
    assert.match(text, new RegExp(`^telex_sink_buffered_samples\\{${escapeRe(labels)}\\} 30$`, "m"));
    assert.match(
      text,
      new RegExp(`^telex_sink_requests_total\\{${escapeRe(labels)},outcome="server_error"\\} 1$`, "m"),
    );
    assert.match(
      text,
      new RegExp(`^telex_sink_request_duration_seconds_bucket\\{${escapeRe(labels)},le="0.05"\\} 1$`, "m"),
    );
    assert.match(
      text,
      new RegExp(`^telex_sink_request_duration_seconds_bucket\\{${escapeRe(labels)},le="\\+Inf"\\} 2$`, "m"),
    );
    assert.equal(
      text.match(/^# TYPE telex_sink_samples_sent_total counter$/gm)?.length,
      1,
      "one header per family",
    );
  });

  it("balances: received = sent + dropped + buffered", () => {
    const text = render();
    const value = (re: RegExp) => [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
    const sink = 'sink="grafana"';
    const received = value(new RegExp(`^telex_sink_samples_received_total\\{.*${sink}\\} (\\S+)$`, "gm"));
    const sent = value(new RegExp(`^telex_sink_samples_sent_total\\{.*${sink}\\} (\\S+)$`, "gm"));
    const dropped = value(
      new RegExp(`^telex_sink_samples_dropped_total\\{.*${sink},reason="\\w+"\\} (\\S+)$`, "gm"),
    );
    const pending = value(new RegExp(`^telex_sink_buffered_samples\\{.*${sink}\\} (\\S+)$`, "gm"));
    assert.equal(received, 1000);
    assert.equal(sent + dropped + pending, received);
  });

  it("passes promtool's exposition checks", { skip: promtool.skip }, () => {
    const result = spawnSync(promtool.requirePath(), ["check", "metrics"], {
      input: render(),
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });
});

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
