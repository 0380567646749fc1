import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { freePort, peerAvailability } from "./peers.js";

describe("peerAvailability", () => {
  it("finds a binary on PATH", () => {
    const node = peerAvailability("node", "install node", { PATH: process.env["PATH"] ?? "" });
    assert.ok(node.path?.endsWith("/node"));
    assert.equal(node.skip, undefined);
    assert.equal(node.requirePath(), node.path);
  });

  it("skips with a reason when missing outside CI", () => {
    const missing = peerAvailability("no-such-peer-binary", "apt-get install it", { PATH: "/nonexistent" });
    assert.equal(missing.path, undefined);
    assert.match(missing.skip ?? "", /no-such-peer-binary is not installed \(apt-get install it\)/);
    assert.throws(() => missing.requirePath(), /no-such-peer-binary is not installed/);
  });

  it("does not skip but fails when missing under CI=true", () => {
    const missing = peerAvailability("no-such-peer-binary", "apt-get install it", {
      PATH: "/nonexistent",
      CI: "true",
    });
    assert.equal(missing.skip, undefined);
    assert.throws(() => missing.requirePath(), /CI=true requires every peer test to run/);
  });
});

describe("freePort", () => {
  it("returns a port that can be bound on 127.0.0.1", async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });
});
