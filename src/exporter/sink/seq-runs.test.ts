import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeqRuns } from "./seq-runs.js";

describe("SeqRuns", () => {
  it("keeps sorted seqs as runs, answers membership and counts, and gives them up from the bottom", () => {
    const runs = SeqRuns.fromSorted([3, 4, 5, 9, 10, 20]);
    assert.equal(runs.size, 6);
    assert.equal(runs.runs, 3);
    assert.equal(runs.first, 3);
    assert.deepEqual(
      [2, 3, 5, 6, 9, 11, 20, 21].map((seq) => runs.has(seq)),
      [false, true, true, false, true, false, true, false],
    );
    assert.equal(runs.countBelow(3), 0);
    assert.equal(runs.countBelow(5), 2);
    assert.equal(runs.countBelow(100), 6);
    assert.equal(runs.dropBelow(4), 1);
    assert.equal(runs.first, 4);
    assert.equal(runs.dropBelow(10), 3);
    assert.deepEqual([runs.size, runs.first, runs.runs], [2, 10, 2]);
    runs.append(SeqRuns.fromSorted([21, 22, 30]));
    assert.deepEqual([runs.size, runs.runs], [5, 3], "21 continues the run of 20");
    assert.equal(runs.dropBelow(1000), 5);
    assert.equal(runs.first, undefined);
    assert.throws(() => {
      SeqRuns.fromSorted([5, 4]);
    }, RangeError);
  });

  it("stays small over a long life of adds and drops", () => {
    const runs = new SeqRuns();
    for (let seq = 0; seq < 100_000; seq += 2) {
      runs.add(seq);
      runs.dropBelow(seq - 100);
    }
    assert.ok(runs.runs <= 51, `${runs.runs} runs`);
    assert.equal(runs.size, runs.runs);
  });
});
