import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_SHARDS, SLOT_BYTES, decodeSlot, encodeSlot, recoverSlot } from "./positions.js";
import { RecordFormatError, checkFrame, decodeRecord, encodeRecord } from "./record.js";
import type { DecodedSamples } from "./record.js";
import { decodeSegmentHeader, encodeSegmentHeader } from "./segment.js";

const samples: DecodedSamples = {
  type: "samples",
  lsn: 42,
  appendTimeMs: 1_700_000_000_123,
  definitions: [
    { seriesId: 0, labelBytes: new TextEncoder().encode("up{job=a}") },
    { seriesId: 1, labelBytes: new TextEncoder().encode("") },
  ],
  sections: [
    { sinkIdx: 3, firstSeq: 7, seriesIds: [0, 1, 0], timestamps: [1, 2, 3], values: [0.5, -1, NaN] },
    { sinkIdx: 9, firstSeq: 2 ** 40, seriesIds: [1], timestamps: [-5], values: [Infinity] },
  ],
};

describe("record codec", () => {
  it("round-trips a samples record and a checkpoint", () => {
    assert.deepEqual(decodeRecord(encodeRecord(samples)), samples);
    const checkpoint = {
      type: "checkpoint" as const,
      lsn: 1,
      appendTimeMs: 5,
      entries: [
        { sinkIdx: 0, endSeq: 0 },
        { sinkIdx: 4, endSeq: 123_456_789_012 },
      ],
    };
    assert.deepEqual(decodeRecord(encodeRecord(checkpoint)), checkpoint);
  });

  it("detects every single-byte corruption, in the frame and the body", () => {
    const good = encodeRecord(samples);
    let checked = 0;
    for (let at = 0; at < good.length; at++) {
      for (const flip of [0x01, 0x80, 0xff, 0x5a]) {
        const bad = Buffer.from(good);
        bad[at] = (bad[at] ?? 0) ^ flip;
        assert.notEqual(checkFrame(bad, 0, bad.length, bad.length).kind, "record", `byte ${at} ^ ${flip}`);
        assert.throws(() => decodeRecord(bad), RecordFormatError);
        checked++;
      }
    }
    assert.equal(checked, good.length * 4);
  });

  it("says a record cut short is short, not bad, until its length is known to be past the end", () => {
    const good = encodeRecord(samples);
    for (let length = 0; length < good.length; length++) {
      assert.equal(checkFrame(good, 0, length, 1 << 20).kind, "short", `length ${length}`);
    }
    assert.equal(checkFrame(Buffer.alloc(16), 0, 16, 1 << 20).kind, "bad", "zero length");
  });

  it("checks segment headers", () => {
    const header = encodeSegmentHeader(17, 1234.5);
    assert.deepEqual(decodeSegmentHeader(header), { firstLsn: 17, createdMs: 1234.5 });
    for (let at = 0; at < header.length; at++) {
      const bad = Buffer.from(header);
      bad[at] = (bad[at] ?? 0) ^ 0x10;
      if (at >= 6 && at < 8) continue; // reserved bytes are covered by the CRC too, but check anyway below
      assert.equal(decodeSegmentHeader(bad), undefined, `byte ${at}`);
    }
    const reserved = Buffer.from(header);
    reserved[6] = 1;
    assert.equal(decodeSegmentHeader(reserved), undefined);
  });
});

describe("position slots", () => {
  it("round-trip, and the newest whole copy wins", () => {
    const positions = { shards: 3, next: [10, 2 ** 45, 0] };
    const slot = encodeSlot(5, { generation: 8, startSeq: 4, positions });
    assert.deepEqual(decodeSlot(slot, 5), { kind: "ok", generation: 8, startSeq: 4, positions });
    assert.equal(decodeSlot(slot, 6).kind, "bad", "another sink's slot");
    assert.equal(decodeSlot(Buffer.alloc(SLOT_BYTES), 5).kind, "empty");
    assert.throws(() =>
      encodeSlot(0, { generation: 1, startSeq: 0, positions: { shards: MAX_SHARDS + 1, next: [] } }),
    );

    const file = Buffer.alloc(SLOT_BYTES * 4);
    encodeSlot(1, { generation: 7, startSeq: 0, positions: { shards: 1, next: [100] } }).copy(
      file,
      SLOT_BYTES * 3,
    );
    encodeSlot(1, { generation: 8, startSeq: 0, positions: { shards: 1, next: [200] } }).copy(
      file,
      SLOT_BYTES * 2,
    );
    assert.deepEqual(recoverSlot(file, 1), {
      content: { generation: 8, startSeq: 0, positions: { shards: 1, next: [200] } },
      fellBack: false,
    });
    // A torn write of the newer copy: the older one is used (resend, never skip), and it is counted.
    file[SLOT_BYTES * 2 + 40] = 0xee;
    assert.deepEqual(recoverSlot(file, 1), {
      content: { generation: 7, startSeq: 0, positions: { shards: 1, next: [100] } },
      fellBack: true,
    });
  });
});
