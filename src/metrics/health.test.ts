import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryLogger } from "../../test-support/memory-logger.js";
import { HealthEndpoints, type HealthCheck } from "./health.js";

/** A check whose outcome the test sets. */
function switchable(name: string): HealthCheck & { reason: string | undefined } {
  const state = {
    name,
    reason: undefined as string | undefined,
    check: () => state.reason,
  };
  return state;
}

describe("health endpoints", () => {
  const setup = () => {
    const api = switchable("api");
    const buffer = switchable("buffer");
    const logger = memoryLogger();
    const health = new HealthEndpoints({ readiness: [api, buffer], logger });
    return { api, buffer, logger, health };
  };

  it("answers 200 ok when every check passes, and lists them with ?verbose", () => {
    const { health } = setup();
    assert.deepEqual(health.answer("/readyz"), { status: 200, body: "ok\n" });
    assert.deepEqual(health.answer("/readyz?verbose"), {
      status: 200,
      body: "[+]api ok\n[+]buffer ok\nreadyz check passed\n",
    });
    assert.deepEqual(health.answer("/readyz?verbose=1"), health.answer("/readyz?verbose"));
  });

  it("answers 503 naming the failed check and its reason, verbose or not", () => {
    const { api, health } = setup();
    api.reason = "list/watch of exportpolicies failing for 3s: connect ECONNREFUSED";
    const expected = {
      status: 503,
      body: "[-]api failed: list/watch of exportpolicies failing for 3s: connect ECONNREFUSED\n[+]buffer ok\nreadyz check failed\n",
    };
    assert.deepEqual(health.answer("/readyz"), expected);
    assert.deepEqual(health.answer("/readyz?verbose"), expected);
  });

  it("skips excluded checks, says so, and warns of names it does not know", () => {
    const { api, health } = setup();
    api.reason = "down";
    assert.deepEqual(health.answer("/readyz?exclude=api"), { status: 200, body: "ok\n" });
    assert.deepEqual(health.answer("/readyz?exclude=api&verbose"), {
      status: 200,
      body: "[+]api excluded: ok\n[+]buffer ok\nreadyz check passed\n",
    });
    assert.deepEqual(health.answer("/readyz?exclude=api&exclude=nope&verbose"), {
      status: 200,
      body: '[+]api excluded: ok\n[+]buffer ok\nwarn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n',
    });
  });

  it("runs one check at /readyz/NAME, and 404s a name it does not know", () => {
    const { api, health } = setup();
    api.reason = "down";
    assert.deepEqual(health.answer("/readyz/buffer"), { status: 200, body: "ok\n" });
    assert.deepEqual(health.answer("/readyz/api"), {
      status: 503,
      body: "[-]api failed: down\nreadyz check failed\n",
    });
    assert.deepEqual(health.answer("/readyz/nope"), {
      status: 404,
      body: 'no readyz check named "nope"; checks: api, buffer\n',
    });
    assert.equal(health.answer("/readyz/api/more"), undefined);
    assert.deepEqual(health.answer("/readyz/"), health.answer("/readyz"));
  });

  it("keeps /livez and /healthz to liveness: up while readiness fails", () => {
    const { api, health } = setup();
    api.reason = "down";
    for (const endpoint of ["livez", "healthz"]) {
      assert.deepEqual(health.answer(`/${endpoint}`), { status: 200, body: "ok\n" });
      assert.deepEqual(health.answer(`/${endpoint}?verbose`), {
        status: 200,
        body: `[+]ping ok\n${endpoint} check passed\n`,
      });
      assert.deepEqual(health.answer(`/${endpoint}/ping`), { status: 200, body: "ok\n" });
    }
  });

  it("answers nothing for other paths", () => {
    const { health } = setup();
    for (const path of ["/", "/metrics", "/readyzz", "/api/v1/write", "/x/readyz"]) {
      assert.equal(health.answer(path), undefined, path);
    }
  });

  it("keeps a reason to one bounded line, and reports a check that throws", () => {
    const throwing: HealthCheck = {
      name: "broken",
      check: () => {
        throw new Error("boom");
      },
    };
    const long: HealthCheck = { name: "long", check: () => `first\nsecond ${"x".repeat(1000)}` };
    const health = new HealthEndpoints({ readiness: [throwing, long] });
    const answer = health.answer("/readyz");
    assert.equal(answer?.status, 503);
    const lines = answer.body.split("\n");
    assert.equal(lines[0], "[-]broken failed: the check threw: Error: boom");
    assert.match(lines[1] ?? "", /^\[-\]long failed: first second x+…$/);
    assert.equal((lines[1] ?? "").length, "[-]long failed: ".length + 300);
  });

  it("logs when readiness is lost and regained, once each", () => {
    const { api, logger, health } = setup();
    health.answer("/readyz");
    assert.equal(logger.lines.length, 0, "ready from the start: nothing to say");
    api.reason = "down";
    health.answer("/readyz");
    health.answer("/readyz?verbose");
    health.answer("/readyz?exclude=api");
    assert.equal(logger.lines.length, 1, logger.lines.join("\n"));
    assert.match(logger.lines[0] ?? "", / warn not ready failed="api failed: down"$/);
    api.reason = undefined;
    health.answer("/readyz");
    assert.equal(logger.lines.length, 2, logger.lines.join("\n"));
    assert.match(logger.lines[1] ?? "", / info ready again: every readyz check passes$/);
  });
});
