import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { rmSync } from "node:fs";
import { runCli } from "../../../test-support/cli.js";

const repo = fileURLToPath(new URL("../../../../", import.meta.url));
const example = join(repo, "examples", "exportpolicy.yaml");
const scratch = mkdtempSync(join(tmpdir(), "telex-validate-"));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

const INVALID_POLICY = `apiVersion: telemetry.miloapis.com/v1alpha1
kind: ExportPolicy
metadata:
  name: broken
spec:
  sources:
    - name: gateways
      metrics:
        metricsql: '{resource_kind="Gateway"}'
  sinks:
    - name: prom
      sources: [gateways, proxies]
      target:
        prometheusRemoteWrite:
          endpoint: https://metrics.example.com/api/v1/write
          batch:
            maxSize: 6000
`;

describe("telex validate", () => {
  it("says the API reference's example is valid and exits 0", async () => {
    const result = await runCli(["validate", "-f", example]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      /exportpolicy\.yaml:2: ExportPolicy\/gateway-metrics \(document 1\) is valid\n/,
    );
    assert.match(result.stdout, /1 document: 1 valid, 0 invalid\n$/);
  });

  it("prints every error with file, line, column and field path, and exits 1", async () => {
    const path = file("broken.yaml", INVALID_POLICY);
    const result = await runCli(["validate", "-f", path]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stdout,
      [
        `${path}:1: ExportPolicy/broken (document 1) is invalid: 2 errors`,
        `  ${path}:12:27: spec.sinks[0].sources[1]: Not found: "proxies": must name a source in spec.sources`,
        `  ${path}:17:13: spec.sinks[0].target.prometheusRemoteWrite.batch.maxSize: Invalid value: 6000: must be less than or equal to 5000`,
        "1 document: 0 valid, 1 invalid",
        "",
      ].join("\n"),
    );
  });

  it("handles multi-document files, Secrets and stdin", async () => {
    const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ntype: kubernetes.io/basic-auth\nstringData: {username: u}\n`;
    const text = `${INVALID_POLICY}---\n${secret}---\n`;
    const result = await runCli(["validate", "-f", "-"], text);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /<stdin>:19: Secret\/creds \(document 2\) is invalid: 1 error\n {2}<stdin>:19:1: data\.password: Required value/,
    );
    assert.match(result.stdout, /2 documents: 0 valid, 2 invalid\n$/);
  });

  it("reports broken YAML with line and column, without a stack trace", async () => {
    const path = file("bad.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: [unclosed\n");
    const result = await runCli(["validate", "-f", path]);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+:\\d+: invalid YAML: `),
    );
    assert.doesNotMatch(result.stdout + result.stderr, /\n\s+at /);
  });

  it("reports duplicate keys as YAML errors", async () => {
    const path = file("dup.yaml", "kind: Secret\nkind: Secret\n");
    const result = await runCli(["validate", "-f", path]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /dup\.yaml:2:1: invalid YAML: Map keys must be unique/);
  });

  it("validates JSON and walks directories (recursively with -R)", async () => {
    const dir = join(scratch, "tree");
    mkdirSync(join(dir, "nested"), { recursive: true });
    writeFileSync(
      join(dir, "a.json"),
      JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "a" } }),
    );
    writeFileSync(join(dir, "notes.txt"), "ignored");
    writeFileSync(join(dir, "nested", "b.yaml"), INVALID_POLICY);
    const flat = await runCli(["validate", "-f", dir]);
    assert.equal(flat.code, 0, flat.stdout);
    assert.match(flat.stdout, /1 document: 1 valid, 0 invalid/);
    const deep = await runCli(["validate", "-R", "-f", dir]);
    assert.equal(deep.code, 1);
    assert.match(deep.stdout, /2 documents: 1 valid, 1 invalid/);
  });

  it("reports a missing file and an empty input as failures", async () => {
    const missing = await runCli(["validate", "-f", join(scratch, "nope.yaml")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /nope\.yaml: no such file or directory/);
    const empty = await runCli(["validate", "-f", "-"], "");
    assert.equal(empty.code, 1);
    assert.match(empty.stdout, /0 documents/);
  });

  it("prints machine-readable results with -o json", async () => {
    const path = file("json-out.yaml", INVALID_POLICY);
    const result = await runCli(["validate", "-o", "json", "-f", path]);
    assert.equal(result.code, 1);
    const [report] = JSON.parse(result.stdout) as {
      valid: boolean;
      errors: { field: string; line: number; type: string }[];
    }[];
    assert.ok(report);
    assert.equal(report.valid, false);
    assert.deepEqual(
      report.errors.map((e) => [e.field, e.type, e.line]),
      [
        ["spec.sinks[0].sources[1]", "NotFound", 12],
        ["spec.sinks[0].target.prometheusRemoteWrite.batch.maxSize", "Invalid", 17],
      ],
    );
  });

  it("rejects a command line without -f as a usage error", async () => {
    const result = await runCli(["validate"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /must give at least one -f/);
    const badFlag = await runCli(["validate", "--frobnicate"]);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /Unknown option '--frobnicate'/);
  });

  it("works through the installed executable with real exit codes", async () => {
    const bin = join(repo, "bin", "telex.js");
    const run = promisify(execFile);
    const ok = await run(process.execPath, [bin, "validate", "-f", example]);
    assert.match(ok.stdout, /is valid/);
    await assert.rejects(
      run(process.execPath, [bin, "validate", "-f", file("bin-bad.yaml", INVALID_POLICY)]),
      (e: unknown) => {
        return (e as { code?: number }).code === 1;
      },
    );
  });
});
