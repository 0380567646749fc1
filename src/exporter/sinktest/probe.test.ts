// testSink's phases against local servers, with what the CLI test cannot
// arrange through a whole server: a trusted CA, a certificate for another
// name, plain HTTP on an https:// endpoint, a name with several addresses, and
// a receiver that never answers.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { selfSignedCert } from "../../../test-support/self-signed-cert.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { EgressPolicy } from "../egress/index.js";
import { testSink } from "./probe.js";
import type { SinkTestPhase, SinkTestReport } from "./report.js";

function phase(report: SinkTestReport, name: string): SinkTestPhase {
  const found = report.phases.find((p) => p.name === name);
  assert.ok(found, name);
  return found;
}

async function listen(server: Server, host = "127.0.0.1"): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

const open = new EgressPolicy();

describe("testSink", () => {
  const cert = selfSignedCert("localhost");
  const https = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (request, response) => {
    request.resume();
    request.on("end", () => response.writeHead(204).end());
  });
  let httpsPort = 0;
  let fault: FaultServer;

  before(async () => {
    httpsPort = await listen(https);
    fault = await startFaultServer();
  });
  after(async () => {
    await close(https);
    await fault.close();
  });

  it("verifies a certificate from a trusted CA for the endpoint's name, then sends", async () => {
    const report = await testSink({
      endpoint: `https://localhost:${httpsPort}/api/v1/write`,
      egress: open,
      ca: [cert.certPem],
      lookup: () => Promise.resolve(["127.0.0.1"]),
    });
    assert.equal(report.accepted, true, JSON.stringify(report));
    assert.deepEqual(
      report.phases.map((p) => [p.name, p.result]),
      [
        ["DNS", "Succeeded"],
        ["TCP", "Succeeded"],
        ["TLS", "Succeeded"],
        ["HTTP", "Succeeded"],
      ],
    );
    assert.equal(phase(report, "DNS").message, "localhost → 127.0.0.1");
    assert.match(
      phase(report, "TLS").message,
      /^TLSv1\.3 \S+; certificate CN=localhost issued by CN=localhost, valid until .+; verified for localhost$/,
    );
    for (const p of report.phases) assert.ok(typeof p.durationMs === "number" && p.durationMs >= 0, p.name);
  });

  it("refuses a certificate for another name, and sends nothing", async () => {
    // The certificate names localhost and 127.0.0.1; 127.0.0.2 is another loopback address.
    const other = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_request, response) => {
      response.writeHead(500).end("must not be reached");
    });
    const port = await listen(other, "127.0.0.2");
    try {
      const report = await testSink({
        endpoint: `https://127.0.0.2:${port}/api/v1/write`,
        egress: open,
        ca: [cert.certPem],
      });
      assert.equal(report.accepted, false);
      const tls = phase(report, "TLS");
      assert.equal(tls.result, "Failed");
      assert.equal(tls.reason, "ERR_TLS_CERT_ALTNAME_INVALID");
      assert.match(
        tls.message,
        /not trusted: it is for IP Address:127\.0\.0\.1, DNS:localhost, not 127\.0\.0\.2/,
      );
      assert.equal(
        tls.fix,
        "use a host name the certificate names in the endpoint, or a certificate for 127.0.0.2",
      );
      assert.equal(phase(report, "HTTP").result, "Skipped");
    } finally {
      await close(other);
    }
  });

  it("https:// to a plain HTTP port: the handshake fails, and the fix suggests http://", async () => {
    const port = new URL(fault.url).port;
    const report = await testSink({ endpoint: `https://127.0.0.1:${port}/api/v1/write`, egress: open });
    const tls = phase(report, "TLS");
    assert.equal(tls.result, "Failed");
    assert.match(tls.message, /^handshake failed: /);
    assert.equal(
      tls.fix,
      `127.0.0.1:${port} does not speak TLS: if the receiver serves plain HTTP there, use an http:// endpoint`,
    );
  });

  it("tries each address in turn, as the sinks' connector does", async () => {
    const port = new URL(fault.url).port;
    const report = await testSink({
      endpoint: `http://receiver.test:${port}/api/v1/write`,
      egress: open,
      // Nothing listens on 127.0.0.3 at that port.
      lookup: () => Promise.resolve(["127.0.0.3", "127.0.0.1"]),
    });
    assert.equal(report.accepted, true, JSON.stringify(report));
    assert.equal(phase(report, "DNS").message, "receiver.test → 127.0.0.3, 127.0.0.1");
    assert.equal(
      phase(report, "TCP").message,
      `connected to 127.0.0.1:${port} (after 127.0.0.3:${port}: connection refused (ECONNREFUSED))`,
    );
  });

  it("refuses a name when any of its addresses is denied, connecting to none", async () => {
    const before = fault.requests.length;
    const port = new URL(fault.url).port;
    const report = await testSink({
      endpoint: `http://receiver.test:${port}/api/v1/write`,
      egress: new EgressPolicy({ deny: ["127.0.0.1/32"] }),
      lookup: () => Promise.resolve(["127.0.0.3", "127.0.0.1"]),
    });
    assert.equal(report.accepted, false);
    const tcp = phase(report, "TCP");
    assert.equal(tcp.result, "Forbidden");
    assert.equal(tcp.durationMs, undefined);
    assert.equal(
      tcp.message,
      "receiver.test → 127.0.0.1 is in 127.0.0.1/32 (denied by --endpoint-deny): not connected",
    );
    assert.equal(fault.requests.length, before);
  });

  it("a receiver that never answers: HTTP fails after the response timeout", async () => {
    fault.script(() => ({ hang: true }));
    try {
      const report = await testSink({
        endpoint: `${fault.url}/api/v1/write`,
        egress: open,
        timeouts: { responseMs: 300 },
      });
      const http = phase(report, "HTTP");
      assert.equal(http.result, "Failed");
      assert.equal(http.reason, "ETIMEDOUT");
      assert.equal(http.message, "no answer within 0.3 s");
      assert.match(http.fix ?? "", /does not answer \(a sink waits 30 s\)/);
    } finally {
      fault.script(() => ({ status: 204 }));
    }
  });
});
