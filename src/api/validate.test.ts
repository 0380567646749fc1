import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import {
  formatFieldError,
  validateExportPolicy,
  validateObject,
  validateSecret,
  type ExportPolicy,
  type FieldError,
  type PrometheusRemoteWriteTarget,
} from "./index.js";

type Json = Record<string, unknown>;

function basePolicy(): Json {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: "gateway-metrics" },
    spec: {
      sources: [
        {
          name: "gateways",
          metrics: { metricsql: '{service_name="networking.miloapis.com", resource_kind="Gateway"}' },
        },
      ],
      sinks: [
        {
          name: "prometheus",
          sources: ["gateways"],
          target: { prometheusRemoteWrite: { endpoint: "https://metrics.example.com/api/v1/write" } },
        },
      ],
    },
  };
}

/** Sets a value at a dotted path (numbers index arrays); `undefined` deletes. */
function withField(path: string, value: unknown): Json {
  const policy = basePolicy();
  const segments = path.split(".").map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  let node: unknown = policy;
  for (const segment of segments.slice(0, -1)) {
    const container = node as Record<string | number, unknown>;
    container[segment] ??= {};
    node = container[segment];
  }
  const last = segments[segments.length - 1] ?? "";
  const container = node as Record<string | number, unknown>;
  if (value === undefined) Reflect.deleteProperty(container, last);
  else container[last] = value;
  return policy;
}

function remoteWriteOf(
  policy: Pick<ExportPolicy, "spec"> | ExportPolicy["spec"],
): PrometheusRemoteWriteTarget {
  const spec = "spec" in policy ? policy.spec : policy;
  const target = spec.sinks[0]?.target.prometheusRemoteWrite;
  assert.ok(target, "policy has a remote-write sink");
  return target;
}

const messages = (errors: readonly FieldError[]) => errors.map(formatFieldError);
const RW = "spec.sinks.0.target.prometheusRemoteWrite";
const RW_PATH = "spec.sinks[0].target.prometheusRemoteWrite";

describe("validateExportPolicy", () => {
  it("accepts the API reference's example manifest", () => {
    const text = readFileSync(new URL("../../../examples/exportpolicy.yaml", import.meta.url), "utf8");
    const result = validateExportPolicy(parseYaml(text));
    assert.deepEqual(messages(result.errors), []);
    assert.equal(result.valid, true);
  });

  it("applies batch and retry defaults when they are absent", () => {
    const result = validateExportPolicy(basePolicy());
    assert.ok(result.valid);
    const target = remoteWriteOf(result.object);
    assert.deepEqual(target.batch, { maxSize: 500, timeout: "5s" });
    assert.deepEqual(target.retry, { maxAttempts: 3, backoffDuration: "5s" });
  });

  it("applies defaults field by field when an object is partly given", () => {
    const policy = withField(`${RW}.batch`, { maxSize: 100 });
    const target = remoteWriteOf(policy["spec"] as ExportPolicy["spec"]) as unknown as Json;
    target["retry"] = { backoffDuration: "1s" };
    const result = validateExportPolicy(policy);
    assert.ok(result.valid, messages(result.errors).join("\n"));
    const out = remoteWriteOf(result.object);
    assert.deepEqual(out.batch, { maxSize: 100, timeout: "5s" });
    assert.deepEqual(out.retry, { maxAttempts: 3, backoffDuration: "1s" });
  });

  it("treats null like an absent field, so defaults apply", () => {
    const result = validateExportPolicy(withField(`${RW}.batch`, null));
    assert.ok(result.valid);
    assert.deepEqual(remoteWriteOf(result.object).batch, { maxSize: 500, timeout: "5s" });
  });

  it("does not modify its input", () => {
    const input = basePolicy();
    const before = JSON.stringify(input);
    validateExportPolicy(input);
    assert.equal(JSON.stringify(input), before);
  });

  // Each rule: [description, path to set, value, expected error lines (empty = valid)].
  const cases: [string, string, unknown, string[]][] = [
    [
      "apiVersion wrong",
      "apiVersion",
      "v1",
      ['apiVersion: Unsupported value: "v1": supported values: "telemetry.miloapis.com/v1alpha1"'],
    ],
    ["apiVersion missing", "apiVersion", undefined, ["apiVersion: Required value"]],
    ["kind wrong", "kind", "Policy", ['kind: Unsupported value: "Policy": supported values: "ExportPolicy"']],
    [
      "name missing",
      "metadata.name",
      undefined,
      ["metadata.name: Required value: name or generateName is required"],
    ],
    ["generateName instead of name", "metadata", { generateName: "gw-" }, []],
    [
      "name with capitals",
      "metadata.name",
      "Gateway",
      [
        "metadata.name: Invalid value: \"Gateway\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')",
      ],
    ],
    ["name with dots", "metadata.name", "gw.metrics", []],
    ["namespace valid", "metadata.namespace", "default", []],
    [
      "label key invalid",
      "metadata.labels",
      { "bad key": "v" },
      [
        "metadata.labels[bad key]: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')",
      ],
    ],
    ["label valid", "metadata.labels", { "app.kubernetes.io/name": "edge" }, []],
    [
      "unknown top-level field with suggestion",
      "sepc",
      {},
      ['sepc: Unknown field: field not declared in schema; did you mean "spec"?'],
    ],
    [
      "unknown nested field with suggestion",
      `${RW}.batchh`,
      {},
      [`${RW_PATH}.batchh: Unknown field: field not declared in schema; did you mean "batch"?`],
    ],
    [
      "unknown field far from any name",
      "spec.zzzzzzzzzz",
      1,
      ["spec.zzzzzzzzzz: Unknown field: field not declared in schema"],
    ],
    ["spec missing", "spec", undefined, ["spec: Required value"]],
    [
      "no sources",
      "spec.sources",
      [],
      [
        "spec.sources: Required value: must have at least 1 item",
        'spec.sinks[0].sources[0]: Not found: "gateways": must name a source in spec.sources',
      ],
    ],
    [
      "21 sources",
      "spec.sources",
      Array.from({ length: 21 }, (_, i) => ({
        name: i === 0 ? "gateways" : `s${i}`,
        metrics: { metricsql: "up" },
      })),
      ["spec.sources: Too many: 21: must have at most 20 items"],
    ],
    [
      "20 sources",
      "spec.sources",
      Array.from({ length: 20 }, (_, i) => ({
        name: i === 0 ? "gateways" : `s${i}`,
        metrics: { metricsql: "up" },
      })),
      [],
    ],
    ["no sinks", "spec.sinks", [], ["spec.sinks: Required value: must have at least 1 item"]],
    [
      "21 sinks",
      "spec.sinks",
      Array.from({ length: 21 }, (_, i) => ({
        name: `k${i}`,
        sources: ["gateways"],
        target: { prometheusRemoteWrite: { endpoint: "http://a/" } },
      })),
      ["spec.sinks: Too many: 21: must have at most 20 items"],
    ],
    [
      "source name not a DNS label",
      "spec.sources.0.name",
      "Gate_ways",
      [
        "spec.sources[0].name: Invalid value: \"Gate_ways\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')",
        'spec.sinks[0].sources[0]: Not found: "gateways": must name a source in spec.sources',
      ],
    ],
    [
      "source name too long",
      "spec.sources.0.name",
      "a".repeat(64),
      [
        "spec.sources[0].name: Too long: may not be more than 63 bytes",
        'spec.sinks[0].sources[0]: Not found: "gateways": must name a source in spec.sources',
      ],
    ],
    [
      "sink name not a DNS label",
      "spec.sinks.0.name",
      "prom.write",
      [
        `spec.sinks[0].name: Invalid value: "prom.write": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')`,
      ],
    ],
    [
      "duplicate source names",
      "spec.sources.1",
      { name: "gateways", metrics: { metricsql: "up" } },
      ['spec.sources[1].name: Duplicate value: "gateways"'],
    ],
    [
      "duplicate sink names",
      "spec.sinks.1",
      {
        name: "prometheus",
        sources: ["gateways"],
        target: { prometheusRemoteWrite: { endpoint: "http://b/" } },
      },
      ['spec.sinks[1].name: Duplicate value: "prometheus"'],
    ],
    [
      "sink without sources",
      "spec.sinks.0.sources",
      [],
      ["spec.sinks[0].sources: Required value: must have at least 1 item"],
    ],
    [
      "sink repeats a source",
      "spec.sinks.0.sources",
      ["gateways", "gateways"],
      ['spec.sinks[0].sources[1]: Duplicate value: "gateways"'],
    ],
    [
      "sink names a missing source",
      "spec.sinks.0.sources",
      ["gateways", "proxies"],
      ['spec.sinks[0].sources[1]: Not found: "proxies": must name a source in spec.sources'],
    ],
    [
      "target with no protocol",
      "spec.sinks.0.target",
      {},
      ["spec.sinks[0].target: Required value: exactly one of prometheusRemoteWrite must be set"],
    ],
    ["endpoint missing", `${RW}.endpoint`, undefined, [`${RW_PATH}.endpoint: Required value`]],
    [
      "endpoint relative",
      `${RW}.endpoint`,
      "/api/v1/write",
      [`${RW_PATH}.endpoint: Invalid value: "/api/v1/write": must be an absolute http or https URL`],
    ],
    [
      "endpoint ftp",
      `${RW}.endpoint`,
      "ftp://host/x",
      [`${RW_PATH}.endpoint: Invalid value: "ftp://host/x": scheme must be http or https, not ftp`],
    ],
    [
      "endpoint with credentials (redacted)",
      `${RW}.endpoint`,
      "https://user:s3cret@host/x",
      [
        `${RW_PATH}.endpoint: Forbidden: credentials must not be embedded in the URL; put them in a kubernetes.io/basic-auth Secret and reference it from authentication.basicAuth.secretRef`,
      ],
    ],
    ["endpoint http with port", `${RW}.endpoint`, "http://127.0.0.1:8428/api/v1/write", []],
    [
      "batch.maxSize 0",
      `${RW}.batch.maxSize`,
      0,
      [`${RW_PATH}.batch.maxSize: Invalid value: 0: must be greater than or equal to 1`],
    ],
    [
      "batch.maxSize 6000",
      `${RW}.batch.maxSize`,
      6000,
      [`${RW_PATH}.batch.maxSize: Invalid value: 6000: must be less than or equal to 5000`],
    ],
    ["batch.maxSize 5000", `${RW}.batch.maxSize`, 5000, []],
    [
      "batch.maxSize not integer",
      `${RW}.batch.maxSize`,
      1.5,
      [`${RW_PATH}.batch.maxSize: Invalid value: 1.5: must be of type integer, not number`],
    ],
    [
      "batch.maxSize string",
      `${RW}.batch.maxSize`,
      "500",
      [`${RW_PATH}.batch.maxSize: Invalid value: "500": must be of type integer, not string`],
    ],
    [
      "retry.maxAttempts 11",
      `${RW}.retry.maxAttempts`,
      11,
      [`${RW_PATH}.retry.maxAttempts: Invalid value: 11: must be less than or equal to 10`],
    ],
    [
      "retry.maxAttempts 0",
      `${RW}.retry.maxAttempts`,
      0,
      [`${RW_PATH}.retry.maxAttempts: Invalid value: 0: must be greater than or equal to 1`],
    ],
    ["retry.maxAttempts 1", `${RW}.retry.maxAttempts`, 1, []],
    ["duration 500ms", `${RW}.batch.timeout`, "500ms", []],
    ["duration 1m30s", `${RW}.retry.backoffDuration`, "1m30s", []],
    ["duration 1.5h", `${RW}.retry.backoffDuration`, "1.5h", []],
    [
      "duration without unit",
      `${RW}.batch.timeout`,
      "5",
      [
        `${RW_PATH}.batch.timeout: Invalid value: "5": must be a duration such as 500ms, 5s or 1m30s (units ns, us, ms, s, m, h)`,
      ],
    ],
    [
      "duration unknown unit",
      `${RW}.batch.timeout`,
      "5d",
      [
        `${RW_PATH}.batch.timeout: Invalid value: "5d": must be a duration such as 500ms, 5s or 1m30s (units ns, us, ms, s, m, h)`,
      ],
    ],
    [
      "duration negative",
      `${RW}.batch.timeout`,
      "-5s",
      [
        `${RW_PATH}.batch.timeout: Invalid value: "-5s": must be a duration such as 500ms, 5s or 1m30s (units ns, us, ms, s, m, h)`,
      ],
    ],
    [
      "duration zero",
      `${RW}.retry.backoffDuration`,
      "0s",
      [`${RW_PATH}.retry.backoffDuration: Invalid value: "0s": must be greater than 0`],
    ],
    ["basicAuth valid", `${RW}.authentication`, { basicAuth: { secretRef: { name: "grafana-cloud" } } }, []],
    [
      "basicAuth without secretRef",
      `${RW}.authentication`,
      { basicAuth: {} },
      [`${RW_PATH}.authentication.basicAuth.secretRef: Required value`],
    ],
    [
      "basicAuth secretRef without name",
      `${RW}.authentication`,
      { basicAuth: { secretRef: {} } },
      [`${RW_PATH}.authentication.basicAuth.secretRef.name: Required value`],
    ],
    [
      "basicAuth secretRef bad name",
      `${RW}.authentication`,
      { basicAuth: { secretRef: { name: "Grafana Cloud" } } },
      [
        `${RW_PATH}.authentication.basicAuth.secretRef.name: Invalid value: "Grafana Cloud": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')`,
      ],
    ],
    [
      "source without metrics",
      "spec.sources.0.metrics",
      undefined,
      ["spec.sources[0].metrics: Required value"],
    ],
    [
      "source without metricsql",
      "spec.sources.0.metrics",
      {},
      ["spec.sources[0].metrics.metricsql: Required value"],
    ],
    [
      "metricsql empty",
      "spec.sources.0.metrics.metricsql",
      "",
      ["spec.sources[0].metrics.metricsql: Required value"],
    ],
    [
      "metricsql metric name only",
      "spec.sources.0.metrics.metricsql",
      "envoy_vhost_vcluster_upstream_rq",
      [],
    ],
    [
      "metricsql regex and or",
      "spec.sources.0.metrics.metricsql",
      '{resource_kind=~"Gateway|HTTPProxy" or service_name="compute.miloapis.com"}',
      [],
    ],
  ];

  for (const [name, path, value, expected] of cases) {
    it(`${expected.length === 0 ? "accepts" : "rejects"}: ${name}`, () => {
      const result = validateExportPolicy(withField(path, value));
      assert.deepEqual(messages(result.errors), expected);
      assert.equal(result.valid, expected.length === 0);
    });
  }

  it("never echoes credentials from an endpoint", () => {
    const result = validateExportPolicy(withField(`${RW}.endpoint`, "ftp://user:s3cret@host/x"));
    const text = messages(result.errors).join("\n");
    assert.match(text, /ftp:\/\/\*\*\*@host\/x/);
    assert.doesNotMatch(text, /s3cret/);
  });

  it("rejects a metricsql query that is not a series selector, with position", () => {
    const result = validateExportPolicy(
      withField("spec.sources.0.metrics.metricsql", "rate(http_requests_total[5m])"),
    );
    assert.equal(result.valid, false);
    const [line] = messages(result.errors);
    assert.match(
      line ?? "",
      /^spec\.sources\[0\]\.metrics\.metricsql: Invalid value: "rate\(http_requests_total\[5m\]\)": 1:1: /,
    );
  });

  it("forbids filtering on the tenant label, in any spelling", () => {
    for (const selector of [
      '{resourcemanager_datumapis_com_project_name="other"}',
      '{"resourcemanager_datumapis_com_project_name"=~".+"}',
      'up{service_name="x" or resourcemanager_datumapis_com_project_name!="mine"}',
    ]) {
      const result = validateExportPolicy(withField("spec.sources.0.metrics.metricsql", selector));
      assert.equal(result.valid, false, selector);
      assert.equal(result.errors[0]?.type, "Forbidden", selector);
      assert.match(messages(result.errors)[0] ?? "", /resourcemanager_datumapis_com_project_name/);
    }
  });

  it("uses the configured tenant label", () => {
    const policy = withField("spec.sources.0.metrics.metricsql", '{tenant="x"}');
    assert.equal(validateExportPolicy(policy).valid, true);
    assert.equal(validateExportPolicy(policy, { tenantLabel: "tenant" }).valid, false);
  });

  it("rejects an invalid regex", () => {
    const result = validateExportPolicy(withField("spec.sources.0.metrics.metricsql", '{a=~"(unclosed"}'));
    assert.equal(result.valid, false);
    assert.match(
      messages(result.errors)[0] ?? "",
      /^spec\.sources\[0\]\.metrics\.metricsql: Invalid value: /,
    );
  });

  it("reports ten different mistakes in one run, each with its path", () => {
    const policy = {
      apiVersion: "telemetry.miloapis.com/v1beta1",
      kind: "ExportPolicy",
      metadata: { name: "Bad_Name" },
      spec: {
        sources: [
          { name: "gateways", metrics: { metricsql: "sum(rate(x[5m]))" } },
          { name: "gateways", metrics: { metricsql: "up" } },
        ],
        sinks: [
          {
            name: "prom",
            sources: ["gateways", "missing"],
            target: {
              prometheusRemoteWrite: {
                endpoint: "not a url",
                batch: { maxSize: 6000, timeout: "5 seconds" },
                retry: { maxAttempts: 0 },
                authentication: { basicAuth: { secretRef: {} } },
              },
            },
          },
        ],
      },
    };
    const result = validateExportPolicy(policy);
    const paths = result.errors.map((e) => formatFieldError(e).split(":")[0]);
    assert.deepEqual(
      new Set(paths),
      new Set([
        "apiVersion",
        "metadata.name",
        "spec.sources[0].metrics.metricsql",
        "spec.sources[1].name",
        "spec.sinks[0].sources[1]",
        "spec.sinks[0].target.prometheusRemoteWrite.endpoint",
        "spec.sinks[0].target.prometheusRemoteWrite.batch.maxSize",
        "spec.sinks[0].target.prometheusRemoteWrite.batch.timeout",
        "spec.sinks[0].target.prometheusRemoteWrite.retry.maxAttempts",
        "spec.sinks[0].target.prometheusRemoteWrite.authentication.basicAuth.secretRef.name",
      ]),
    );
    assert.equal(result.errors.length, 10);
  });
});

describe("validateSecret", () => {
  const secret = (extra: Json): Json => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "grafana-cloud" },
    type: "kubernetes.io/basic-auth",
    ...extra,
  });

  it("reports data or stringData that is not a map once, whatever its length (found by the API fuzz test)", () => {
    for (const field of ["data", "stringData"]) {
      const result = validateSecret(secret({ [field]: "y".repeat(1_500_000) }));
      assert.equal(result.valid, false);
      const problems = messages(result.errors).filter((m) => m.startsWith(`${field}:`));
      assert.equal(problems.length, 1, problems.join("\n").slice(0, 500));
    }
  });

  it("accepts basic-auth credentials in data (base64) or stringData", () => {
    const fromData = secret({
      data: {
        username: Buffer.from("123").toString("base64"),
        password: Buffer.from("tok").toString("base64"),
      },
    });
    assert.deepEqual(messages(validateSecret(fromData).errors), []);
    assert.deepEqual(
      messages(validateSecret(secret({ stringData: { username: "123", password: "tok" } })).errors),
      [],
    );
    assert.deepEqual(
      messages(
        validateSecret(secret({ data: { username: "MTIz" }, stringData: { password: "tok" } })).errors,
      ),
      [],
    );
  });

  it("requires both keys of a basic-auth Secret", () => {
    assert.deepEqual(messages(validateSecret(secret({ stringData: { username: "123" } })).errors), [
      "data.password: Required value: a kubernetes.io/basic-auth Secret used by a sink needs both username and password",
    ]);
  });

  it("rejects data that is not base64 without echoing it", () => {
    const result = validateSecret(secret({ data: { username: "MTIz", password: "not base64!" } }));
    assert.deepEqual(messages(result.errors), [
      'data.password: Invalid value: "<redacted>": must be base64 encoded',
    ]);
  });

  it("rejects invalid keys and unknown fields", () => {
    const result = validateSecret(
      secret({ stringData: { username: "u", password: "p", "bad key": "x" }, strinData: {} }),
    );
    assert.deepEqual(messages(result.errors), [
      'strinData: Unknown field: field not declared in schema; did you mean "stringData"?',
      "stringData[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
    ]);
  });

  it("defaults type to Opaque and accepts any keys then", () => {
    const result = validateSecret({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "x" },
      stringData: { token: "t" },
    });
    assert.ok(result.valid);
    assert.equal(result.object.type, "Opaque");
  });
});

describe("validateObject", () => {
  it("dispatches by kind and rejects unknown kinds", () => {
    assert.equal(validateObject(basePolicy()).kind, "ExportPolicy");
    const unknown = validateObject({ apiVersion: "apps/v1", kind: "Deployment" });
    assert.deepEqual(messages(unknown.result.errors), [
      'kind: Unsupported value: "Deployment": supported values: "ExportPolicy", "Secret"',
    ]);
    assert.equal(validateObject("text").result.valid, false);
  });
});
