// The two log formats: one event per line, fields and a child's bindings on
// it, an Error's stack kept, levels filtered, credentials never written.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, errorField, lazyChild, type LogFormat } from "./log.js";

function capture(format: LogFormat, level: "debug" | "info" | "warn" = "info") {
  const lines: string[] = [];
  const logger = createLogger({ format, level, write: (line) => lines.push(line) });
  return { logger, lines };
}

describe("logs", () => {
  it("json: one object per line with time, level, msg, the fields and a child's bindings", () => {
    const { logger, lines } = capture("json");
    const sink = logger.child({ project: "p1", policy: "gateways", sink: "vm" });
    sink.warn("sink endpoint down", { failures: 3, reason: "Unauthorized" });
    assert.equal(lines.length, 1);
    assert.ok(lines[0]?.endsWith("\n") && lines[0].indexOf("\n") === lines[0].length - 1, "one line");
    const event = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    assert.equal(event["level"], "warn");
    assert.equal(event["msg"], "sink endpoint down");
    assert.equal(event["project"], "p1");
    assert.equal(event["policy"], "gateways");
    assert.equal(event["sink"], "vm");
    assert.equal(event["failures"], 3);
    assert.ok(!Number.isNaN(Date.parse(String(event["time"]))), "an ISO time");
  });

  it("a lazy child writes what a child writes, its own children too, and makes it only when it logs", () => {
    for (const format of ["json", "text"] as const) {
      const eager = capture(format);
      const lazy = capture(format);
      let made = 0;
      const counting = {
        ...lazy.logger,
        child: (bindings: Parameters<typeof lazy.logger.child>[0]) => {
          made++;
          return lazy.logger.child(bindings);
        },
      };
      const bindings = { project: "p1", policy: "gateways", sink: "vm" };
      const sink = lazyChild(counting, bindings);
      const probe = sink.child({ probe: 2 });
      assert.equal(made, 0, "nothing is made before a line");
      eager.logger.child(bindings).warn("down", { failures: 3 });
      sink.warn("down", { failures: 3 });
      eager.logger.child(bindings).child({ probe: 2 }).info("probing");
      probe.info("probing");
      const withoutTime = (line: string) => line.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, "T");
      assert.deepEqual(lazy.lines.map(withoutTime), eager.lines.map(withoutTime));
      assert.equal(made, 2, "one per logger that wrote");
    }
  });

  it("keeps an unexpected error's type and stack, on one line in both formats", () => {
    const failure = new TypeError("cannot read properties of undefined");
    const json = capture("json");
    json.logger.error("ingest request failed", { error: errorField(failure) });
    const event = JSON.parse(json.lines[0] ?? "") as {
      error?: { type?: string; message?: string; stack?: string };
    };
    assert.equal(event.error?.type, "TypeError");
    assert.equal(event.error.message, "cannot read properties of undefined");
    assert.match(event.error.stack ?? "", /at .*log\.test/);

    const text = capture("text");
    text.logger.error("ingest request failed", { error: errorField(failure) });
    assert.equal(text.lines.length, 1);
    assert.equal(text.lines[0]?.split("\n").length, 2, "one line");
    assert.match(
      text.lines[0],
      / error="cannot read properties of undefined" errorStack="TypeError: .*\\n {4}at /,
    );
    assert.equal(errorField("plain"), "plain");
  });

  it("writes nothing below the level", () => {
    for (const format of ["json", "text"] as const) {
      const { logger, lines } = capture(format, "warn");
      logger.debug("d");
      logger.info("i");
      logger.child({ sink: "x" }).info("i");
      logger.warn("w");
      logger.error("e");
      assert.equal(lines.length, 2, format);
      const verbose = capture(format, "debug");
      verbose.logger.debug("d");
      assert.equal(verbose.lines.length, 1, format);
    }
  });

  it("never writes a field named like a credential", () => {
    for (const format of ["json", "text"] as const) {
      const { logger, lines } = capture(format);
      logger.child({ token: "tok-123" }).warn("oops", { password: "hunter2", authorization: "Bearer abc" });
      const line = lines.join("");
      for (const secret of ["tok-123", "hunter2", "Bearer abc"])
        assert.ok(!line.includes(secret), `${format}: ${line}`);
      assert.match(line, /\[redacted\]/);
    }
  });
});
