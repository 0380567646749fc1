import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  newReadinessMemory,
  policyReadiness,
  roughCount,
  roughDuration,
  sinkReadiness,
  type DeliveryHealth,
} from "./sink-readiness.js";

/** A healthy sink with nothing waiting, at t = 100 s. */
const idle: DeliveryHealth = {
  lastSuccessMs: undefined,
  lastError: undefined,
  buffered: 0,
  lagSeconds: 0,
  down: undefined,
  nowMs: 100_000,
};

describe("sinkReadiness", () => {
  it("reports configuration problems first", () => {
    const r = sinkReadiness(
      { sink: "s", reason: "SecretNotFound", message: 'Secret "creds" not found' },
      undefined,
    );
    assert.deepEqual(r, { status: "False", reason: "SecretNotFound", message: 'Secret "creds" not found' });
  });

  it("is Unknown until something was delivered", () => {
    const r = sinkReadiness(undefined, idle);
    assert.equal(r.status, "Unknown");
    assert.equal(r.reason, "AwaitingData");
  });

  it("is True while the last request succeeded", () => {
    const r = sinkReadiness(undefined, {
      ...idle,
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
        ...idle,
        lastSuccessMs: 1000,
        lastError: { reason: failure, message: "HTTP 4xx", atMs: 2000 },
      });
      assert.deepEqual(r, { status: "False", reason, message: "HTTP 4xx" });
    });
  }

  it("names the Secret whose credentials a 401 refused, or says none were sent, before the down note", () => {
    const refused: DeliveryHealth = {
      ...idle,
      lastError: { reason: "Unauthorized", message: "HTTP 401: bad credentials", atMs: 2000 },
    };
    assert.equal(
      sinkReadiness(undefined, refused, newReadinessMemory(), { secret: "team/vm-creds" }).message,
      "HTTP 401: bad credentials; the endpoint refused the credentials of Secret team/vm-creds",
    );
    assert.equal(
      sinkReadiness(undefined, refused, newReadinessMemory(), {}).message,
      "HTTP 401: bad credentials; no credentials were sent: the sink has no authentication.basicAuth.secretRef",
    );
    const down = sinkReadiness(
      undefined,
      { ...refused, buffered: 1500, down: { sinceMs: 1000, nextProbeMs: 220_000, probes: 1 } },
      newReadinessMemory(),
      { secret: "team/vm-creds" },
    );
    assert.equal(
      down.message,
      "HTTP 401: bad credentials; the endpoint refused the credentials of Secret team/vm-creds; keeping 1,500 samples, next probe in 2m",
    );
    // Other failures are not about credentials: no note.
    const unreachable = sinkReadiness(
      undefined,
      { ...idle, lastError: { reason: "Unreachable", message: "ECONNREFUSED", atMs: 2000 } },
      newReadinessMemory(),
      { secret: "team/vm-creds" },
    );
    assert.equal(unreachable.message, "ECONNREFUSED");
  });
});

describe("rounding in messages", () => {
  it("keeps two significant digits of a count", () => {
    assert.equal(roughCount(0), "0");
    assert.equal(roughCount(97), "97");
    assert.equal(roughCount(183_412), "180,000");
    assert.equal(roughCount(1_249_999), "1,200,000");
    assert.equal(roughCount(995), "1,000");
  });

  it("rounds times to 10 s, whole minutes, 10 minutes, then hours", () => {
    assert.equal(roughDuration(4), "0s");
    assert.equal(roughDuration(44), "40s");
    assert.equal(roughDuration(57), "1m");
    assert.equal(roughDuration(192), "3m");
    assert.equal(roughDuration(3599), "1h");
    assert.equal(roughDuration(2 * 3600 + 14 * 60), "2h10m");
    assert.equal(roughDuration(30 * 3600 + 20 * 60), "30h");
  });
});

describe("a sink with a backlog", () => {
  const delivering: DeliveryHealth = { ...idle, lastSuccessMs: 99_000 };

  it("is CatchingUp past 60 s of lag, and Delivering again only under 10 s", () => {
    const memory = newReadinessMemory();
    const at = (lagSeconds: number, buffered = 180_000) =>
      sinkReadiness(undefined, { ...delivering, lagSeconds, buffered }, memory);
    assert.equal(at(30).reason, "Delivering", "30 s is not yet behind");
    assert.equal(at(60).reason, "Delivering", "the threshold itself is not");
    assert.deepEqual(at(192), {
      status: "True",
      reason: "CatchingUp",
      message: "backlog 3m, 180,000 samples",
    });
    assert.equal(at(30, 4_321).message, "backlog 30s, 4,300 samples", "stays until under 10 s");
    assert.equal(at(10).reason, "CatchingUp");
    assert.equal(at(9).reason, "Delivering");
    assert.equal(at(30).reason, "Delivering", "and needs 60 s again to re-enter");
  });

  it("is Delivering when nothing waits, whatever the lag", () => {
    const memory = newReadinessMemory();
    assert.equal(sinkReadiness(undefined, { ...delivering, lagSeconds: 600 }, memory).reason, "Delivering");
    sinkReadiness(undefined, { ...delivering, lagSeconds: 600, buffered: 5 }, memory);
    assert.equal(sinkReadiness(undefined, { ...delivering, lagSeconds: 600 }, memory).reason, "Delivering");
  });

  it("keeps the failure reason while the endpoint fails, and notes what a down sink keeps", () => {
    const memory = newReadinessMemory();
    const failing: DeliveryHealth = {
      ...idle,
      lastSuccessMs: 10_000,
      lastError: { reason: "Unreachable", message: "connect ECONNREFUSED 10.0.0.1:443", atMs: 90_000 },
      buffered: 183_412,
      lagSeconds: 200,
    };
    const retrying = sinkReadiness(undefined, failing, memory);
    assert.deepEqual(retrying, {
      status: "False",
      reason: "EndpointUnreachable",
      message: "connect ECONNREFUSED 10.0.0.1:443",
    });
    const down = { sinceMs: 80_000, nextProbeMs: 220_000, probes: 2 };
    const first = sinkReadiness(undefined, { ...failing, down }, memory);
    assert.deepEqual(first, {
      status: "False",
      reason: "EndpointUnreachable",
      message: "connect ECONNREFUSED 10.0.0.1:443; keeping 180,000 samples, next probe in 2m",
    });
  });

  it("does not change a down sink's message on every refresh, only when a probe is scheduled", () => {
    const memory = newReadinessMemory();
    const failing: DeliveryHealth = {
      ...idle,
      lastError: { reason: "ServerError", message: "HTTP 503", atMs: 90_000 },
      buffered: 1_000,
      down: { sinceMs: 80_000, nextProbeMs: 160_000, probes: 3 },
    };
    const messages = new Set<string>();
    // Six refreshes 10 s apart while samples keep arriving.
    for (let i = 0; i < 6; i++) {
      const r = sinkReadiness(
        undefined,
        { ...failing, nowMs: 100_000 + i * 10_000, buffered: 1_000 + i * 50_000 },
        memory,
      );
      messages.add(r.message);
    }
    assert.deepEqual([...messages], ["HTTP 503; keeping 1,000 samples, next probe in 1m"]);
    // The probe failed; the next one is scheduled: the note is taken again.
    const after = sinkReadiness(
      undefined,
      {
        ...failing,
        nowMs: 161_000,
        buffered: 400_000,
        down: { sinceMs: 80_000, nextProbeMs: 461_000, probes: 4 },
      },
      memory,
    );
    assert.equal(after.message, "HTTP 503; keeping 400,000 samples, next probe in 5m");
    assert.equal(
      sinkReadiness(
        undefined,
        { ...failing, nowMs: 170_000, down: { sinceMs: 80_000, nextProbeMs: 0, probes: 0 } },
        memory,
      ).message,
      "HTTP 503; keeping 1,000 samples, next probe due",
    );
  });
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
