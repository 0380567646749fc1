import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { REMOTE_WRITE_HEADERS, USER_AGENT, classifyResponse } from "./protocol.js";
import type { ResponseClass } from "./protocol.js";
import { MAX_RETRY_AFTER_MS, parseHttpDate, parseRetryAfter } from "./retry-after.js";
import { VERSION } from "../util/index.js";

const NOW = Date.UTC(2026, 4, 22, 12, 0, 0);

describe("request headers", () => {
  it("are the Remote Write 1.0 headers and the loop marker", () => {
    assert.deepEqual(REMOTE_WRITE_HEADERS, {
      "Content-Encoding": "snappy",
      "Content-Type": "application/x-protobuf",
      "X-Prometheus-Remote-Write-Version": "0.1.0",
      "User-Agent": `telex/${VERSION}`,
      "telex-exported": "1",
    });
    assert.match(USER_AGENT, /^telex\/\d+\.\d+\.\d+/);
    assert.ok(Object.isFrozen(REMOTE_WRITE_HEADERS));
  });
});

describe("classifyResponse", () => {
  const table: [number, string | undefined, ResponseClass][] = [
    [200, undefined, { kind: "ok" }],
    [204, undefined, { kind: "ok" }],
    [299, undefined, { kind: "ok" }],
    [429, undefined, { kind: "retryable", reason: "Throttled" }],
    [429, "7", { kind: "retryable", reason: "Throttled", retryAfterMs: 7000 }],
    [429, "soon", { kind: "retryable", reason: "Throttled" }],
    [503, "120", { kind: "retryable", reason: "ServerError", retryAfterMs: 120_000 }],
    [
      503,
      "Fri, 22 May 2026 12:00:30 GMT",
      { kind: "retryable", reason: "ServerError", retryAfterMs: 30_000 },
    ],
    [503, undefined, { kind: "retryable", reason: "ServerError" }],
    [500, undefined, { kind: "retryable", reason: "ServerError" }],
    // Only 429 and 503 honour Retry-After.
    [500, "5", { kind: "retryable", reason: "ServerError" }],
    [502, undefined, { kind: "retryable", reason: "ServerError" }],
    [599, undefined, { kind: "retryable", reason: "ServerError" }],
    [401, undefined, { kind: "fatal", reason: "Unauthorized" }],
    [403, "5", { kind: "fatal", reason: "Unauthorized" }],
    [413, undefined, { kind: "fatal", reason: "TooLarge" }],
    [400, undefined, { kind: "fatal", reason: "Rejected" }],
    [404, undefined, { kind: "fatal", reason: "Rejected" }],
    [408, undefined, { kind: "fatal", reason: "Rejected" }],
    [409, undefined, { kind: "fatal", reason: "Rejected" }],
    [422, undefined, { kind: "fatal", reason: "Rejected" }],
    [301, undefined, { kind: "fatal", reason: "Rejected" }],
    [100, undefined, { kind: "fatal", reason: "Rejected" }],
    [0, undefined, { kind: "fatal", reason: "Rejected" }],
    [600, undefined, { kind: "fatal", reason: "Rejected" }],
  ];
  for (const [status, retryAfter, expected] of table) {
    it(`${status}${retryAfter === undefined ? "" : ` with Retry-After: ${retryAfter}`}`, () => {
      const headers = retryAfter === undefined ? {} : { retryAfter };
      assert.deepEqual(classifyResponse(status, headers, NOW), expected);
    });
  }

  it("caps Retry-After on both statuses", () => {
    assert.deepEqual(classifyResponse(429, { retryAfter: "86400" }, NOW), {
      kind: "retryable",
      reason: "Throttled",
      retryAfterMs: MAX_RETRY_AFTER_MS,
    });
  });
});

describe("parseRetryAfter", () => {
  const cases: [string | undefined, number | undefined][] = [
    [undefined, undefined],
    ["0", 0],
    ["1", 1000],
    [" 42 ", 42_000],
    ["299", 299_000],
    ["300", MAX_RETRY_AFTER_MS],
    ["301", MAX_RETRY_AFTER_MS],
    ["9".repeat(400), MAX_RETRY_AFTER_MS],
    ["", undefined],
    ["-5", undefined],
    ["1.5", undefined],
    ["+5", undefined],
    ["5s", undefined],
    ["0x10", undefined],
    // IMF-fixdate
    ["Fri, 22 May 2026 12:01:00 GMT", 60_000],
    ["Fri, 22 May 2026 12:00:00 GMT", 0],
    ["Fri, 22 May 2026 11:00:00 GMT", 0],
    ["Sat, 23 May 2026 12:00:00 GMT", MAX_RETRY_AFTER_MS],
    // Obsolete forms recipients must accept.
    ["Friday, 22-May-26 12:00:10 GMT", 10_000],
    ["Fri May 22 12:00:20 2026", 20_000],
    ["Fri May  2 12:00:20 2026", 0],
    // Invalid dates.
    ["Fri, 22 May 2026 12:01:00 UTC", undefined],
    ["Fri, 22 May 2026 12:01 GMT", undefined],
    ["Fry, 22 May 2026 12:01:00 GMT", undefined],
    ["Fri, 31 Feb 2026 12:01:00 GMT", undefined],
    ["Fri, 22 Mai 2026 12:01:00 GMT", undefined],
    ["Fri, 22 May 2026 24:00:00 GMT", undefined],
    ["Fri, 22 May 2026 12:60:00 GMT", undefined],
    ["2026-05-22T12:01:00Z", undefined],
    ["Fri, 22 May 2026 12:01:00 GMT trailing", undefined],
    ["Mon, 01 Jan 0050 00:00:00 GMT", 0],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${expected}`, () => {
      assert.equal(parseRetryAfter(header, NOW), expected);
    });
  }
});

describe("parseHttpDate", () => {
  it("reads the three formats of RFC 9110's example", () => {
    const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
    const now = Date.UTC(2026, 0, 1);
    assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", now), expected);
    assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", now), expected);
    assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994", now), expected);
  });

  it("reads RFC 850 two-digit years as at most 50 years ahead", () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(new Date(parseHttpDate("Monday, 01-Jan-76 00:00:00 GMT", now) ?? 0).getUTCFullYear(), 2076);
    assert.equal(new Date(parseHttpDate("Monday, 01-Jan-77 00:00:00 GMT", now) ?? 0).getUTCFullYear(), 1977);
    assert.equal(new Date(parseHttpDate("Monday, 01-Jan-26 00:00:00 GMT", now) ?? 0).getUTCFullYear(), 2026);
  });

  it("accepts a leap second and leap days", () => {
    assert.equal(parseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT", NOW), Date.UTC(2017, 0, 1));
    assert.equal(parseHttpDate("Thu, 29 Feb 2024 00:00:00 GMT", NOW), Date.UTC(2024, 1, 29));
    assert.equal(parseHttpDate("Sun, 29 Feb 2026 00:00:00 GMT", NOW), undefined);
  });

  it("reads four-digit years below 100 literally", () => {
    assert.equal(new Date(parseHttpDate("Mon, 01 Jan 0050 00:00:00 GMT", NOW) ?? 0).getUTCFullYear(), 50);
  });
});
