// `telex serve` delivery flags: parsed into the options startReplica is given.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_MAX_INFLIGHT_BYTES } from "../exporter/sink/index.js";
import { DEFAULT_WARM_UP_SAMPLES } from "../serve/warm-up.js";
import { DELIVERY_FLAGS_HELP, DELIVERY_FLAG_OPTIONS, deliveryOptions } from "./delivery-flags.js";
import { UsageError } from "./io.js";

describe("delivery flags", () => {
  it("--max-inflight-bytes takes a size, documents its default, and refuses anything else", () => {
    assert.ok("max-inflight-bytes" in DELIVERY_FLAG_OPTIONS);
    assert.equal(deliveryOptions({ "max-inflight-bytes": "16MiB" }).maxInflightBytes, 16 * 2 ** 20);
    assert.equal(deliveryOptions({}).maxInflightBytes, undefined, "the default is the budget's own");
    assert.match(
      DELIVERY_FLAGS_HELP,
      new RegExp(`--max-inflight-bytes SIZE[^]*default ${DEFAULT_MAX_INFLIGHT_BYTES / 2 ** 20}MiB`),
    );
    assert.throws(() => deliveryOptions({ "max-inflight-bytes": "lots" }), UsageError);
  });

  it("--buffer-min-free-disk takes a share of the volume or a size", () => {
    assert.deepEqual(deliveryOptions({ "buffer-min-free-disk": "15%" }).minFreeDisk, { fraction: 0.15 });
    assert.deepEqual(deliveryOptions({ "buffer-min-free-disk": "2GiB" }).minFreeDisk, { bytes: 2 * 2 ** 30 });
    assert.deepEqual(deliveryOptions({ "buffer-min-free-disk": "0" }).minFreeDisk, { bytes: 0 });
    assert.equal(deliveryOptions({}).minFreeDisk, undefined);
    assert.match(DELIVERY_FLAGS_HELP, /--buffer-min-free-disk SIZE\|N%[^]*default 10%/);
    for (const bad of ["100%", "-1%", "half", "5 %"])
      assert.throws(() => deliveryOptions({ "buffer-min-free-disk": bad }), UsageError, bad);
  });

  it("--warm-up-samples takes a count, 0 for none, and documents its default", () => {
    assert.equal(deliveryOptions({ "warm-up-samples": "0" }).warmUpSamples, 0);
    assert.equal(deliveryOptions({ "warm-up-samples": "200000" }).warmUpSamples, 200_000);
    assert.equal(deliveryOptions({}).warmUpSamples, undefined, "the default is warm-up.ts's own");
    assert.match(
      DELIVERY_FLAGS_HELP,
      new RegExp(`--warm-up-samples N[^]*default ${DEFAULT_WARM_UP_SAMPLES}`),
    );
    for (const bad of ["-1", "many", "1.5", "20000000"])
      assert.throws(() => deliveryOptions({ "warm-up-samples": bad }), UsageError, bad);
  });
});
