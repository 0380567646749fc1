// `telex kubeconfig`: merging a project's context into a kubeconfig, and the
// real kubectl reaching the project with it over https with a token.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { runCli } from "../../../test-support/cli.js";
import { Kubectl, kubectlPeer } from "../../../test-support/kubectl.js";
import {
  apiRequest,
  examplePolicy,
  startTestApiServer,
  type TestApiServer,
} from "../../../test-support/telex-api.js";
import { NO_TELEX_CONFIG } from "../../../test-support/telex-cli.js";
import { kubeconfigPath, mergeKubeconfig, type KubeconfigEntries } from "./kubeconfig.js";

process.env["TELEX_CONFIG"] = NO_TELEX_CONFIG;

const PROJECT = "p-kube";
const TOKEN = "token-of-p-kube-for-kubectl";

/** A developer's kubeconfig with another cluster, a comment, and that cluster as the current context. */
const EXISTING = `# my clusters
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example.com
contexts:
- name: prod
  context:
    cluster: prod
    user: prod-admin
current-context: prod
users:
- name: prod-admin
  user:
    token: prod-secret
`;

interface Config {
  readonly clusters: { name: string; cluster: Record<string, unknown> }[];
  readonly users: { name: string; user: Record<string, unknown> }[];
  readonly contexts: { name: string; context: Record<string, unknown> }[];
  readonly "current-context"?: string;
}

const names = (list: readonly { name: string }[]): string[] => list.map((entry) => entry.name);

const entries = (name: string, server: string): KubeconfigEntries => ({
  name,
  cluster: { server },
  user: { token: "t" },
  context: { cluster: name, user: name },
});

describe("mergeKubeconfig", () => {
  it("adds the project's entries, keeps the rest and the current context", () => {
    const merged = mergeKubeconfig(EXISTING, entries("p", "http://127.0.0.1:6443/x"));
    const config = parse(merged.text) as Config;
    assert.deepEqual(names(config.clusters), ["prod", "p"]);
    assert.deepEqual(names(config.users), ["prod-admin", "p"]);
    assert.deepEqual(names(config.contexts), ["prod", "p"]);
    assert.equal(config["current-context"], "prod");
    assert.equal(merged.currentContext, "prod");
    assert.match(merged.text, /^# my clusters\n/, "comments are kept");
    assert.match(merged.text, /^clusters:\n- name: prod\n/m, "kubectl's list layout");
  });

  it("replaces entries of the same name instead of adding a second", () => {
    const once = mergeKubeconfig(EXISTING, entries("p", "http://old")).text;
    const twice = parse(mergeKubeconfig(once, entries("p", "http://new")).text) as Config;
    assert.deepEqual(names(twice.clusters), ["prod", "p"]);
    assert.deepEqual(twice.clusters[1]?.cluster, { server: "http://new" });
  });

  it("makes the project the current context of an empty or new file, or one without a current context", () => {
    for (const text of ["", 'apiVersion: v1\nkind: Config\ncurrent-context: ""\n', "clusters: []\n"]) {
      const merged = mergeKubeconfig(text, entries("p", "http://x"));
      const config = parse(merged.text) as Config & { apiVersion: string; kind: string };
      assert.equal(config["current-context"], "p", text);
      assert.equal(config.apiVersion, "v1");
      assert.equal(config.kind, "Config");
    }
  });

  it("refuses a file that is not a kubeconfig", () => {
    assert.throws(() => mergeKubeconfig("- a\n- b\n", entries("p", "http://x")), /not a mapping/);
    assert.throws(() => mergeKubeconfig("clusters: 3\n", entries("p", "http://x")), /clusters is not a list/);
  });

  it("writes into the first file of $KUBECONFIG, else ~/.kube/config", () => {
    assert.equal(kubeconfigPath({ KUBECONFIG: ":/a/first:/b/second" }), "/a/first");
    assert.equal(kubeconfigPath({}), join(homedir(), ".kube", "config"));
    assert.equal(kubeconfigPath({ KUBECONFIG: "" }), join(homedir(), ".kube", "config"));
  });
});

describe("telex kubeconfig with the real kubectl", { skip: kubectlPeer.skip }, () => {
  let dir: string;
  let server: TestApiServer;
  let kubectl: Kubectl;
  let caFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-kubeconfig-"));
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({ tokens: [{ token: TOKEN, user: "kube", projects: [PROJECT], role: "admin" }] }),
    );
    server = await startTestApiServer({ tokensFile: join(dir, "tokens.yaml"), selfSignedTls: true });
    caFile = join(dir, "ca.pem");
    await writeFile(caFile, server.caPem ?? "");
    const created = await apiRequest(
      server.api.projectUrl(PROJECT),
      "POST",
      "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
      { body: examplePolicy("reached"), token: TOKEN, ca: server.caPem ?? "" },
    );
    assert.equal(created.status, 201, created.text);
    // Only for its binary and a throwaway HOME: every command names its kubeconfig.
    kubectl = await Kubectl.create({ server: "https://127.0.0.1:1" });
  });
  after(async () => {
    delete process.env["KUBECONFIG"];
    await kubectl.cleanup();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const kubeconfigFlags = (): string[] => [
    "kubeconfig",
    "--server",
    server.api.url,
    "--project",
    PROJECT,
    "--token",
    TOKEN,
    "--certificate-authority",
    caFile,
  ];

  it("merges into the first $KUBECONFIG file; kubectl --context PROJECT gets the project's policies", async () => {
    const file = join(dir, "config");
    await writeFile(file, EXISTING, { mode: 0o644 });
    process.env["KUBECONFIG"] = `${file}:${join(dir, "second")}`;
    const result = await runCli(kubeconfigFlags());
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /the current context is still "prod"/);
    assert.equal((await stat(file)).mode & 0o777, 0o600, "it holds a token");
    await assert.rejects(stat(join(dir, "second")), /ENOENT/);

    const config = parse(await readFile(file, "utf8")) as Config;
    assert.deepEqual(config.clusters[1], {
      name: PROJECT,
      cluster: {
        server: `${server.api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${PROJECT}/control-plane`,
        "certificate-authority-data": Buffer.from(server.caPem ?? "").toString("base64"),
      },
    });
    assert.deepEqual(config.users[1], { name: PROJECT, user: { token: TOKEN } });
    assert.deepEqual(config.contexts[1], { name: PROJECT, context: { cluster: PROJECT, user: PROJECT } });

    const table = await kubectl.ok(["--kubeconfig", file, "--context", PROJECT, "get", "exportpolicies"]);
    assert.match(table, /^NAME\s+READY\s+SOURCES\s+SINKS\s+AGE\nreached\s/);
    const contexts = await kubectl.ok(["--kubeconfig", file, "config", "get-contexts", "-o", "name"]);
    assert.deepEqual(contexts.trim().split("\n").sort(), [PROJECT, "prod"]);
    assert.equal((await kubectl.ok(["--kubeconfig", file, "config", "current-context"])).trim(), "prod");
  });

  it("run again, replaces its entries; a fresh file gets the project as its current context", async () => {
    const file = join(dir, "config");
    process.env["KUBECONFIG"] = file;
    assert.equal((await runCli(kubeconfigFlags())).code, 0);
    const config = parse(await readFile(file, "utf8")) as Config;
    assert.deepEqual(names(config.contexts), ["prod", PROJECT]);

    const fresh = join(dir, "new", "dir", "config");
    process.env["KUBECONFIG"] = fresh;
    const result = await runCli(kubeconfigFlags());
    assert.match(result.stdout, /it is the current context/);
    assert.equal((await stat(fresh)).mode & 0o777, 0o600);
    const listed = await kubectl.ok(["--kubeconfig", fresh, "get", "ep", "-o", "name"]);
    assert.equal(listed, "exportpolicy.telemetry.miloapis.com/reached\n");
  });

  it("-o - prints the kubeconfig and writes nothing", async () => {
    const file = join(dir, "untouched");
    process.env["KUBECONFIG"] = file;
    const result = await runCli([...kubeconfigFlags(), "-n", "team", "-o", "-"]);
    assert.equal(result.code, 0, result.stderr);
    const config = parse(result.stdout) as Config;
    assert.equal(config["current-context"], PROJECT);
    assert.deepEqual(config.contexts[0]?.context, { cluster: PROJECT, user: PROJECT, namespace: "team" });
    await assert.rejects(stat(file), /ENOENT/);
  });

  it("refuses TLS flags for an http server, and both TLS flags at once", async () => {
    const http = await runCli([
      "kubeconfig",
      "--server",
      "http://127.0.0.1:6443",
      "--project",
      "p",
      "--certificate-authority",
      caFile,
      "-o",
      "-",
    ]);
    assert.equal(http.code, 2);
    assert.match(http.stderr, /are for an https server/);
    const both = await runCli([...kubeconfigFlags(), "--insecure-skip-tls-verify", "-o", "-"]);
    assert.equal(both.code, 2);
    const warned = await runCli([
      "kubeconfig",
      "--server",
      "http://127.0.0.1:6443",
      "--project",
      "p",
      "--token",
      "t",
      "-o",
      "-",
    ]);
    assert.equal(warned.code, 0);
    assert.match(warned.stderr, /kubectl sends a bearer token over https only/);
  });
});
