// Demo mode: synthetic platform metrics, as a cloud platform's gateways and
// proxies would report them, fed into the exporter every few seconds so a
// new user sees samples reach their own endpoint within a minute.
import { encodeWriteRequest, type TimeSeriesInput } from "../remotewrite/index.js";
import type { Clock, TimerHandle } from "../util/index.js";

/** The projects the demo reports for; policies in these projects get data. */
export const DEMO_PROJECTS = ["my-project", "test-rdzjb8", "prod-x7k2p9"] as const;
export const DEMO_INTERVAL_MS = 5000;

const GATEWAYS = ["api-gateway", "web-frontend", "edge-01"];
const CODES = ["200", "204", "404", "503"];
const REGIONS = ["us-east-2", "europe-west4"];

export interface DemoTarget {
  /** Applies one uncompressed WriteRequest, as the ingest endpoint would. */
  apply(request: Uint8Array): void;
}

/** The series of one demo tick; counters grow with `tick`. */
export function demoSeries(tenantLabel: string, tick: number, timestampMs: number): TimeSeriesInput[] {
  const series: TimeSeriesInput[] = [];
  const add = (name: string, labels: Record<string, string>, value: number) => {
    series.push({
      labels: [
        { name: "__name__", value: name },
        ...Object.entries(labels).map(([n, v]) => ({ name: n, value: v })),
      ],
      samples: [{ value, timestampMs }],
    });
  };
  DEMO_PROJECTS.forEach((project, p) => {
    GATEWAYS.forEach((gateway, g) => {
      const base = {
        [tenantLabel]: project,
        service_name: "networking.miloapis.com",
        resource_kind: "Gateway",
        resource_name: gateway,
        resource_namespace: "default",
        gateway_name: gateway,
        gateway_namespace: "default",
        label_topology_kubernetes_io_region: REGIONS[g % REGIONS.length] ?? "us-east-2",
      };
      CODES.forEach((code, c) => {
        const rate = (p + 1) * (g + 1) * (code === "200" ? 40 : 3 - (c % 3));
        add("envoy_vhost_vcluster_upstream_rq", { ...base, envoy_response_code: code }, rate * tick);
      });
      add(
        "coraza_envoy_filter_request_events_total",
        { ...base, resource_kind: "HTTPProxy", coraza_outcome: "blocked", coraza_rule_id: "942100" },
        tick * (g + 1),
      );
      add("datum_cloud_networking_gateway_requests_total", base, tick * 100 * (p + 1));
    });
  });
  return series;
}

/** Feeds the target every interval until stopped. */
export function startDemo(target: DemoTarget, tenantLabel: string, clock: Clock): { stop(): void } {
  let tick = 0;
  let timer: TimerHandle | undefined;
  const step = () => {
    tick++;
    target.apply(encodeWriteRequest(demoSeries(tenantLabel, tick, clock.now())));
    timer = clock.setTimer(DEMO_INTERVAL_MS, step);
  };
  step();
  return {
    stop: () => {
      timer?.cancel();
    },
  };
}
