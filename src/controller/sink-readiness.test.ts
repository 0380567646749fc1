import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { policyReadiness, sinkReadiness } from "./sink-readiness.js";

describe("sinkReadiness", () => {
  it("reports configuration problems first", () => {
    const r = sinkReadiness(
      { sink: "s", reason: "SecretNotFound", message: 'Secret "creds" not found' },
      undefined,
    );
    assert.deepEqual(r, { status: "False", reason: "SecretNotFound", message: 'Secret "creds" not found' });
  });

  it("is Unknown until something was delivered", () => {
    const r = sinkReadiness(undefined, { lastSuccessMs: undefined, lastError: undefined });
    assert.equal(r.status, "Unknown");
    assert.equal(r.reason, "AwaitingData");
  });

  it("is True while the last request succeeded", () => {
    const r = sinkReadiness(undefined, {
      lastSuccessMs: 2000,
      lastError: { reason: "Timeout", message: "x", atMs: 1000 },
    });
    assert.equal(r.status, "True");
    assert.equal(r.reason, "Delivering");
    assert.equal(r.message, "the endpoint accepts samples", "stable: no counters or times");
  });

  const failures: [string, string][] = [
    ["Unreachable", "EndpointUnreachable"],
    ["Timeout", "EndpointUnreachable"],
    ["Unauthorized", "Unauthorized"],
    ["Rejected", "Rejected"],
    ["ServerError", "EndpointError"],
    ["Throttled", "Throttled"],
  ];
  for (const [failure, reason] of failures) {
    it(`maps a last failure of ${failure} to False/${reason}`, () => {
      const r = sinkReadiness(undefined, {
        lastSuccessMs: 1000,
        lastError: { reason: failure, message: "HTTP 4xx", atMs: 2000 },
      });
      assert.deepEqual(r, { status: "False", reason, message: "HTTP 4xx" });
    });
  }
});

describe("policyReadiness", () => {
  const t = { status: "True" as const, reason: "Delivering", message: "" };
  const f = { status: "False" as const, reason: "Unauthorized", message: "" };
  const u = { status: "Unknown" as const, reason: "AwaitingData", message: "" };
  it("summarises its sinks", () => {
    assert.deepEqual(
      policyReadiness([
        { name: "a", readiness: t },
        { name: "b", readiness: t },
      ]),
      {
        status: "True",
        reason: "AllSinksReady",
        message: "2/2 sinks ready",
      },
    );
    assert.deepEqual(
      policyReadiness([
        { name: "a", readiness: t },
        { name: "b", readiness: f },
        { name: "c", readiness: u },
      ]),
      {
        status: "False",
        reason: "SinksNotReady",
        message: "1/3 sinks ready (b: Unauthorized)",
      },
    );
    assert.equal(
      policyReadiness([
        { name: "a", readiness: t },
        { name: "c", readiness: u },
      ]).status,
      "Unknown",
    );
  });
});
