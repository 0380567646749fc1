// Test and benchmark helper: deterministic, realistic label sets shaped like
// the platform's series (Envoy gateway traffic, WAF, workload metrics across
// projects), about 330 bytes of encoded labels each, every one distinct.
import { Random } from "../random.js";
import type { Label } from "../../src/remotewrite/labels.js";

const METRICS = [
  "envoy_vhost_vcluster_upstream_rq",
  "envoy_cluster_upstream_rq_time_bucket",
  "coraza_waf_requests_total",
  "gateway_info",
  "workload_cpu_seconds_total",
  "dns_zone_queries_total",
];
const GATEWAYS = ["default-gateway", "api-gateway", "web-Frontend", "Public-GW", "edge-01", "café-gw"];
const RESPONSE_CODES = ["200", "201", "204", "301", "404", "429", "500", "503"];
const REGIONS = ["us-central1", "us-east4", "europe-west4", "asia-southeast1"];
const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789";

/** count distinct label sets (unsorted: encodeLabels sorts). */
export function generateLabelSets(seed: number, count: number): Label[][] {
  const random = new Random(seed);
  const projects = Array.from({ length: 24 }, () => `test-${random.string(ALPHANUMERIC, 6)}`);
  const sets: Label[][] = [];
  for (let i = 0; i < count; i++) {
    const gateway = random.pick(GATEWAYS);
    sets.push([
      { name: "__name__", value: random.pick(METRICS) },
      { name: "resourcemanager_datumapis_com_project_name", value: random.pick(projects) },
      { name: "service_name", value: "networking.miloapis.com" },
      { name: "resource_kind", value: "Gateway" },
      { name: "resource_name", value: gateway },
      { name: "resource_namespace", value: random.chance(0.85) ? "default" : "production" },
      { name: "gateway_name", value: gateway },
      { name: "envoy_response_code", value: random.pick(RESPONSE_CODES) },
      { name: "label_topology_kubernetes_io_region", value: random.pick(REGIONS) },
      // Unique per series, like a pod name.
      { name: "pod", value: `envoy-${random.string(ALPHANUMERIC, 10)}-${i.toString(36)}` },
    ]);
  }
  return sets;
}
