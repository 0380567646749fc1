// The ingest scanner's contract beyond the fuzz tests: the layouts it leaves
// to the general decoder, and the byte ranges it reports.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { scanWriteRequest } from "./scan.js";
import {
  bytes,
  fixed64,
  label,
  lengthDelimited,
  sample,
  string,
  timeSeries,
  varintField,
} from "../../test-support/remotewrite/protobuf.js";

function scan(input: Uint8Array): { accepted: boolean; series: string[]; samples: [number, number][] } {
  const series: string[] = [];
  const samples: [number, number][] = [];
  const accepted = scanWriteRequest(input, {
    series: (b, start, end) => series.push(Buffer.from(b.subarray(start, end)).toString("hex")),
    sample: (value, timestampMs) => samples.push([value, timestampMs]),
  });
  return { accepted, series, samples };
}

const labels = [label("__name__", "up"), label("job", "api")];
const labelHex = Buffer.from(bytes(...labels)).toString("hex");

describe("scanWriteRequest", () => {
  it("reports each series' label fields as one range, then its samples", () => {
    const input = bytes(
      timeSeries(...labels, sample(1.5, 1_700_000_000_000), sample(2, 1_700_000_015_000)),
      timeSeries(label("__name__", "x"), sample(-0, 0)),
    );
    const result = scan(input);
    assert.equal(result.accepted, true);
    assert.deepEqual(result.series, [labelHex, Buffer.from(bytes(label("__name__", "x"))).toString("hex")]);
    assert.deepEqual(result.samples, [
      [1.5, 1_700_000_000_000],
      [2, 1_700_000_015_000],
      [-0, 0],
    ]);
  });

  it("takes an empty request, a series without samples and samples with absent fields", () => {
    assert.equal(scan(new Uint8Array(0)).accepted, true);
    const result = scan(bytes(timeSeries(...labels), timeSeries(...labels, lengthDelimited(2))));
    assert.equal(result.accepted, true);
    assert.deepEqual(result.samples, [[0, 0]]);
  });

  it("leaves every other layout to the general decoder", () => {
    const cases: Record<string, Uint8Array> = {
      metadata: bytes(timeSeries(...labels, sample(1, 2)), lengthDelimited(3, string(4, "up"))),
      "labels after samples": bytes(timeSeries(label("a", "1"), sample(1, 2), label("b", "2"))),
      exemplars: bytes(timeSeries(...labels, sample(1, 2), lengthDelimited(3, fixed64(2, 1n)))),
      "negative timestamp": bytes(timeSeries(...labels, sample(1, -1))),
      "timestamp beyond 2^56": bytes(timeSeries(...labels, sample(1, 2 ** 56))),
      "unknown sample field": bytes(timeSeries(...labels, lengthDelimited(2, varintField(3, 1)))),
      truncated: bytes(timeSeries(...labels, sample(1, 2))).subarray(0, 20),
      "series length past the end": bytes([0x0a, 0x7f, 0x0a, 0x00]),
    };
    for (const [name, input] of Object.entries(cases)) assert.equal(scan(input).accepted, false, name);
  });
});
