// The ingest benchmark's data: platform series of 100 projects and the
// selectors of the policies that export them.
import { encodeWriteRequest, snappyCompress } from "../src/remotewrite/index.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";

/** Ten policy selectors of the kinds customers write; policy i of a project uses selector i. */
export const BENCH_SELECTORS = [
  '{service_name="networking.miloapis.com", resource_kind="Gateway"}',
  '{resource_kind=~"Gateway|HTTPProxy"}',
  'envoy_vhost_vcluster_upstream_rq{envoy_response_code=~"5.."}',
  '{__name__=~"coraza_.*", coraza_outcome!="allowed"}',
  '{service_name="compute.miloapis.com"}',
  'envoy_vhost_vcluster_upstream_rq_time_bucket{le=~"1|5|10"}',
  '{resource_name=~"gw-1.*"}',
  '{__name__=~"datum_cloud_networking_gateway_.+"}',
  '{resource_kind="Gateway" or resource_kind="DNSZone"}',
  '{label_topology_kubernetes_io_region="us-east-2", envoy_response_code!~"2.."}',
] as const;

/** The one policy of the single-policy runs, and vmagent's equivalent keep filter. */
export const SINGLE_POLICY = {
  project: "project-3",
  selector: '{service_name="networking.miloapis.com", resource_kind="Gateway"}',
  relabel: [
    "- action: keep",
    `  source_labels: [${TENANT_LABEL}, service_name, resource_kind]`,
    '  regex: "project-3;networking\\\\.miloapis\\\\.com;Gateway"',
    "",
  ].join("\n"),
} as const;

const METRICS = [
  { name: "envoy_vhost_vcluster_upstream_rq", kind: "Gateway", service: "networking.miloapis.com" },
  {
    name: "envoy_vhost_vcluster_upstream_rq_time_bucket",
    kind: "HTTPProxy",
    service: "networking.miloapis.com",
  },
  { name: "coraza_envoy_filter_request_events_total", kind: "HTTPProxy", service: "networking.miloapis.com" },
  {
    name: "datum_cloud_networking_gateway_requests_total",
    kind: "Gateway",
    service: "networking.miloapis.com",
  },
  {
    name: "datum_cloud_compute_instance_cpu_seconds_total",
    kind: "Instance",
    service: "compute.miloapis.com",
  },
] as const;

/** `seriesPerProject` series in each of `projects` projects, about ten labels each. */
export function benchSeries(projects: number, seriesPerProject: number): { name: string; value: string }[][] {
  const all: { name: string; value: string }[][] = [];
  for (let p = 0; p < projects; p++) {
    for (let s = 0; s < seriesPerProject; s++) {
      const metric = METRICS[s % METRICS.length] ?? METRICS[0];
      all.push([
        { name: "__name__", value: metric.name },
        { name: TENANT_LABEL, value: `project-${p}` },
        { name: "service_name", value: metric.service },
        { name: "resource_kind", value: metric.kind },
        { name: "resource_name", value: `gw-${s % 40}` },
        { name: "resource_namespace", value: "default" },
        { name: "envoy_response_code", value: ["200", "204", "404", "503"][s % 4] ?? "200" },
        { name: "le", value: ["1", "5", "10", "+Inf"][s % 4] ?? "1" },
        { name: "coraza_outcome", value: s % 3 === 0 ? "blocked" : "allowed" },
        { name: "label_topology_kubernetes_io_region", value: s % 2 === 0 ? "us-east-2" : "europe-west4" },
        { name: "instance", value: `10.0.${p % 250}.${s % 250}:9090` },
      ]);
    }
  }
  return all;
}

/**
 * Compressed Remote Write requests of `perRequest` series × 1 sample, one set per timestamp
 * (`baseMs`, then 15 s apart). By default an hour old: where a controller reads the sinks'
 * lag (telex serve) that is a backlog, so a run that writes status passes fresh ones.
 */
export function benchRequests(
  series: readonly { name: string; value: string }[][],
  perRequest: number,
  rounds: number,
  baseMs = Date.now() - 3_600_000,
): Buffer[] {
  const bodies: Buffer[] = [];
  const base = baseMs;
  for (let round = 0; round < rounds; round++) {
    for (let start = 0; start < series.length; start += perRequest) {
      const chunk = series.slice(start, start + perRequest).map((labels, i) => ({
        labels,
        samples: [{ value: round * 1000 + i, timestampMs: base + round * 15_000 }],
      }));
      bodies.push(snappyCompress(encodeWriteRequest(chunk)));
    }
  }
  return bodies;
}
