// HTTPS delivery: a certificate from a CA the process trusts is accepted
// (explicitly, or through SSL_CERT_FILE as an operator would set it); an
// unknown CA is refused and reported as Unreachable with the TLS reason.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { peerAvailability } from "../../../test-support/peers.js";
import { EgressPolicy } from "../egress/index.js";
import { systemClock } from "../../util/index.js";
import { HttpSender } from "./http-sender.js";
import { trustedCertificates } from "./trust.js";

const openssl = peerAvailability("openssl", "apt-get install openssl");

describe("HTTPS sinks", { skip: openssl.skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "telex-tls-"));
  let server: Server;
  let url = "";
  let caPem = "";
  let lastServername: string | undefined;
  const run = (...args: string[]) => execFileSync(openssl.requirePath(), args, { cwd: dir, stdio: "pipe" });

  before(async () => {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=telex test CA",
    );
    run("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
    writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    run(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "2",
      "-extfile",
      "san.ext",
    );
    caPem = readFileSync(join(dir, "ca.pem"), "utf8");
    server = createServer(
      { key: readFileSync(join(dir, "server.key")), cert: readFileSync(join(dir, "server.pem")) },
      (req, res) => {
        const sni: unknown = Reflect.get(req.socket, "servername");
        lastServername = typeof sni === "string" ? sni : undefined;
        req.resume();
        req.on("end", () => res.writeHead(204).end());
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    url = `https://127.0.0.1:${address.port}/api/v1/write`;
  });

  after(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    rmSync(dir, { recursive: true, force: true });
  });

  const send = async (ca?: readonly string[], endpoint = url) => {
    const sender = new HttpSender({
      endpoint,
      egress: new EgressPolicy(),
      requestTimeoutMs: 5000,
      clock: systemClock,
      ...(ca ? { ca } : {}),
    });
    try {
      return await sender.send(new Uint8Array([0]), new AbortController().signal);
    } finally {
      await sender.close();
    }
  };

  it("delivers to an endpoint whose CA is trusted", async () => {
    assert.deepEqual(await send([caPem]), { kind: "ok" });
  });

  it("checks the certificate against the endpoint's name, not the address the egress connector dialled", async () => {
    // The connector resolves localhost itself and connects to an address;
    // SNI (and with it the identity check) must still say "localhost".
    const named = url.replace("127.0.0.1", "localhost");
    assert.deepEqual(await send([caPem], named), { kind: "ok" });
    assert.equal(lastServername, "localhost");
  });

  it("trusts a bundle named by SSL_CERT_FILE, on top of the bundled roots", async () => {
    const trusted = trustedCertificates({ SSL_CERT_FILE: join(dir, "ca.pem") });
    assert.ok(trusted.includes(caPem));
    assert.ok(trusted.length > 100, "bundled roots kept");
    assert.deepEqual(await send(trusted), { kind: "ok" });
  });

  it("refuses an unknown CA as Unreachable, naming the TLS problem", async () => {
    const outcome = await send(trustedCertificates({ SSL_CERT_FILE: join(dir, "missing.pem") }));
    assert.ok(outcome.kind === "retryable", JSON.stringify(outcome));
    assert.equal(outcome.reason, "Unreachable");
    assert.match(outcome.message, /certificate/i);
  });
});
