// The guarded connector against real servers on loopback: names are resolved
// and every answer checked before a socket opens, each new connection is
// checked again (DNS rebinding), and an allowed name still connects.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "undici";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { EndpointForbiddenError, guardedConnector, resolveAllowed, type LookupAll } from "./connector.js";
import { EgressPolicy } from "./policy.js";

const fixed =
  (addresses: readonly string[]): LookupAll =>
  () =>
    Promise.resolve(addresses);

describe("resolveAllowed", () => {
  const shared = new EgressPolicy({ sharedTenancy: true });

  it("refuses a name that resolves to a denied address, naming both", async () => {
    await assert.rejects(
      resolveAllowed(shared, "sink.example", 443, fixed(["127.0.0.1"])),
      (error: unknown) =>
        error instanceof EndpointForbiddenError &&
        error.message ===
          "sink.example → 127.0.0.1 is loopback (denied on a shared server; allow with --endpoint-allow)",
    );
  });

  it("refuses a name if any of its addresses is denied, not only the first", async () => {
    await assert.rejects(
      resolveAllowed(shared, "sink.example", 443, fixed(["93.184.216.34", "169.254.169.254"])),
      /sink\.example → 169\.254\.169\.254 is a cloud metadata address/,
    );
  });

  it("refuses a metadata name without looking it up", async () => {
    const lookup: LookupAll = () => Promise.reject(new Error("must not be looked up"));
    await assert.rejects(
      resolveAllowed(shared, "metadata.google.internal", 80, lookup),
      /metadata\.google\.internal is a cloud metadata name/,
    );
  });

  it("returns every checked address of an allowed name, in order", async () => {
    assert.deepEqual(
      await resolveAllowed(shared, "sink.example", 443, fixed(["93.184.216.34", "2606:2800:220:1::1"])),
      ["93.184.216.34", "2606:2800:220:1::1"],
    );
    assert.deepEqual(await resolveAllowed(shared, "93.184.216.34", 443, fixed([])), ["93.184.216.34"]);
  });
});

describe("guardedConnector with undici", () => {
  let server: FaultServer;
  const clients: Client[] = [];
  before(async () => {
    server = await startFaultServer(() => ({ status: 204 }));
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.destroy()));
    await server.close();
  });

  const port = () => new URL(server.url).port;
  const client = (origin: string, policy: EgressPolicy, lookup?: LookupAll) => {
    const created = new Client(origin, {
      connect: guardedConnector({ policy, timeoutMs: 2000, ...(lookup === undefined ? {} : { lookup }) }),
    });
    clients.push(created);
    return created;
  };
  const post = (c: Client, reset = false) =>
    c.request({ method: "POST", path: "/api/v1/write", body: "x", reset });

  it("refuses localhost when loopback is denied; nothing reaches the server", async () => {
    const before = server.requests.length;
    const c = client(`http://localhost:${port()}`, new EgressPolicy({ sharedTenancy: true }));
    await assert.rejects(post(c), (error: unknown) => {
      assert.ok(error instanceof EndpointForbiddenError, String(error));
      assert.match(error.message, /^localhost → (127\.0\.0\.1|::1) is loopback/);
      return true;
    });
    assert.equal(server.requests.length, before);
  });

  it("connects through localhost when loopback is allowed, trying each address until one answers", async () => {
    const before = server.requests.length;
    // Nothing listens on 127.0.0.3 at this port: the connector moves on to 127.0.0.1.
    const c = client(`http://sink.test:${port()}`, new EgressPolicy(), fixed(["127.0.0.3", "127.0.0.1"]));
    const response = await post(c);
    await response.body.dump();
    assert.equal(response.statusCode, 204);
    assert.equal(server.requests.length, before + 1);
    assert.equal(server.requests.at(-1)?.headers.host, `sink.test:${port()}`, "Host header keeps the name");
  });

  it("checks every new connection: a name rebound to a denied address is refused", async () => {
    const before = server.requests.length;
    const answers = [["127.0.0.1"], ["127.0.0.2"]];
    let lookups = 0;
    const rebinding: LookupAll = () => Promise.resolve(answers[Math.min(lookups++, 1)] ?? []);
    const c = client(`http://sink.test:${port()}`, new EgressPolicy({ deny: ["127.0.0.2/32"] }), rebinding);
    const first = await post(c, true);
    await first.body.dump();
    assert.equal(first.statusCode, 204);
    await assert.rejects(
      post(c),
      /sink\.test → 127\.0\.0\.2 is in 127\.0\.0\.2\/32 \(denied by --endpoint-deny\)/,
    );
    assert.equal(lookups, 2, "looked up again for the new connection");
    assert.equal(server.requests.length, before + 1);
  });
});
