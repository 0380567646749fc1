// `telex test-sink` end to end: the CLI against a whole `telex serve` in this
// process, which sends the request to real receivers — VictoriaMetrics
// (open, and with basic auth), Prometheus with its remote-write receiver —
// and to what they cannot be made to do on demand: a scriptable HTTP server
// (400, 401 echoing the credentials, a redirect), a TLS server with a
// self-signed certificate, a closed port, a name that does not resolve, and
// addresses the egress policy refuses. Every case asserts the printed phase
// lines, the fix, and the exit status (0 only when the endpoint took it).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { snappyUncompress } from "../../remotewrite/index.js";
import { startApiOnly, startServer, type RunningServer } from "../../serve/index.js";
import { runCli, type CommandResult } from "../../../test-support/cli.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import {
  prometheusAvailability,
  startPrometheus,
  type RunningPrometheus,
} from "../../../test-support/prometheus.js";
import { selfSignedCert } from "../../../test-support/self-signed-cert.js";
import { startTestApiServer, type TestApiServer } from "../../../test-support/telex-api.js";
import {
  forceFlush,
  querySeries,
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../../test-support/victoriametrics.js";

// No developer's config file may change the defaults these tests rely on.
process.env["TELEX_CONFIG"] = join(tmpdir(), "telex-test-no-config.yaml");

const PROJECT = "sink-tests";
const VM_USER = "telex-writer";
const VM_PASSWORD = "s3cret-Passw0rd";
const ADMIN_TOKEN = "admin-token-0123456789";
const VIEWER_TOKEN = "viewer-token-0123456789";

interface SinkSpec {
  readonly name?: string;
  readonly endpoint: string;
  readonly secret?: string;
}

/** A policy manifest (and Secrets) as a person writes it. */
function manifest(sinks: readonly SinkSpec[], policy = "edge", extra: readonly object[] = []): string {
  const object = {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: policy },
    spec: {
      sources: [{ name: "gw", metrics: { metricsql: '{resource_kind="Gateway"}' } }],
      sinks: sinks.map((sink) => ({
        name: sink.name ?? "remote",
        sources: ["gw"],
        target: {
          prometheusRemoteWrite: {
            endpoint: sink.endpoint,
            ...(sink.secret === undefined
              ? {}
              : { authentication: { basicAuth: { secretRef: { name: sink.secret } } } }),
          },
        },
      })),
    },
  };
  return [...extra, object].map((o) => stringify(o)).join("---\n");
}

function basicAuthSecret(name: string, username: string, password: string): object {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name },
    type: "kubernetes.io/basic-auth",
    stringData: { username, password },
  };
}

/** The line of a phase (AUTH, DNS, TCP, TLS, HTTP), and the fix under it if any. */
function phase(result: CommandResult, name: string): { line: string; fix: string | undefined } {
  const lines = result.stdout.split("\n");
  const index = lines.findIndex((l) => l.startsWith(`${name.padEnd(5)} `));
  assert.ok(index >= 0, `no ${name} line in:\n${result.stdout}\n${result.stderr}`);
  const next = lines[index + 1] ?? "";
  return {
    line: lines[index] ?? "",
    fix: next.startsWith("      fix: ") ? next.slice("      fix: ".length) : undefined,
  };
}

/** `NAME  result  time  message` with a time, the way test-sink prints a phase that ran. */
function timed(name: string, result: string, message: RegExp): RegExp {
  return new RegExp(`^${name.padEnd(5)} ${result.padEnd(9)} \\d+(\\.\\d)? (ms|s) +${message.source}`);
}

/** A phase that did not run: no time. */
function untimed(name: string, result: string, message: string): string {
  return `${name.padEnd(5)} ${result.padEnd(9)}          ${message}`;
}

/** What a suite started, stopped in reverse order even when its `before` failed half way. */
class Cleanup {
  private readonly steps: (() => Promise<unknown>)[] = [];
  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }
  started<T extends { stop(): Promise<void> }>(peer: T): T {
    this.add(() => peer.stop());
    return peer;
  }
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }
}

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address !== "string");
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return address.port;
}

describe("telex test-sink", { skip: victoriaMetricsAvailability().skip }, () => {
  let dir: string;
  let server: RunningServer;
  let vm: RunningVictoriaMetrics;
  let securedVm: RunningVictoriaMetrics;
  let fault: FaultServer;
  const cleanup = new Cleanup();
  let flags: string[];

  const testSink = (stdin: string, ...args: string[]): Promise<CommandResult> =>
    runCli(["test-sink", "-f", "-", ...args, ...flags], stdin);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-test-sink-"));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    vm = cleanup.started(await startVictoriaMetrics());
    securedVm = cleanup.started(
      await startVictoriaMetrics({ httpAuth: { username: VM_USER, password: VM_PASSWORD } }),
    );
    fault = await startFaultServer();
    cleanup.add(() => fault.close());
    // Single-user (no tokens file): loopback receivers are allowed, as on a laptop.
    server = cleanup.started(
      await startServer({
        apiListen: "127.0.0.1:0",
        ingestListen: "127.0.0.1:0",
        dataDir: join(dir, "data"),
      }),
    );
    flags = ["--server", server.api.url, "--project", PROJECT];
  });

  after(() => cleanup.run());

  it("VictoriaMetrics takes the empty WriteRequest: 204, each phase timed, exit 0, nothing written", async () => {
    const port = new URL(vm.url).port;
    const result = await testSink(manifest([{ endpoint: `${vm.url}/api/v1/write` }]));
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stderr, "");
    const lines = result.stdout.trimEnd().split("\n");
    assert.equal(
      lines[0],
      `Testing sink remote of exportpolicy/edge (namespace default) from the Telex server at ${server.api.url}:`,
    );
    assert.equal(lines[1], `one empty Remote Write request (no samples) to ${vm.url}/api/v1/write`);
    assert.equal(
      phase(result, "AUTH").line,
      untimed("AUTH", "skipped", "no credentials: the sink has no authentication.basicAuth.secretRef"),
    );
    assert.equal(
      phase(result, "DNS").line,
      untimed("DNS", "skipped", "127.0.0.1 is an IP address: nothing to look up"),
    );
    assert.match(
      phase(result, "TCP").line,
      timed("TCP", "ok", new RegExp(`connected to 127\\.0\\.0\\.1:${port}$`)),
    );
    assert.equal(phase(result, "TLS").line, untimed("TLS", "skipped", "http:// endpoint: not encrypted"));
    assert.match(
      phase(result, "HTTP").line,
      timed("HTTP", "ok", /204 No Content: accepted \(the request held no samples: nothing was written\)$/),
    );
    assert.equal(phase(result, "HTTP").fix, undefined);
    assert.equal(lines.at(-1), "Result: accepted — the endpoint took the request.");
    await forceFlush(vm);
    const now = Math.floor(Date.now() / 1000);
    assert.deepEqual(await querySeries(vm, ['{__name__=~".+"}'], { start: now - 3600, end: now + 60 }), []);
  });

  it("sends the sink's headers and an empty WriteRequest; a 400 prints the receiver's body", async () => {
    fault.script(() => ({ status: 400, body: "out of order sample\nfor series up" }));
    const before = fault.requests.length;
    const result = await testSink(manifest([{ endpoint: `${fault.url}/receive?tenant=a` }]));
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(
      phase(result, "HTTP").line,
      timed("HTTP", "failed", /400 Bad Request: out of order sample for series up$/),
    );
    assert.match(
      phase(result, "HTTP").fix ?? "",
      /refused an empty WriteRequest, which Prometheus and VictoriaMetrics accept/,
    );
    assert.match(result.stdout, /\nResult: not accepted at HTTP\.\n$/);
    const [request, ...more] = fault.requests.slice(before);
    assert.equal(more.length, 0, "one request");
    assert.ok(request !== undefined);
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/receive?tenant=a");
    assert.equal(request.headers["content-encoding"], "snappy");
    assert.equal(request.headers["content-type"], "application/x-protobuf");
    assert.equal(request.headers["x-prometheus-remote-write-version"], "0.1.0");
    assert.equal(request.headers["telex-exported"], "1");
    assert.equal(request.headers["authorization"], undefined);
    assert.equal(snappyUncompress(request.body, 1024).length, 0, "a WriteRequest without series");
  });

  it("a 401 names the Secret whose credentials were refused, and never shows them", async () => {
    const secret = basicAuthSecret("receiver-creds", "alice", "hunter2-Pa55");
    const applied = await runCli(["apply", "-f", "-", ...flags], stringify(secret));
    assert.equal(applied.code, 0, applied.stderr);
    // A receiver that echoes what it got, Authorization included.
    fault.script((request) => ({
      status: 401,
      body: `bad credentials ${String(request.headers["authorization"])} for alice`,
    }));
    const result = await testSink(
      manifest([{ endpoint: `${fault.url}/api/v1/write`, secret: "receiver-creds" }]),
    );
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.equal(
      phase(result, "AUTH").line,
      untimed("AUTH", "ok", "basic auth with the credentials of Secret default/receiver-creds"),
    );
    assert.equal(
      phase(result, "TLS").line,
      untimed(
        "TLS",
        "skipped",
        "http:// endpoint: not encrypted, so the Secret's credentials cross the network readable",
      ),
    );
    assert.match(
      phase(result, "HTTP").line,
      timed("HTTP", "failed", /401 Unauthorized: bad credentials \[REDACTED\] for \[REDACTED\]$/),
    );
    assert.equal(
      phase(result, "HTTP").fix,
      "the endpoint refused the credentials of Secret default/receiver-creds: check its username and password",
    );
    const sent = Buffer.from("alice:hunter2-Pa55").toString("base64");
    for (const secretText of ["hunter2-Pa55", sent, "alice"])
      assert.ok(!result.stdout.includes(secretText), secretText);
    fault.script(() => ({ status: 204 }));
  });

  it("a redirect is not followed: the fix names where it points", async () => {
    fault.script(() => ({ status: 308, headers: { Location: "https://elsewhere.example/api/v1/write" } }));
    const result = await testSink(manifest([{ endpoint: `${fault.url}/old/write` }]));
    assert.equal(result.code, 1);
    assert.match(phase(result, "HTTP").line, timed("HTTP", "failed", /308 Permanent Redirect$/));
    assert.equal(
      phase(result, "HTTP").fix,
      "the endpoint redirects to https://elsewhere.example/api/v1/write, and sinks do not follow redirects: if that is the receiver, make it the endpoint",
    );
    fault.script(() => ({ status: 204 }));
  });

  it("VictoriaMetrics with basic auth: the right Secret is accepted, a wrong one is named, none is said", async () => {
    const secrets = [
      basicAuthSecret("vm-good", VM_USER, VM_PASSWORD),
      basicAuthSecret("vm-bad", VM_USER, "not-the-password"),
    ];
    const applied = await runCli(
      ["apply", "-f", "-", ...flags],
      secrets.map((s) => stringify(s)).join("---\n"),
    );
    assert.equal(applied.code, 0, applied.stderr);
    const endpoint = `${securedVm.url}/api/v1/write`;

    const good = await testSink(manifest([{ endpoint, secret: "vm-good" }]));
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(phase(good, "HTTP").line, timed("HTTP", "ok", /204 No Content: accepted/));

    const bad = await testSink(manifest([{ endpoint, secret: "vm-bad" }]));
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(phase(bad, "HTTP").line, timed("HTTP", "failed", /401 Unauthorized/));
    assert.equal(
      phase(bad, "HTTP").fix,
      "the endpoint refused the credentials of Secret default/vm-bad: check its username and password",
    );
    assert.ok(!bad.stdout.includes("not-the-password"));

    const none = await testSink(manifest([{ endpoint }]));
    assert.equal(none.code, 1, none.stdout + none.stderr);
    assert.match(phase(none, "HTTP").line, timed("HTTP", "failed", /401 Unauthorized/));
    assert.equal(
      phase(none, "HTTP").fix,
      "no credentials were sent: the sink has no authentication.basicAuth.secretRef. Create a Secret with `telex create secret basic-auth NAME --username USER --password PASSWORD` and name it in the sink's target.prometheusRemoteWrite.authentication.basicAuth.secretRef.name",
    );
  });

  it("a wrong path on VictoriaMetrics (400 unsupported path): the fix lists the receivers' paths", async () => {
    const result = await testSink(manifest([{ endpoint: `${vm.url}/insert/0/prometheus/api/v1/write` }]));
    assert.equal(result.code, 1);
    assert.match(
      phase(result, "HTTP").line,
      timed("HTTP", "failed", /400 Bad Request: .*unsupported path requested/),
    );
    assert.match(
      phase(result, "HTTP").fix ?? "",
      /^wrong path\? Remote Write receivers listen at \/api\/v1\/write \(Prometheus started with --web\.enable-remote-write-receiver, VictoriaMetrics single-node, vmagent\), \/insert\/0\/prometheus\/api\/v1\/write \(VictoriaMetrics cluster's vminsert/,
    );
  });

  it("nothing listening: TCP fails with ECONNREFUSED, TLS and HTTP not reached", async () => {
    const port = await closedPort();
    const result = await testSink(manifest([{ endpoint: `http://127.0.0.1:${port}/api/v1/write` }]));
    assert.equal(result.code, 1);
    assert.match(
      phase(result, "TCP").line,
      timed("TCP", "failed", new RegExp(`127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED\\)$`)),
    );
    assert.equal(
      phase(result, "TCP").fix,
      `nothing listens at 127.0.0.1:${port}: check the port in the endpoint and that the receiver is running`,
    );
    assert.equal(phase(result, "TLS").line, untimed("TLS", "skipped", "not reached"));
    assert.equal(phase(result, "HTTP").line, untimed("HTTP", "skipped", "not reached"));
    assert.match(result.stdout, /\nResult: not accepted at TCP\.\n$/);
  });

  it("a name that does not resolve: DNS fails with ENOTFOUND and says to check the host name", async () => {
    const result = await testSink(manifest([{ endpoint: "https://nonexistent.invalid/api/v1/write" }]));
    assert.equal(result.code, 1);
    assert.match(
      phase(result, "DNS").line,
      timed("DNS", "failed", /nonexistent\.invalid does not resolve: no such host \(ENOTFOUND\)$/),
    );
    assert.match(phase(result, "DNS").fix ?? "", /^check the host name in the endpoint/);
    assert.equal(phase(result, "TCP").line, untimed("TCP", "skipped", "not reached"));
  });

  describe("over TLS with a self-signed certificate", () => {
    let https: HttpsServer;
    let requests = 0;
    let port = 0;

    before(async () => {
      const cert = selfSignedCert("receiver.test");
      https = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (request, response) => {
        requests++;
        request.resume();
        response.writeHead(204).end();
      });
      await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
      const address = https.address();
      assert.ok(address !== null && typeof address !== "string");
      port = address.port;
    });
    after(async () => {
      https.closeAllConnections();
      await new Promise<void>((resolve) =>
        https.close(() => {
          resolve();
        }),
      );
    });

    it("TLS fails as not trusted, says how Telex trusts CAs, and sends nothing", async () => {
      const result = await testSink(manifest([{ endpoint: `https://localhost:${port}/api/v1/write` }]));
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(phase(result, "DNS").line, timed("DNS", "ok", /localhost → .*127\.0\.0\.1/));
      assert.match(
        phase(result, "TCP").line,
        timed("TCP", "ok", new RegExp(`connected to 127\\.0\\.0\\.1:${port}`)),
      );
      assert.match(
        phase(result, "TLS").line,
        timed(
          "TLS",
          "failed",
          /TLSv1\.3 \S+; certificate CN=receiver\.test issued by CN=receiver\.test, valid until .+; not trusted: it is self-signed \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/,
        ),
      );
      assert.match(
        phase(result, "TLS").fix ?? "",
        /^the certificate is not trusted\. Telex trusts the public CAs bundled with Node\.js and the server's system bundle \(\/etc\/ssl\/certs\/ca-certificates\.crt, or the file named by SSL_CERT_FILE\); a sink has no CA setting of its own\./,
      );
      assert.equal(phase(result, "HTTP").line, untimed("HTTP", "skipped", "not reached"));
      assert.equal(requests, 0, "nothing is sent over an unverified connection");
    });
  });

  it("the egress policy: Telex's own listener and metadata are refused, never connected to", async () => {
    const own = new URL(server.api.url);
    const result = await testSink(manifest([{ endpoint: `${server.api.url}/api/v1/write` }]));
    assert.equal(result.code, 1);
    assert.equal(
      phase(result, "TCP").line,
      untimed(
        "TCP",
        "forbidden",
        `${own.hostname}:${own.port} is Telex's API listener (always denied): not connected`,
      ),
    );
    assert.match(
      phase(result, "TCP").fix ?? "",
      /^this server does not connect tenants' sinks to that address \(egress policy\)/,
    );
    assert.match(result.stdout, /\nResult: not accepted at TCP\.\n$/);

    const metadata = await testSink(
      manifest([{ endpoint: "http://metadata.google.internal/computeMetadata/v1/" }]),
    );
    assert.equal(metadata.code, 1);
    assert.equal(
      phase(metadata, "DNS").line,
      untimed(
        "DNS",
        "forbidden",
        "metadata.google.internal is a cloud metadata name (always denied): not looked up",
      ),
    );
    const literal = await testSink(manifest([{ endpoint: "http://169.254.169.254/latest/meta-data/" }]));
    assert.equal(
      phase(literal, "TCP").line,
      untimed(
        "TCP",
        "forbidden",
        "169.254.169.254 is a cloud metadata address (denied; allow with --endpoint-allow): not connected",
      ),
    );
  });

  it("a missing Secret: AUTH fails with the command that creates it, nothing is sent; the file's Secret is pointed at", async () => {
    const before = fault.requests.length;
    const file = join(dir, "with-secret.yaml");
    await writeFile(
      file,
      manifest([{ endpoint: `${fault.url}/api/v1/write`, secret: "not-applied" }], "edge", [
        basicAuthSecret("not-applied", "u", "p"),
      ]),
    );
    const result = await runCli(["test-sink", "-f", file, ...flags]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.equal(
      phase(result, "AUTH").line,
      untimed("AUTH", "failed", "Secret default/not-applied not found"),
    );
    assert.equal(
      phase(result, "AUTH").fix,
      "create it: telex create secret basic-auth not-applied --username USER --password PASSWORD",
    );
    for (const name of ["DNS", "TCP", "TLS", "HTTP"]) {
      assert.equal(
        phase(result, name).line,
        untimed(name, "skipped", "not reached: nothing is sent without the Secret's credentials"),
      );
    }
    assert.ok(
      result.stdout.includes(
        `      hint: ${file} holds Secret not-applied: \`telex apply -f ${file}\` stores it (and the policy)\n`,
      ),
      result.stdout,
    );
    assert.equal(fault.requests.length, before);
  });

  it("tests a stored policy by name; several sinks need --sink (exit 2 from a file)", async () => {
    const two = manifest(
      [
        { name: "vm", endpoint: `${vm.url}/api/v1/write` },
        { name: "down", endpoint: `http://127.0.0.1:${await closedPort()}/api/v1/write` },
      ],
      "stored",
    );
    const unnamed = await testSink(two);
    assert.equal(unnamed.code, 2, unnamed.stderr);
    assert.match(unnamed.stderr, /^error: ExportPolicy stored has sinks vm, down: name one with --sink\n/);

    const applied = await runCli(["apply", "-f", "-", ...flags], two);
    assert.equal(applied.code, 0, applied.stderr);
    const stored = await runCli(["test-sink", "stored", "--sink", "vm", ...flags]);
    assert.equal(stored.code, 0, stored.stdout + stored.stderr);
    assert.match(stored.stdout, /^Testing sink vm of exportpolicy\/stored /);
    const down = await runCli(["test-sink", "stored", "--sink", "down", "-o", "json", ...flags]);
    assert.equal(down.code, 1);
    const answer = JSON.parse(down.stdout) as {
      kind: string;
      status: { accepted: boolean; phases: { name: string; result: string; reason?: string }[] };
    };
    assert.equal(answer.kind, "ExportPolicySinkTest");
    assert.equal(answer.status.accepted, false);
    assert.deepEqual(
      answer.status.phases.map((p) => [p.name, p.result, p.reason ?? ""]),
      [
        ["Auth", "Skipped", ""],
        ["DNS", "Skipped", ""],
        ["TCP", "Failed", "ECONNREFUSED"],
        ["TLS", "Skipped", ""],
        ["HTTP", "Skipped", ""],
      ],
    );
    const missing = await runCli(["test-sink", "stored", "--sink", "nope", ...flags]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /spec\.sink: Not found: "nope": the policy's sinks are vm, down/);
  });
});

describe("telex test-sink against Prometheus", { skip: prometheusAvailability().skip }, () => {
  let dir: string;
  let prometheus: RunningPrometheus;
  let flags: string[];
  const cleanup = new Cleanup();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-test-sink-prom-"));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    prometheus = cleanup.started(await startPrometheus());
    const server = cleanup.started(
      await startServer({
        apiListen: "127.0.0.1:0",
        ingestListen: "127.0.0.1:0",
        dataDir: join(dir, "data"),
      }),
    );
    flags = ["--server", server.api.url, "--project", PROJECT];
  });
  after(() => cleanup.run());

  it("its remote-write receiver takes the empty WriteRequest (204); a wrong path is 404 with the paths", async () => {
    const ok = await runCli(
      ["test-sink", "-f", "-", ...flags],
      manifest([{ endpoint: prometheus.remoteWriteUrl }]),
    );
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(phase(ok, "HTTP").line, timed("HTTP", "ok", /204 No Content: accepted/));

    const wrong = await runCli(
      ["test-sink", "-f", "-", ...flags],
      manifest([{ endpoint: `${prometheus.url}/api/v1/push` }]),
    );
    assert.equal(wrong.code, 1);
    assert.match(phase(wrong, "HTTP").line, timed("HTTP", "failed", /404 Not Found: 404 page not found$/));
    assert.match(
      phase(wrong, "HTTP").fix ?? "",
      /^wrong path\? Remote Write receivers listen at \/api\/v1\/write /,
    );
  });
});

describe("telex test-sink on a shared server", () => {
  let dir: string;
  let server: RunningServer;
  let fault: FaultServer;
  const cleanup = new Cleanup();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-test-sink-shared-"));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    fault = await startFaultServer();
    cleanup.add(() => fault.close());
    await writeFile(join(dir, "ingest.token"), "ingest-token-0123456789\n");
    await writeFile(
      join(dir, "tokens.yaml"),
      stringify({
        tokens: [
          { token: ADMIN_TOKEN, user: "alice", projects: [PROJECT], role: "admin" },
          { token: VIEWER_TOKEN, user: "victor", projects: [PROJECT], role: "viewer" },
        ],
      }),
    );
    // A tokens file: strangers share the server, so loopback and private ranges are denied.
    server = cleanup.started(
      await startServer({
        apiListen: "127.0.0.1:0",
        ingestListen: "127.0.0.1:0",
        dataDir: join(dir, "data"),
        tokensFile: join(dir, "tokens.yaml"),
        ingestTokenFile: join(dir, "ingest.token"),
      }),
    );
  });
  after(() => cleanup.run());

  const flags = (token: string): string[] => [
    "--server",
    server.api.url,
    "--project",
    PROJECT,
    "--token",
    token,
  ];

  it("a tenant cannot probe the platform's network: a loopback receiver is Forbidden and gets nothing", async () => {
    const port = new URL(fault.url).port;
    const result = await runCli(
      ["test-sink", "-f", "-", ...flags(ADMIN_TOKEN)],
      manifest([{ endpoint: `http://localhost:${port}/api/v1/write` }]),
    );
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(phase(result, "DNS").line, timed("DNS", "ok", /localhost → /));
    assert.match(
      phase(result, "TCP").line,
      /^TCP {3}forbidden {10}localhost → (127\.0\.0\.1|::1) is loopback \(denied on a shared server; allow with --endpoint-allow\): not connected$/,
    );
    assert.equal(fault.requests.length, 0, "nothing connected, nothing sent");
  });

  it("needs what creating a policy needs: a viewer is refused (403)", async () => {
    const result = await runCli(
      ["test-sink", "-f", "-", ...flags(VIEWER_TOKEN)],
      manifest([{ endpoint: "https://metrics.example.com/api/v1/write" }]),
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: not allowed in project sink-tests \(403 Forbidden\): exportpolicies\.telemetry\.miloapis\.com "edge" is forbidden: User "victor" cannot create resource "exportpolicies\/sinktest"/,
    );
  });
});

describe("telex test-sink against an API server without sinks", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer();
  });
  after(async () => {
    await api.close();
  });

  it("says the server does not serve it", async () => {
    const result = await runCli(
      ["test-sink", "-f", "-", "--server", api.api.url, "--project", PROJECT],
      manifest([{ endpoint: "https://metrics.example.com/api/v1/write" }]),
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: exportpolicies\/sinktest is not served by this API server: no sinks run in its process/,
    );
  });
});

describe(
  "telex test-sink against telex serve --api-only (a fleet's API)",
  { skip: victoriaMetricsAvailability().skip },
  () => {
    let flags: string[];
    let vm: RunningVictoriaMetrics;
    let apiUrl = "";
    const cleanup = new Cleanup();

    before(async () => {
      const dir = await mkdtemp(join(tmpdir(), "telex-test-sink-api-only-"));
      cleanup.add(() => rm(dir, { recursive: true, force: true }));
      vm = cleanup.started(await startVictoriaMetrics());
      // The replicas' egress flags, given to the API too: 127.0.0.2 stands for a platform network.
      const api = cleanup.started(
        await startApiOnly({
          apiListen: "127.0.0.1:0",
          dataDir: join(dir, "data"),
          endpointDeny: ["127.0.0.2/32"],
        }),
      );
      apiUrl = api.api.url;
      flags = ["--server", apiUrl, "--project", PROJECT];
    });
    after(() => cleanup.run());

    it("the API tests the sink itself, under the egress flags it was given", async () => {
      const ok = await runCli(
        ["test-sink", "-f", "-", ...flags],
        manifest([{ endpoint: `${vm.url}/api/v1/write` }]),
      );
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(phase(ok, "HTTP").line, timed("HTTP", "ok", /204 No Content: accepted/));

      const denied = await runCli(
        ["test-sink", "-f", "-", ...flags],
        manifest([{ endpoint: "http://127.0.0.2:9/api/v1/write" }]),
      );
      assert.equal(denied.code, 1);
      assert.match(
        phase(denied, "TCP").line,
        /^TCP {3}forbidden +127\.0\.0\.2 is in 127\.0\.0\.2\/32 \(denied by --endpoint-deny\): not connected$/,
      );

      const own = await runCli(
        ["test-sink", "-f", "-", ...flags],
        manifest([{ endpoint: `${apiUrl}/api/v1/write` }]),
      );
      assert.equal(own.code, 1);
      assert.match(phase(own, "TCP").line, /is Telex's API listener \(always denied\): not connected$/);
    });
  },
);
