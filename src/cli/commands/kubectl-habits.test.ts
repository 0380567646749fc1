// The telex CLI next to the real kubectl on the same objects: `get -w`
// prints what kubectl prints, either tool applies over the other's
// last-applied-configuration, and managedFields stay hidden unless asked for.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { runCli } from "../../../test-support/cli.js";
import { Kubectl, kubectlPeer } from "../../../test-support/kubectl.js";
import { outputOf } from "../../../test-support/peers.js";
import { examplePolicy, startTestApiServer, type TestApiServer } from "../../../test-support/telex-api.js";
import { NO_TELEX_CONFIG, spawnTelex } from "../../../test-support/telex-cli.js";
import { LAST_APPLIED } from "./apply.js";

process.env["TELEX_CONFIG"] = NO_TELEX_CONFIG;

const PROJECT = "habits";
const MISSING_ANNOTATION = /missing the kubectl\.kubernetes\.io\/last-applied-configuration annotation/;

type Json = Record<string, unknown>;

const lines = (text: string): number => text.split("\n").length - 1;
/**
 * A policy with every defaulted field written out. kubectl's client-side
 * apply diffs lists whole, so a sink missing its defaults always differs from
 * the stored (defaulted) one and kubectl would say "configured" even between
 * two of its own applies; with nothing to default, "unchanged" shows that the
 * recorded annotation is byte for byte what kubectl writes.
 */
function fullySpecified(name: string, endpoint: string): Json {
  const policy = examplePolicy(name, endpoint) as {
    spec: { sinks: { target: { prometheusRemoteWrite: Json } }[] };
  };
  for (const sink of policy.spec.sinks) {
    sink.target.prometheusRemoteWrite["batch"] = { maxSize: 500, timeout: "5s" };
    sink.target.prometheusRemoteWrite["retry"] = { maxAttempts: 3, backoffDuration: "5s" };
  }
  return policy;
}

/** AGE is each row's last column: two processes may print the same row a second apart. */
const withoutAges = (text: string): string => text.replace(/\d+s$/gm, "<age>");

describe("telex and kubectl on the same objects", { skip: kubectlPeer.skip }, () => {
  let server: TestApiServer;
  let kubectl: Kubectl;
  let dir: string;
  let flags: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-habits-"));
    server = await startTestApiServer();
    kubectl = await Kubectl.create({ server: server.api.projectUrl(PROJECT) });
    flags = ["--server", server.api.url, "--project", PROJECT];
  });
  after(async () => {
    await kubectl.cleanup();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const apply = (object: unknown): Promise<string> => kubectl.ok(["apply", "-f", "-"], stringify(object));

  it("get -w prints what kubectl get -w prints, with and without --output-watch-events", async () => {
    await apply(examplePolicy("alpha"));
    await apply(examplePolicy("a-longer-initial-name"));
    const watch = ["get", "exportpolicies", "-w"];
    const children: Record<string, ChildProcess> = {
      kubectl: kubectl.spawn(watch),
      telex: spawnTelex([...watch, ...flags]),
      kubectlEvents: kubectl.spawn([...watch, "--output-watch-events"]),
      telexEvents: spawnTelex([...watch, "--output-watch-events", ...flags]),
    };
    try {
      const outputs = Object.fromEntries(
        Object.entries(children).map(([key, child]) => [key, outputOf(child)]),
      );
      const all = async (count: number): Promise<Record<string, string>> =>
        Object.fromEntries(
          await Promise.all(
            Object.entries(outputs).map(
              async ([key, output]) => [key, await output.waitFor((out) => lines(out) >= count)] as const,
            ),
          ),
        );
      // The header and both rows: every watcher has listed before anything changes.
      await all(3);
      await apply(examplePolicy("b"));
      await apply(examplePolicy("a-name-longer-than-any-listed-before"));
      await kubectl.ok(["label", "exportpolicy", "b", "watched=yes"]);
      await kubectl.ok(["delete", "exportpolicy", "b"]);
      await apply({ ...examplePolicy("f"), metadata: { name: "f", finalizers: ["example.com/hold"] } });
      await kubectl.ok(["delete", "exportpolicy", "f", "--wait=false"]);
      await kubectl.ok([
        "patch",
        "exportpolicy",
        "f",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
      ]);
      // 3 + ADDED b, ADDED long, MODIFIED b, DELETED b, ADDED f, MODIFIED f (deleting), DELETED f.
      await all(10);
      // Anything printed twice would come now.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const out = await all(10);
      const { kubectl: plain = "", telex = "", kubectlEvents = "", telexEvents = "" } = out;
      assert.equal(lines(plain), 10, plain);
      assert.equal(withoutAges(telex), withoutAges(plain));
      assert.equal(withoutAges(telexEvents), withoutAges(kubectlEvents));
      assert.match(telexEvents, /^DELETED {4}b {2,}Unknown/m);
      assert.equal((telex.match(/^NAME/gm) ?? []).length, 1, telex);
    } finally {
      for (const child of Object.values(children)) child.kill();
    }
  });

  it("telex apply records last-applied-configuration: kubectl apply of the same file is unchanged, without a warning", async () => {
    const manifest = {
      ...fullySpecified("applied", "https://metrics.example.com/api/v1/write?tenant=a&region=eu"),
      metadata: { name: "applied", labels: { team: "edge" }, annotations: { note: "a <b> & c" } },
    };
    const file = join(dir, "applied.yaml");
    await writeFile(file, stringify(manifest));
    const created = await runCli(["apply", "-f", file, ...flags]);
    assert.equal(created.stdout, "exportpolicy.telemetry.miloapis.com/applied created\n", created.stderr);
    const stored = JSON.parse(await kubectl.ok(["get", "ep", "applied", "-o", "json"])) as {
      metadata: { annotations: Json };
    };
    const recorded = stored.metadata.annotations[LAST_APPLIED];
    assert.equal(typeof recorded, "string");
    assert.equal((recorded as string).split("\n").length, 2, "one line and its newline");
    assert.doesNotMatch(recorded as string, /"status"|last-applied/);

    const again = await kubectl.run(["apply", "-f", file]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, MISSING_ANNOTATION);
    assert.doesNotMatch(again.stderr, /Warning/);
    // Byte-equal to what kubectl would have written, else its three-way merge would rewrite it.
    assert.equal(again.stdout, "exportpolicy.telemetry.miloapis.com/applied unchanged\n");
  });

  it("telex apply reads kubectl's annotation: unchanged for the same file, removes what was applied and dropped", async () => {
    const manifest = {
      ...fullySpecified("by-kubectl", "https://metrics.example.com/write?a=1&b=2"),
      metadata: { name: "by-kubectl", labels: { team: "edge", tier: "gold" } },
    };
    await apply(manifest);
    await kubectl.ok(["label", "exportpolicy", "by-kubectl", "owner=someone-else"]);
    const same = await runCli(["apply", "-f", "-", ...flags], stringify(manifest));
    assert.equal(same.stdout, "exportpolicy.telemetry.miloapis.com/by-kubectl unchanged\n", same.stderr);
    const dropped = { ...manifest, metadata: { name: "by-kubectl", labels: { team: "edge" } } };
    const changed = await runCli(["apply", "-f", "-", ...flags], stringify(dropped));
    assert.equal(
      changed.stdout,
      "exportpolicy.telemetry.miloapis.com/by-kubectl configured\n",
      changed.stderr,
    );
    const labels = JSON.parse(
      await kubectl.ok(["get", "ep", "by-kubectl", "-o", "jsonpath={.metadata.labels}"]),
    ) as Json;
    assert.deepEqual(labels, { team: "edge", owner: "someone-else" });
    const next = await kubectl.run(["apply", "-f", "-"], stringify(dropped));
    assert.equal(next.stdout, "exportpolicy.telemetry.miloapis.com/by-kubectl unchanged\n", next.stderr);
  });

  it("get -o yaml and -o json hide metadata.managedFields unless --show-managed-fields", async () => {
    const json = await runCli(["get", "ep", "applied", "-o", "json", ...flags]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { metadata: Json }).metadata["managedFields"], undefined);
    const list = await runCli(["get", "exportpolicies", "-o", "yaml", ...flags]);
    assert.match(list.stdout, /name: applied/);
    assert.doesNotMatch(list.stdout, /managedFields/);
    const shown = await runCli(["get", "ep", "applied", "-o", "json", "--show-managed-fields", ...flags]);
    const managers = (
      (JSON.parse(shown.stdout) as { metadata: { managedFields?: { manager: string }[] } }).metadata
        .managedFields ?? []
    ).map((entry) => entry.manager);
    // telex apply names itself; kubectl's apply of the same file changed nothing.
    assert.deepEqual(managers, ["telex"]);
    const yaml = await runCli(["get", "ep", "applied", "-o", "yaml", "--show-managed-fields", ...flags]);
    assert.match(yaml.stdout, /managedFields:\n\s+- manager: telex\n/);
  });
});
