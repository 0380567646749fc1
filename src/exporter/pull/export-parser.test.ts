import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStaleMarker } from "../../remotewrite/index.js";
import { Random } from "../../../test-support/random.js";
import { ExportFormatError } from "./export-format-error.js";
import { parseExportLine } from "./export-parser.js";
import { LineSplitter } from "./line-splitter.js";

describe("parseExportLine", () => {
  it("reads labels (sorted), values and timestamps", () => {
    const chunk = parseExportLine(
      '{"metric":{"__name__":"envoy_vhost_vcluster_upstream_rq","zone":"b","envoy_response_code":"200"},"values":[1,2.5,-3e-7],"timestamps":[1700000000000,1700000001000,1700000002000]}',
    );
    assert.deepEqual(chunk.labels, [
      { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
      { name: "envoy_response_code", value: "200" },
      { name: "zone", value: "b" },
    ]);
    assert.deepEqual(chunk.values, [1, 2.5, -3e-7]);
    assert.deepEqual(chunk.timestampsMs, [1700000000000, 1700000001000, 1700000002000]);
    assert.equal(
      chunk.seriesKey,
      '{"__name__":"envoy_vhost_vcluster_upstream_rq","zone":"b","envoy_response_code":"200"}',
    );
  });

  it("reads VictoriaMetrics' non-JSON special values: bare ±Inf, and null (a staleness marker)", () => {
    // As v1.79 printed it for +Inf, a stale marker, -Inf and a large value.
    const chunk = parseExportLine(
      '{"metric":{"__name__":"n","le":"+Inf"},"values":[+Inf,null,-Inf,12345678901234567000,NaN],"timestamps":[1,2,3,4,5]}',
    );
    assert.equal(chunk.values[0], Infinity);
    assert.ok(isStaleMarker(chunk.values[1] ?? 0), "null is the stale marker");
    assert.equal(chunk.values[2], -Infinity);
    assert.equal(chunk.values[3], 12345678901234567000);
    assert.ok(isStaleMarker(chunk.values[4] ?? 0));
    assert.deepEqual(chunk.labels[1], { name: "le", value: "+Inf" }, "label values are left alone");
  });

  it("accepts quoted special values and whitespace", () => {
    const chunk = parseExportLine(
      ' { "metric" : { "a" : "1" } , "values" : [ "Infinity" , "-Inf", "NaN" ] , "timestamps" : [ 1 , 2, 3 ] } \r',
    );
    assert.deepEqual(chunk.values.slice(0, 2), [Infinity, -Infinity]);
    assert.ok(isStaleMarker(chunk.values[2] ?? 0));
  });

  it("keeps escapes, brackets and quotes inside label values intact", () => {
    const value = 'a "quoted" {weird} [value] \\ with\nnewline and ünïcode 🚀';
    const line = `{"metric":${JSON.stringify({ __name__: "m", path: value })},"values":[1],"timestamps":[5]}`;
    const chunk = parseExportLine(line);
    assert.deepEqual(chunk.labels[1], { name: "path", value });
  });

  it("rejects garbage with a clear error", () => {
    const bad: [string, RegExp][] = [
      ["", /expected "\{"/],
      ["<html>502 Bad Gateway</html>", /expected "\{"/],
      ['{"metric":{"a":"1"},"values":[1],"timestamps":[1]', /unbalanced|expected "\}"/],
      ['{"metric":{"a":"1"},"values":[1,2],"timestamps":[1]}', /2 values but 1 timestamps/],
      ['{"metric":{"a":1},"values":[1],"timestamps":[1]}', /label "a" is not a string/],
      ['{"metric":{"a":"1"},"values":[true],"timestamps":[1]}', /not a number/],
      ['{"metric":{"a":"1"},"values":["x"],"timestamps":[1]}', /not a number/],
      ['{"metric":{"a":"1"},"values":[1],"timestamps":[1.5]}', /not an integer millisecond/],
      ['{"metric":{"a":"1"},"values":[1],"timestamps":[1],"extra":[]}', /unexpected or repeated key "extra"/],
      ['{"metric":{"a":"1"},"metric":{"a":"1"},"values":[1],"timestamps":[1]}', /repeated key "metric"/],
      ['{"metric":{"a":"1"},"values":[1]}', /needs "metric", "values" and "timestamps"/],
      ['{"metric":{"a":"1"},"values":[1],"timestamps":[1]} trailing', /text after the object/],
      ['{"metric":["a"],"values":[1],"timestamps":[1]}', /"metric" is not an object/],
      ['{"metric":{"a":"1"},"values":{"x":1},"timestamps":[1]}', /"values" is not an array/],
      ['{"metric":{"a":"1"},"values":[1,,2],"timestamps":[1,2]}', /"values" is not valid/],
      ['{"metric":{"a":"1"},"values":"1","timestamps":[1]}', /expected an object or array/],
      ['{"metric":{"a":"1},"values":[1],"timestamps":[1]}', /unterminated string|unbalanced/],
      ["{}", /empty object/],
    ];
    for (const [line, message] of bad) {
      assert.throws(
        () => parseExportLine(line),
        (error: unknown) => {
          assert.ok(error instanceof ExportFormatError, `${line}: ${String(error)}`);
          assert.match(error.message, message, line);
          return true;
        },
      );
    }
  });
});

describe("LineSplitter", () => {
  const encoder = new TextEncoder();

  it("gives the same lines however the bytes are chunked, multi-byte characters included", () => {
    const text = 'first {"ü":"🚀"}\nsecond\n\nthird without newline';
    const bytes = encoder.encode(text);
    const random = new Random(11);
    for (let trial = 0; trial < 200; trial++) {
      const splitter = new LineSplitter(1000);
      const lines: string[] = [];
      let offset = 0;
      while (offset < bytes.length) {
        const size = 1 + random.int(7);
        lines.push(...splitter.push(bytes.subarray(offset, offset + size)));
        offset += size;
      }
      const last = splitter.end();
      if (last !== undefined) lines.push(last);
      assert.deepEqual(lines, ['first {"ü":"🚀"}', "second", "", "third without newline"]);
    }
  });

  it("rejects a line over the limit, invalid UTF-8 and a truncated character", () => {
    const long = new LineSplitter(10);
    long.push(encoder.encode("12345"));
    assert.throws(() => long.push(encoder.encode("678901\n")), /longer than 10 characters/);
    assert.throws(() => new LineSplitter(100).push(new Uint8Array([0x61, 0xff, 0x0a])), /not valid UTF-8/);
    const truncated = new LineSplitter(100);
    truncated.push(encoder.encode("🚀").subarray(0, 2));
    assert.throws(() => truncated.end(), /ends inside a UTF-8 sequence/);
  });
});
