// A deterministic, realistic set of platform series for matcher tests and
// benchmarks: Envoy gateway traffic, Coraza WAF events, gateway, workload,
// instance and DNS zone metrics across many projects, with labels that are
// sometimes absent and values in mixed case.
import type { Label, Labels } from "../src/metricsql/ast.js";
import { METRIC_NAME_LABEL } from "../src/metricsql/ast.js";
import { encodeWriteRequest } from "../src/remotewrite/index.js";
import type { Random } from "./random.js";

export const TENANT_LABEL = "resourcemanager_datumapis_com_project_name";

export interface SeriesDataset {
  readonly projects: readonly string[];
  /** Unique series; a few have no tenant label (platform-internal). */
  readonly series: readonly Labels[];
}

const REGIONS = ["us-central1", "us-east4", "europe-west4", "asia-southeast1"];
const GATEWAY_NAMES = [
  "default-gateway",
  "api-gateway",
  "web-Frontend",
  "Public-GW",
  "edge-01",
  "internal",
  "café-gw",
];
const RESPONSE_CODES = ["200", "201", "204", "301", "404", "429", "500", "503"];
const BUCKETS = ["0.5", "1", "5", "10", "25", "100", "+Inf"];
const CORAZA_OUTCOMES = ["allowed", "blocked", "Detected"];
const CORAZA_RULES = ["942100", "949110", "920350", "913100"];
const WORKLOAD_NAMES = ["nginx", "API-Server", "worker-7", "batch_job"];
const RECORD_TYPES = ["A", "AAAA", "CNAME", "TXT"];

/** Label values are plain strings; "" means the label is absent. */
type LabelRecord = Record<string, string>;

export function generatePlatformSeries(random: Random, projectCount = 40): SeriesDataset {
  const projects = projectIds(random, projectCount);
  const series = new Map<string, Labels>();
  const add = (record: LabelRecord): void => {
    const labels = labelsFromRecord(record);
    series.set(seriesKey(labels), labels);
  };
  for (const project of projects) addProject(random, project, add);
  // Platform-internal series without a tenant label.
  for (const job of ["envoy", "coraza", "vmagent"]) {
    add({ [METRIC_NAME_LABEL]: "up", job, instance: `${job}-0:9090` });
    add({ [METRIC_NAME_LABEL]: "envoy_vhost_vcluster_upstream_rq", envoy_response_code: "200", job });
  }
  return { projects, series: [...series.values()] };
}

function projectIds(random: Random, count: number): string[] {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  // A fixed id and one that extends it: scoping must compare whole values.
  const ids = new Set(["test-rdzjb8", "test-rdzjb80"]);
  while (ids.size < count) {
    const prefix = random.chance(0.8) ? "test" : random.pick(["prod", "datum", "Staging"]);
    ids.add(`${prefix}-${random.string(alphabet, 6)}`);
  }
  return [...ids];
}

function addProject(random: Random, project: string, add: (record: LabelRecord) => void): void {
  const regions = random.sample(REGIONS, random.between(1, 2));
  const maybeRegion = (): string => (random.chance(0.8) ? random.pick(regions) : "");
  const namespace = (): string => (random.chance(0.85) ? "default" : random.pick(["", "production"]));
  const tenant = { [TENANT_LABEL]: project };

  for (const gateway of random.sample(GATEWAY_NAMES, random.between(3, 5))) {
    const ns = namespace();
    const gatewayLabels = {
      ...tenant,
      service_name: "networking.miloapis.com",
      resource_kind: "Gateway",
      resource_name: gateway,
      resource_namespace: ns,
      gateway_name: gateway,
      gateway_namespace: ns,
    };
    const region = maybeRegion();
    for (const code of random.sample(RESPONSE_CODES, random.between(2, 4))) {
      add({
        ...gatewayLabels,
        [METRIC_NAME_LABEL]: "envoy_vhost_vcluster_upstream_rq",
        envoy_response_code: code,
        label_topology_kubernetes_io_region: region,
      });
    }
    for (const le of BUCKETS) {
      add({
        ...gatewayLabels,
        [METRIC_NAME_LABEL]: "envoy_vhost_vcluster_upstream_rq_time_bucket",
        envoy_response_code: "200",
        le,
        label_topology_kubernetes_io_region: region,
      });
    }
    for (const [condition, status] of [
      ["Accepted", "True"],
      ["Programmed", random.pick(["True", "False"])],
    ] as const) {
      add({
        ...gatewayLabels,
        [METRIC_NAME_LABEL]: "datum_cloud_networking_gateway_status",
        condition,
        status,
      });
    }
    for (const protocol of random.sample(["HTTP", "HTTPS"], random.between(1, 2))) {
      add({
        ...gatewayLabels,
        [METRIC_NAME_LABEL]: "datum_cloud_networking_gateway_requests_total",
        gateway_class: "datum-external-global-proxy",
        protocol,
      });
    }
    const proxy = {
      ...tenant,
      service_name: "networking.miloapis.com",
      resource_kind: "HTTPProxy",
      resource_name: `${gateway}-proxy`,
      resource_namespace: ns,
    };
    for (const outcome of CORAZA_OUTCOMES) {
      const rules = outcome === "allowed" ? [""] : random.sample(CORAZA_RULES, random.between(1, 3));
      for (const rule of rules) {
        add({
          ...proxy,
          [METRIC_NAME_LABEL]: "coraza_envoy_filter_request_events_total",
          coraza_outcome: outcome,
          coraza_rule_id: rule,
        });
      }
    }
  }

  for (const workload of random.sample(WORKLOAD_NAMES, random.between(1, 3))) {
    const compute = {
      ...tenant,
      service_name: "compute.miloapis.com",
      resource_namespace: namespace(),
    };
    for (const state of ["Ready", "Pending"]) {
      add({
        ...compute,
        [METRIC_NAME_LABEL]: "datum_cloud_compute_workload_replicas",
        resource_kind: "Workload",
        resource_name: workload,
        state,
      });
    }
    const instances = random.between(1, 3);
    for (let instance = 0; instance < instances; instance++) {
      for (const cpu of ["0", "1"]) {
        add({
          ...compute,
          [METRIC_NAME_LABEL]: "datum_cloud_compute_instance_cpu_seconds_total",
          resource_kind: "Instance",
          resource_name: `${workload}-${instance}`,
          instance_type: random.pick(["d1-standard-2", "D1-Standard-4"]),
          label_topology_kubernetes_io_region: maybeRegion(),
          cpu,
        });
      }
    }
  }

  if (random.chance(0.7)) {
    const zone = `${random.pick(["example", "Corp", "shop"])}-${random.between(1, 99)}.com`;
    for (const recordType of random.sample(RECORD_TYPES, random.between(2, 4))) {
      add({
        ...tenant,
        [METRIC_NAME_LABEL]: "datum_cloud_networking_dnszone_records",
        service_name: "dns.networking.miloapis.com",
        resource_kind: "DNSZone",
        resource_name: zone,
        resource_namespace: namespace(),
        record_type: recordType,
      });
    }
  }
}

/** Sorted by name, without empty values (an empty label is an absent one). */
export function labelsFromRecord(record: Readonly<Record<string, string>>): Labels {
  const labels: Label[] = [];
  for (const [name, value] of Object.entries(record)) if (value !== "") labels.push({ name, value });
  return labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A canonical, unique text key for a series. */
export function seriesKey(labels: Labels): string {
  return JSON.stringify(labels.map((label) => [label.name, label.value]));
}

/** Every label name with its distinct values, in first-seen order. */
export function labelVocabulary(series: readonly Labels[]): Map<string, string[]> {
  const values = new Map<string, Set<string>>();
  for (const labels of series) {
    for (const { name, value } of labels) {
      let set = values.get(name);
      if (set === undefined) values.set(name, (set = new Set()));
      set.add(value);
    }
  }
  return new Map([...values].map(([name, set]) => [name, [...set]]));
}

/** A Remote Write body (uncompressed) of `count` samples of one series `up` of the project, from now on. */
export function upSamplesRequest(project: string, count: number): Uint8Array {
  return encodeWriteRequest([
    {
      labels: [
        { name: "__name__", value: "up" },
        { name: TENANT_LABEL, value: project },
      ],
      samples: Array.from({ length: count }, (_, i) => ({ value: i, timestampMs: Date.now() + i })),
    },
  ]);
}
