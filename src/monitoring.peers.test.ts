// deploy/prometheus (rules, their unit tests, the PrometheusRule) and
// deploy/grafana (the dashboard), checked with the real tools against real
// replicas: `promtool check rules` and `promtool test rules`; every metric,
// label and label value the rules and the dashboard name is one that
// running `telex serve` processes expose on /metrics (an all-in-one server
// in push mode, a push-mode and a pull-mode replica of a fleet), so a
// renamed metric fails here; and a real Prometheus scraping those replicas,
// with the rules loaded, evaluates every rule and every dashboard query
// without an error.
import { policyManifest } from "../test-support/policies.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import {
  PROMETHEUS_RULES_PATH,
  PROMETHEUS_RULE_PATH,
  prometheusRuleYaml,
} from "../scripts/prometheus-rule.js";
import { startCountingReceiver, type CountingReceiver } from "../test-support/counting-receiver.js";
import { eventually } from "../test-support/eventually.js";
import { startFakeExportServer, type FakeExportServer } from "../test-support/fake-export-server.js";
import { peerAvailability } from "../test-support/peers.js";
import { TENANT_LABEL } from "../test-support/platform-series.js";
import {
  prometheusAvailability,
  startPrometheus,
  type RunningPrometheus,
} from "../test-support/prometheus.js";
import { pushSeries } from "../test-support/remote-write-client.js";
import { apiRequest } from "../test-support/telex-api.js";
import { startTelexServe, type TelexServe } from "../test-support/telex-serve.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const RULES_TEST_PATH = "deploy/prometheus/telex-rules.test.yaml";
const DASHBOARD_PATH = "deploy/grafana/telex-dashboard.json";

const promtool = peerAvailability("promtool", "apt-get install prometheus");

// ---------------------------------------------------------------- the files

interface Rule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}
interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}
interface RulesTest {
  readonly alert_rule_test?: readonly {
    readonly alertname: string;
    readonly exp_alerts?: readonly unknown[];
  }[];
}

interface Datasource {
  readonly type?: string;
  readonly uid?: string;
}
interface Target {
  readonly refId: string;
  readonly expr?: string;
  readonly datasource?: Datasource;
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: Datasource;
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { readonly query: string };
  readonly datasource?: Datasource;
  readonly allValue?: string;
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

const read = (path: string): string => readFileSync(join(REPO, path), "utf8");
const rulesText = read(PROMETHEUS_RULES_PATH);
const groups = (parse(rulesText) as { groups: RuleGroup[] }).groups;
const rules = groups.flatMap((group) => group.rules);
const alerts = rules.filter((rule) => rule.alert !== undefined);
const recorded = new Set(rules.flatMap((rule) => (rule.record === undefined ? [] : [rule.record])));
const dashboard = JSON.parse(read(DASHBOARD_PATH)) as Dashboard;
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const dashboardExprs = panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({
    where: `${panel.title} ${target.refId}`,
    expr: target.expr ?? "",
  })),
);
const variableQuery = (variable: Variable): string =>
  typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "");
const queryVariables = dashboard.templating.list.filter((variable) => variable.type === "query");

/** A dashboard query as Prometheus would get it, with every selection "All". */
function substitute(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$job", "telex")
    .replace(/\$(project|policy|sink)\b/g, ".*");
}

// ---------------------------------------------------------------- PromQL names

interface Matcher {
  readonly label: string;
  readonly op: "=" | "!=" | "=~" | "!~";
  readonly value: string;
}
interface SelectorUse {
  readonly metric: string;
  readonly matchers: readonly Matcher[];
}
interface PromqlNames {
  readonly selectors: readonly SelectorUse[];
  /** Labels of by, without, on and ignoring clauses. */
  readonly grouping: readonly string[];
}

const AGGREGATIONS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
]);
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan", ...GROUPING]);

/**
 * The metrics (with their matchers) and grouping labels of a PromQL
 * expression: enough of a lexer for the rules and the dashboard, whose
 * queries Prometheus itself parses below.
 */
function promqlNames(expr: string): PromqlNames {
  const selectors: SelectorUse[] = [];
  const grouping: string[] = [];
  let i = 0;
  const skipString = (): void => {
    const quote = expr[i];
    for (i++; i < expr.length && expr[i] !== quote; i++) if (expr[i] === "\\") i++;
    i++;
  };
  const closing = (open: number, close: string): number => {
    for (i = open + 1; i < expr.length && expr[i] !== close;) {
      if (expr[i] === '"' || expr[i] === "'" || expr[i] === "`") skipString();
      else i++;
    }
    return i;
  };
  while (i < expr.length) {
    const rest = expr.slice(i);
    const c = rest[0] ?? "";
    if (c === '"' || c === "'" || c === "`") {
      skipString();
      continue;
    }
    if (c === "[") {
      i = closing(i, "]") + 1;
      continue;
    }
    // A duration (offset 1m, 1h30m) or a number.
    const number = /^(?:\d+(?:ms|[smhdwy]))+|^(?:\d*\.)?\d+(?:e[+-]?\d+)?/i.exec(rest);
    if (number !== null) {
      i += number[0].length;
      continue;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest)?.[0];
    if (name === undefined) {
      i++;
      continue;
    }
    i += name.length;
    let next = i;
    while (/\s/.test(expr[next] ?? "")) next++;
    if (GROUPING.has(name) && expr[next] === "(") {
      const end = expr.indexOf(")", next);
      grouping.push(
        ...expr
          .slice(next + 1, end)
          .split(",")
          .map((label) => label.trim())
          .filter((label) => label !== ""),
      );
      i = end + 1;
      continue;
    }
    // A function's or aggregation's name, or an operator.
    if (expr[next] === "(" || AGGREGATIONS.has(name) || KEYWORDS.has(name.toLowerCase())) continue;
    const matchers: Matcher[] = [];
    if (expr[next] === "{") {
      const end = closing(next, "}");
      const body = expr.slice(next + 1, end);
      for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
        matchers.push({ label: m[1] ?? "", op: (m[2] ?? "=") as Matcher["op"], value: m[3] ?? "" });
      }
      i = end + 1;
    }
    selectors.push({ metric: name, matchers });
  }
  return { selectors, grouping };
}

/** `label_values(selector, label)`: the selector's names, and the label it lists. */
function labelValuesNames(query: string): { readonly names: PromqlNames; readonly label: string } {
  const match = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(query.trim());
  assert.ok(match, `not a label_values(selector, label) query: ${query}`);
  return { names: promqlNames(match[1] ?? ""), label: match[2] ?? "" };
}

/** Every expression of the rules and the dashboard, with where it is. */
const allExprs = [
  ...rules.map((rule) => ({ where: `rule ${rule.alert ?? rule.record ?? ""}`, expr: rule.expr })),
  ...dashboardExprs.map(({ where, expr }) => ({ where: `panel ${where}`, expr })),
];

describe("the PromQL name scanner of this test", () => {
  it("finds metrics with their matchers and the grouping labels, not functions, keywords or durations", () => {
    const names = promqlNames(
      'topk(20, sum by (project, le) (rate(telex_x_bucket{a="1", b=~"x|y", c!="$v"}[5m] offset 1m))) / on (project) group_left ' +
        "max(telex_y) > 0.5e3 and ignoring(z) time() - a:b:c unless bool telex_z",
    );
    assert.deepEqual(
      names.selectors.map((s) => s.metric),
      ["telex_x_bucket", "telex_y", "a:b:c", "telex_z"],
    );
    assert.deepEqual(names.selectors[0]?.matchers, [
      { label: "a", op: "=", value: "1" },
      { label: "b", op: "=~", value: "x|y" },
      { label: "c", op: "!=", value: "$v" },
    ]);
    assert.deepEqual(names.grouping, ["project", "le", "project", "z"]);
    const values = labelValuesNames('label_values(telex_a{job=~"$job"}, project)');
    assert.equal(values.label, "project");
    assert.deepEqual(
      values.names.selectors.map((s) => s.metric),
      ["telex_a"],
    );
  });
});

// ---------------------------------------------------------------- static checks

describe("deploy/prometheus/telex-rules.yaml", () => {
  it("gives every alert a severity, a summary, a description and a runbook hint", () => {
    assert.ok(alerts.length >= 15, `${alerts.length} alerts`);
    for (const alert of alerts) {
      const name = alert.alert ?? "";
      assert.match(name, /^Telex[A-Z][A-Za-z]+$/, name);
      assert.ok(["warning", "critical"].includes(alert.labels?.["severity"] ?? ""), `${name}: severity`);
      for (const annotation of ["summary", "description", "runbook"]) {
        assert.ok((alert.annotations?.[annotation] ?? "").length > 20, `${name}: ${annotation}`);
      }
    }
  });

  it("has the alerts of issue 14", () => {
    const names = new Set(alerts.map((alert) => alert.alert));
    for (const name of [
      "TelexDown",
      "TelexReplicaNotReady",
      "TelexSinkDown",
      "TelexSamplesDropped",
      "TelexBacklogGrowing",
      "TelexSinkLagHigh",
      "TelexControllerErrors",
      "TelexControllerQueueStuck",
      "TelexIngestRejecting",
      "TelexFleetForwardFailures",
      "TelexBufferWriteErrors",
    ]) {
      assert.ok(names.has(name), name);
    }
  });

  it("has unit tests that see each alert fire and each stay silent", () => {
    const tests = (parse(read(RULES_TEST_PATH)) as { tests: RulesTest[] }).tests;
    const cases = tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const name of new Set(alerts.map((alert) => alert.alert ?? ""))) {
      const mine = cases.filter((c) => c.alertname === name);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name}: no test where it fires`,
      );
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name}: no test where it stays silent`,
      );
    }
  });

  it(`is what ${PROMETHEUS_RULE_PATH} holds as a PrometheusRule (run \`npm run gen\` after editing the rules)`, () => {
    const committed = read(PROMETHEUS_RULE_PATH);
    assert.equal(committed, prometheusRuleYaml(rulesText));
    const object = parse(committed) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      spec: { groups: unknown };
    };
    assert.equal(object.apiVersion, "monitoring.coreos.com/v1");
    assert.equal(object.kind, "PrometheusRule");
    assert.equal(object.metadata.name, "telex");
    assert.deepEqual(object.spec.groups, groups);
  });
});

describe("deploy/prometheus with promtool", { skip: promtool.skip }, () => {
  const run = (...args: string[]) =>
    spawnSync(promtool.requirePath(), args, { cwd: join(REPO, "deploy/prometheus"), encoding: "utf8" });

  it("passes promtool check rules", () => {
    const result = run("check", "rules", "telex-rules.yaml");
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it("passes its unit tests: promtool test rules telex-rules.test.yaml", () => {
    const result = run("test", "rules", "telex-rules.test.yaml");
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /SUCCESS/);
  });
});

describe("deploy/grafana/telex-dashboard.json", () => {
  it("is a Grafana dashboard whose every panel and query reads the ${datasource} variable", () => {
    assert.equal(dashboard.uid, "telex");
    assert.ok(dashboard.schemaVersion >= 39, `schemaVersion ${dashboard.schemaVersion}`);
    const datasource = dashboard.templating.list.find((variable) => variable.name === "datasource");
    assert.equal(datasource?.type, "datasource");
    assert.equal(datasource.query, "prometheus");
    const ids = new Set<number>();
    for (const panel of panels) {
      assert.ok(!ids.has(panel.id), `panel id ${panel.id} twice`);
      ids.add(panel.id);
      const { x, w } = panel.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24, `${panel.title}: gridPos ${JSON.stringify(panel.gridPos)}`);
      if (panel.type === "row") continue;
      assert.deepEqual(panel.datasource, { type: "prometheus", uid: "${datasource}" }, panel.title);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title}: no query`);
      for (const target of panel.targets ?? []) {
        assert.deepEqual(target.datasource, { type: "prometheus", uid: "${datasource}" }, panel.title);
        assert.ok((target.expr ?? "").trim() !== "", `${panel.title} ${target.refId}: no expr`);
      }
    }
    for (const variable of queryVariables) {
      assert.deepEqual(variable.datasource, { type: "prometheus", uid: "${datasource}" }, variable.name);
    }
  });

  it("selects by job, project, policy and sink, chained, and fleet-wide as All", () => {
    const byName = new Map(queryVariables.map((variable) => [variable.name, variable]));
    for (const [name, query] of [
      ["job", "label_values(telex_build_info, job)"],
      ["project", 'label_values(telex_sink_samples_sent_total{job=~"$job"}, project)'],
      ["policy", 'label_values(telex_sink_samples_sent_total{job=~"$job", project=~"$project"}, policy)'],
      [
        "sink",
        'label_values(telex_sink_samples_sent_total{job=~"$job", project=~"$project", policy=~"$policy"}, sink)',
      ],
    ] as const) {
      const variable = byName.get(name);
      assert.ok(variable, name);
      assert.equal(variableQuery(variable), query, name);
    }
    // "All" of job lists the jobs found (`.*` would match every target's `up`); the others match anything.
    assert.equal(byName.get("job")?.allValue, undefined);
    for (const name of ["project", "policy", "sink"]) assert.equal(byName.get(name)?.allValue, ".*", name);
  });

  it("has the rows of issue 14", () => {
    const rows = dashboard.panels.filter((panel) => panel.type === "row").map((panel) => panel.title);
    for (const row of [
      "Fleet overview",
      "Delivery",
      "Backlog and lag",
      "Latency",
      "Controller",
      "Durable buffer",
    ]) {
      assert.ok(rows.includes(row), row);
    }
  });

  it("reads only recording rules that telex-rules.yaml defines", () => {
    for (const { where, expr } of dashboardExprs) {
      for (const { metric } of promqlNames(expr).selectors) {
        if (metric.includes(":"))
          assert.ok(recorded.has(metric), `${where}: ${metric} is recorded by no rule`);
      }
    }
  });
});

// ---------------------------------------------------------------- against running replicas

interface Family {
  readonly type: string;
  /** Label name → the values seen. */
  readonly labels: Map<string, Set<string>>;
}

/** Adds an exposition's families, with the label values of their samples, to `families`. */
function addExposition(families: Map<string, Family>, text: string): void {
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      const [, name = "", kind = ""] = type;
      if (!families.has(name)) families.set(name, { type: kind, labels: new Map() });
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    assert.ok(sample, `not a sample line: ${line}`);
    const family = familyOf(families, sample[1] ?? "");
    assert.ok(family, `a sample without a # TYPE: ${line}`);
    for (const [, label = "", value = ""] of (sample[2] ?? "").matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g,
    )) {
      let values = family.labels.get(label);
      if (values === undefined) {
        values = new Set();
        family.labels.set(label, values);
      }
      values.add(value);
    }
  }
}

/** The family a series name belongs to: itself, or a histogram's for its _bucket, _sum and _count. */
function familyOf(families: ReadonlyMap<string, Family>, name: string): Family | undefined {
  const own = families.get(name);
  if (own !== undefined) return own;
  const base = /^(.*)_(?:bucket|sum|count)$/.exec(name)?.[1];
  const histogram = base === undefined ? undefined : families.get(base);
  return histogram?.type === "histogram" ? histogram : undefined;
}

/** Labels the scrape adds (or rules and kube-state-metrics own), not Telex's exposition. */
const TARGET_LABELS = new Set(["job", "instance"]);
/** Series of other exporters: Prometheus' own `up`, kube-state-metrics'. */
const EXTERNAL_METRICS = new Set(["up", "kube_pod_status_ready"]);

const PROJECT = "p1";
const POLICIES = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
const projectUrl = (server: TelexServe): string =>
  `${server.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${PROJECT}/control-plane`;
const policy = (endpoint: string) =>
  policyManifest({
    name: "gateways",
    sources: { gw: '{resource_kind="Gateway"}' },
    sinks: [{ name: "receiver", endpoint, sources: ["gw"], batch: { timeout: "100ms" } }],
  });
const GATEWAY = { __name__: "envoy_requests_total", resource_kind: "Gateway", [TENANT_LABEL]: PROJECT };

async function scrape(server: TelexServe): Promise<string> {
  const response = await fetch(`${server.metricsUrl ?? ""}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  return response.text();
}

describe("the rules and the dashboard against running replicas", () => {
  let dir = "";
  let receiver: CountingReceiver | undefined;
  let store: FakeExportServer | undefined;
  /** All in one, push mode with the durable buffer: sinks, ingest, buffer, controller. */
  let allInOne: TelexServe | undefined;
  /** A push-mode replica of a fleet over allInOne's API: Lease, forwarding, draining. */
  let pushReplica: TelexServe | undefined;
  /** An API alone, and a pull-mode replica of a fleet over it: pull jobs and positions. */
  let api: TelexServe | undefined;
  let pullReplica: TelexServe | undefined;
  const replicas = (): TelexServe[] => [allInOne, pushReplica, pullReplica].flatMap((r) => r ?? []);
  const families = new Map<string, Family>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-monitoring-"));
    [receiver, store] = await Promise.all([startCountingReceiver(), startFakeExportServer()]);
    const now = Date.now();
    store.add(
      Object.entries(GATEWAY).map(([name, value]) => ({ name, value })),
      Array.from({ length: 120 }, (_, i) => ({ timestampMs: now - 10_000 + i * 1000, value: i })),
    );
    const common = ["--status-interval", "300ms", "--endpoint-allow", "127.0.0.0/8"];
    [allInOne, api] = await Promise.all([
      startTelexServe(["--api-listen", "127.0.0.1:0", "--data-dir", join(dir, "all-in-one"), ...common]),
      startTelexServe(["--api-only", "--api-listen", "127.0.0.1:0", "--data-dir", join(dir, "api")]),
    ]);
    for (const server of [allInOne, api]) {
      const created = await apiRequest(projectUrl(server), "POST", POLICIES, {
        body: policy(receiver.writeUrl),
      });
      assert.equal(created.status, 201, created.text);
    }
    [pushReplica, pullReplica] = await Promise.all([
      startTelexServe([
        ...["--join", allInOne.url, "--replica-name", "push-0", "--data-dir", join(dir, "push-0")],
        ...common,
      ]),
      startTelexServe([
        ...["--join", api.url, "--replica-name", "pull-0", "--data-dir", join(dir, "pull-0")],
        ...["--source-url", store.url, "--pull-interval", "200ms", "--pull-lag", "1s"],
        ...common,
      ]),
    ]);
    const ingest = `${allInOne.ingestUrl ?? ""}/api/v1/write`;
    const delivering = receiver;
    await eventually(
      async () => {
        const pushed = await pushSeries(ingest, [
          {
            labels: Object.entries(GATEWAY).map(([name, value]) => ({ name, value })),
            samples: [{ value: 1, timestampMs: Date.now() }],
          },
        ]);
        assert.equal(pushed.status, 204, pushed.body);
        return delivering.samples > 0;
      },
      "samples pushed to the all-in-one server delivered to the receiver",
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const pulling = pullReplica;
    await eventually(
      async () => /^telex_pull_windows_total\{.*\} [1-9]/m.test(await scrape(pulling)),
      "the pull-mode replica's pull job reading windows",
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    for (const replica of replicas()) addExposition(families, await scrape(replica));
  });

  after(async () => {
    await Promise.all([pushReplica?.stop(), pullReplica?.stop()]);
    await Promise.all([allInOne?.stop(), api?.stop()]);
    await Promise.all([receiver?.close(), store?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it("expose every metric, label and label value the rules and the dashboard name", () => {
    const problems: string[] = [];
    const labelsSeen = new Set([
      ...TARGET_LABELS,
      ...[...families.values()].flatMap((f) => [...f.labels.keys()]),
    ]);
    const check = (where: string, names: PromqlNames): void => {
      for (const label of names.grouping) {
        if (!labelsSeen.has(label)) problems.push(`${where}: grouping label ${label} is on no series`);
      }
      for (const { metric, matchers } of names.selectors) {
        if (metric.includes(":")) {
          if (!recorded.has(metric)) problems.push(`${where}: ${metric} is recorded by no rule`);
          continue;
        }
        if (EXTERNAL_METRICS.has(metric)) continue;
        const family = familyOf(families, metric);
        if (family === undefined) {
          problems.push(`${where}: ${metric} is not exposed`);
          continue;
        }
        for (const { label, op, value } of matchers) {
          if (TARGET_LABELS.has(label)) continue;
          const values = family.labels.get(label);
          if (values === undefined) {
            problems.push(`${where}: ${metric} has no label ${label}`);
            continue;
          }
          if (value.includes("$")) continue;
          // Literal values, and regexes that are a list of literals, must be values the series take.
          const literals =
            op === "=" || op === "!=" ? [value] : /^\w+(\|\w+)*$/.test(value) ? value.split("|") : [];
          for (const literal of literals) {
            if (!values.has(literal))
              problems.push(`${where}: ${metric}{${label}${op}"${value}"}: no ${literal}`);
          }
        }
      }
    };
    for (const { where, expr } of allExprs) check(where, promqlNames(expr));
    for (const variable of queryVariables) {
      const { names, label } = labelValuesNames(variableQuery(variable));
      check(`variable ${variable.name}`, names);
      for (const { metric } of names.selectors) {
        if (!TARGET_LABELS.has(label) && familyOf(families, metric)?.labels.has(label) !== true)
          problems.push(`variable ${variable.name}: ${metric} has no label ${label}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("expose each family of every component, so the check above sees them all", () => {
    for (const family of [
      "telex_sink_samples_sent_total",
      "telex_sink_request_duration_seconds",
      "telex_ingest_requests_total",
      "telex_buffer_write_errors_total",
      "telex_controller_queue_length",
      "telex_replica_lease_renewals_total",
      "telex_fleet_forward_requests_total",
      "telex_exporter_draining_sinks",
      "telex_pull_lag_seconds",
      "telex_pull_position_writes_total",
      "process_cpu_seconds_total",
    ]) {
      assert.ok(families.has(family), family);
    }
    // The sink families carry the labels the rules aggregate by.
    assert.deepEqual([...(families.get("telex_sink_down")?.labels.keys() ?? [])].sort(), [
      "namespace",
      "policy",
      "project",
      "sink",
    ]);
  });

  describe("scraped by Prometheus with the rules loaded", { skip: prometheusAvailability().skip }, () => {
    let prometheus: RunningPrometheus | undefined;

    const query = async (
      expr: string,
    ): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> => {
      const running = prometheus;
      assert.ok(running);
      const response = await fetch(`${running.url}/api/v1/query`, {
        method: "POST",
        body: new URLSearchParams({ query: expr }),
        signal: AbortSignal.timeout(10_000),
      });
      return (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    };

    before(async () => {
      const targets = replicas().map((replica) => new URL(replica.metricsUrl ?? "").host);
      prometheus = await startPrometheus({
        config: [
          "global:",
          "  scrape_interval: 1s",
          "  evaluation_interval: 1s",
          "rule_files:",
          `  - ${JSON.stringify(join(REPO, PROMETHEUS_RULES_PATH))}`,
          "scrape_configs:",
          "  - job_name: telex",
          "    honor_labels: true",
          "    static_configs:",
          `      - targets: ${JSON.stringify(targets)}`,
          "",
        ].join("\n"),
      });
      await eventually(
        async () => {
          const [up, sent] = await Promise.all([
            query('sum(up{job="telex"})'),
            query("project_namespace_policy_sink:telex_sink_samples_sent:rate5m"),
          ]);
          const value = (up.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1];
          return value === String(targets.length) && (sent.data?.result.length ?? 0) > 0;
        },
        "Prometheus scraping every replica and recording the per-sink rates",
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    });

    after(async () => {
      await prometheus?.stop();
    });

    it("evaluates every rule group without an error", async () => {
      const running = prometheus;
      assert.ok(running);
      type RulesBody = {
        data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
      };
      const fetchRules = async (): Promise<RulesBody> =>
        (await (await fetch(`${running.url}/api/v1/rules`)).json()) as RulesBody;
      // Each group is evaluated at its own offset within the interval: wait until every rule was.
      let body: RulesBody | undefined;
      await eventually(
        async () => {
          body = await fetchRules();
          return body.data.groups.every((group) => group.rules.every((rule) => rule.health !== "unknown"));
        },
        "every rule evaluated once",
        { timeoutMs: 10_000, intervalMs: 250 },
      );
      assert.ok(body);
      assert.deepEqual(
        body.data.groups.map((group) => group.name).sort(),
        groups.map((group) => group.name).sort(),
      );
      const unhealthy = body.data.groups
        .flatMap((group) => group.rules)
        .filter((rule) => rule.health !== "ok")
        .map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ""}`);
      assert.deepEqual(unhealthy, []);
    });

    it("runs every dashboard query and variable selector without an error", async () => {
      const failures: string[] = [];
      const selectors = queryVariables.map((variable) => ({
        where: `variable ${variable.name}`,
        expr: /^label_values\((.*),\s*\w+\s*\)$/.exec(variableQuery(variable))?.[1] ?? "",
      }));
      for (const { where, expr } of [...dashboardExprs, ...selectors]) {
        const result = await query(substitute(expr));
        if (result.status !== "success") failures.push(`${where}: ${result.error ?? JSON.stringify(result)}`);
      }
      assert.deepEqual(failures, []);
    });

    it("has data for the dashboard's per-sink, per-project and fleet panels", async () => {
      for (const expr of [
        `project_namespace_policy_sink:telex_sink_samples_sent:rate5m{project="${PROJECT}", policy="gateways", sink="receiver"}`,
        `project:telex_sink_samples_received:rate5m{project="${PROJECT}"}`,
        `project_le:telex_sink_request_duration_seconds_bucket:rate5m{project="${PROJECT}"}`,
        "telex_replica_members",
        "telex_pull_lag_seconds",
        "telex_buffer_disk_bytes",
      ]) {
        const result = await query(expr);
        assert.equal(result.status, "success", expr);
        assert.ok((result.data?.result.length ?? 0) > 0, `no data: ${expr}`);
      }
    });

    it("fires no alert for the healthy replicas", async () => {
      const result = await query('ALERTS{alertstate="firing"}');
      assert.equal(result.status, "success");
      assert.deepEqual(result.data?.result, []);
    });
  });
});
