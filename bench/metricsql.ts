// Series matching throughput: matches per second on one core, over realistic
// platform series of about 10 labels, for each kind of selector.
import { compileSelector } from "../src/metricsql/matcher.js";
import { parse } from "../src/metricsql/parser.js";
import { scope } from "../src/metricsql/scope.js";
import { TENANT_LABEL, generatePlatformSeries } from "../test-support/platform-series.js";
import { Random } from "../test-support/random.js";
import { measure, printResults } from "./harness.js";
import type { BenchResult } from "./harness.js";

const SELECTORS: readonly (readonly [name: string, text: string])[] = [
  ["exact", 'envoy_vhost_vcluster_upstream_rq{envoy_response_code="503", resource_namespace="default"}'],
  ["regex, fast paths", '{__name__=~"datum_cloud_.*", resource_kind=~"Gateway|HTTPProxy"}'],
  ["regex, RE2 engine", '{__name__=~"datum_cloud_[a-z_]+", resource_kind=~"Gateway|HTTP[P]roxy"}'],
  ["regex, (?i)", '{resource_kind=~"(?i)gateway", resource_name=~"(?i)(api|web)-.*"}'],
  [
    "negative",
    'envoy_vhost_vcluster_upstream_rq{envoy_response_code!~"2..", resource_namespace!="kube-system", le!~".+"}',
  ],
  [
    "or (3 groups)",
    '{envoy_response_code="503" or service_name=~"compute\\\\..*" or resource_kind="DNSZone"}',
  ],
];

export function runMetricsqlBench(): void {
  const dataset = generatePlatformSeries(new Random(1));
  const series = dataset.series;
  const averageLabels = series.reduce((sum, labels) => sum + labels.length, 0) / series.length;
  const project = dataset.projects[0] ?? "test-rdzjb8";
  const results: BenchResult[] = [];
  for (const [name, text] of SELECTORS) {
    const selector = parse(text);
    for (const scoped of [false, true]) {
      const matcher = compileSelector(
        scoped ? scope(selector, { tenantLabel: TENANT_LABEL, project }) : selector,
      );
      let selected = 0;
      for (const labels of series) if (matcher.matches(labels)) selected++;
      const result = measure(
        `${name}${scoped ? ", scoped" : ""}`,
        () => {
          let hits = 0;
          for (const labels of series) if (matcher.matches(labels)) hits++;
          return hits;
        },
        { unitsPerCall: series.length, unit: "matches/s", durationMs: 700 },
      );
      results.push({ ...result, note: `${((selected / series.length) * 100).toFixed(1)}% selected` });
    }
  }
  printResults(
    `metricsql: compiled series matcher (${series.length} series, ${averageLabels.toFixed(1)} labels on average, one core)`,
    results,
  );
}
