import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cacheRetainedBytes, decodeUtf8 } from "./strings.js";

describe("decodeUtf8's cache", () => {
  it("keeps copies of the bytes it caches, not views of the request body they came from", () => {
    const before = cacheRetainedBytes();
    const body = Buffer.alloc(2 ** 20, 0x61);
    body.write("job_name_for_the_cache_test", 1000, "latin1");
    assert.equal(decodeUtf8(body, body, 1000, 1027), "job_name_for_the_cache_test");
    assert.equal(decodeUtf8(body, body, 1000, 1027), "job_name_for_the_cache_test", "a hit");
    assert.ok(
      cacheRetainedBytes() - before < 2 ** 16,
      `the cache keeps ${cacheRetainedBytes() - before} bytes more`,
    );
  });
});
