// The kubeconfig and in-cluster loaders: what kubectl reads, read the same way.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KubeconfigError, inClusterConnection, loadKubeconfig } from "./config.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("loadKubeconfig", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-kubeconfig-"));
    await writeFile(join(dir, "ca.pem"), "CA FROM FILE");
    await writeFile(join(dir, "token"), "token-from-file\n");
    const plugin = join(dir, "plugin.sh");
    await writeFile(
      plugin,
      '#!/bin/sh\necho \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-\'"$SUFFIX"\'"}}\'\n',
    );
    await chmod(plugin, 0o755);
    await writeFile(
      join(dir, "config"),
      [
        "apiVersion: v1",
        "kind: Config",
        "current-context: main",
        "clusters:",
        `- name: one`,
        `  cluster: {server: "https://one.example:6443/prefix/", certificate-authority-data: ${b64("CA DATA")}, tls-server-name: api.one}`,
        "- name: two",
        "  cluster: {server: https://two.example, certificate-authority: ca.pem, insecure-skip-tls-verify: true}",
        "users:",
        `- name: token-user`,
        `  user: {token: abc, client-certificate-data: ${b64("CERT")}, client-key-data: ${b64("KEY")}}`,
        "- name: file-user",
        "  user: {tokenFile: token}",
        "- name: basic-user",
        "  user: {username: ann, password: pw}",
        "- name: exec-user",
        `  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ${JSON.stringify(plugin)}, env: [{name: SUFFIX, value: xyz}]}}`,
        "contexts:",
        "- name: main",
        "  context: {cluster: one, user: token-user, namespace: team-a}",
        "- name: files",
        "  context: {cluster: two, user: file-user}",
        "- name: basic",
        "  context: {cluster: two, user: basic-user}",
        "- name: exec",
        "  context: {cluster: two, user: exec-user}",
        "- name: broken",
        "  context: {cluster: nowhere, user: token-user}",
        "",
      ].join("\n"),
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the current context: server without trailing slash, inline CA, client certificate, token", () => {
    const connection = loadKubeconfig(join(dir, "config"));
    assert.equal(connection.server, "https://one.example:6443/prefix");
    assert.deepEqual(connection.tls, {
      rejectUnauthorized: true,
      ca: "CA DATA",
      cert: "CERT",
      key: "KEY",
      servername: "api.one",
    });
    assert.equal(connection.authorization(), "Bearer abc");
    assert.equal(connection.namespace, "team-a");
  });

  it("reads files relative to the kubeconfig, and honours insecure-skip-tls-verify", () => {
    const connection = loadKubeconfig(join(dir, "config"), "files");
    assert.equal(connection.tls.ca, "CA FROM FILE");
    assert.equal(connection.tls.rejectUnauthorized, false);
    assert.equal(connection.authorization(), "Bearer token-from-file");
  });

  it("supports basic auth and exec credential plugins", () => {
    assert.equal(loadKubeconfig(join(dir, "config"), "basic").authorization(), `Basic ${b64("ann:pw")}`);
    assert.equal(loadKubeconfig(join(dir, "config"), "exec").authorization(), "Bearer exec-xyz");
  });

  it("names what is missing", () => {
    assert.throws(() => loadKubeconfig(join(dir, "config"), "nope"), /no context named "nope"/);
    assert.throws(() => loadKubeconfig(join(dir, "config"), "broken"), /no cluster named "nowhere"/);
    assert.throws(() => loadKubeconfig(join(dir, "absent")), KubeconfigError);
  });
});

describe("inClusterConnection", () => {
  it("uses the service account's CA, namespace and token, re-reading the token on every request", async () => {
    const dir = await mkdtemp(join(tmpdir(), "telex-sa-"));
    try {
      await writeFile(join(dir, "ca.crt"), "CLUSTER CA");
      await writeFile(join(dir, "namespace"), "telemetry\n");
      await writeFile(join(dir, "token"), "first\n");
      const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };
      const connection = inClusterConnection(env, dir);
      assert.ok(connection !== undefined);
      assert.equal(connection.server, "https://[fd00::1]:443");
      assert.deepEqual(connection.tls, { ca: "CLUSTER CA", rejectUnauthorized: true });
      assert.equal(connection.namespace, "telemetry");
      assert.equal(connection.authorization(), "Bearer first");
      await writeFile(join(dir, "token"), "rotated\n");
      assert.equal(connection.authorization(), "Bearer rotated");
      assert.equal(inClusterConnection({}, dir), undefined, "outside a pod");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
