import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, open, readdir, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DurableLog } from "./log.js";
import { FRAME_BYTES } from "./record.js";
import { scanSegment } from "./segment.js";
import { readAll, removeAll, seriesNamed, tempDir } from "../../../test-support/buffer/helpers.js";

const dirs: string[] = [];
after(() => removeAll(dirs));

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith(".seg")).sort();
}

/** [start, end) of every record of a segment file. */
async function recordBounds(path: string): Promise<[number, number][]> {
  const handle = await open(path, "r");
  try {
    const bounds: [number, number][] = [];
    await scanSegment(handle, (await handle.stat()).size, (_buf, _start, bodyLength, offset) => {
      bounds.push([offset, offset + FRAME_BYTES + bodyLength]);
      return true;
    });
    return bounds;
  } finally {
    await handle.close();
  }
}

describe("DurableLog recovery", () => {
  it("cut at every byte of the last two records: keeps the whole ones, counts the torn part, numbering continues", async () => {
    const original = await tempDir(dirs);
    const log = await DurableLog.open({ dir: original });
    const a = log.sink("p/a");
    const b = log.sink("p/b");
    const perRecordA = [2, 3, 1, 4, 2];
    for (const [r, count] of perRecordA.entries()) {
      const record = log.record();
      for (let i = 0; i < count; i++) record.add(a, seriesNamed(`a${r}`), r * 10 + i, r);
      record.add(b, seriesNamed(`b${r}`), r, r);
      await record.commit();
    }
    await log.close();
    const [segment] = await segmentFiles(original);
    assert.ok(segment !== undefined);
    const bounds = await recordBounds(join(original, segment));
    // The checkpoint, then one record per commit.
    assert.equal(bounds.length, perRecordA.length + 1);
    const size = (await stat(join(original, segment))).size;
    const firstCut = bounds[bounds.length - 2]?.[0] ?? 0;
    let cases = 0;
    for (let cut = firstCut; cut <= size; cut++) {
      const dir = await tempDir(dirs);
      await cp(original, dir, { recursive: true });
      await truncate(join(dir, segment), cut);
      const whole = bounds.filter(([, end]) => end <= cut);
      const validEnd = whole[whole.length - 1]?.[1] ?? 0;
      const records = whole.length - 1;

      const reopened = await DurableLog.open({ dir });
      assert.equal(reopened.stats.tornBytes, cut - validEnd, `cut ${cut}`);
      assert.equal(reopened.stats.tornRecords, cut > validEnd ? 1 : 0, `cut ${cut}`);
      assert.equal((await stat(join(dir, segment))).size, validEnd, "cut back to the last whole record");
      const ra = reopened.sink("p/a");
      const rb = reopened.sink("p/b");
      const expectedA = perRecordA
        .slice(0, records)
        .flatMap((count, r) => Array.from({ length: count }, (_, i) => r * 10 + i));
      assert.equal(ra.endSeq, expectedA.length, `cut ${cut}`);
      assert.equal(rb.endSeq, records);
      const record = reopened.record();
      record.add(ra, seriesNamed("new"), -1, 99);
      record.add(rb, seriesNamed("new"), -2, 99);
      await record.commit();
      assert.equal(ra.endSeq, expectedA.length + 1, "the numbering continues after the cut");
      assert.deepEqual(
        (await readAll(ra)).map((s) => s.value),
        [...expectedA, -1],
      );
      assert.deepEqual(
        (await readAll(rb)).map((s) => [s.series, s.value]),
        [...Array.from({ length: records }, (_, r) => [`b${r}`, r]), ["new", -2]],
      );
      await reopened.close();
      cases++;
    }
    assert.ok(cases > 100, `${cases} cuts`);
  });

  it("survives SIGKILL of a writing process: every commit it saw resolve is readable, in order, once", async () => {
    const dir = await tempDir(dirs);
    const child = join(await tempDir(dirs), "writer.mjs");
    const logModule = new URL("./index.js", import.meta.url).href;
    await writeFile(
      child,
      `import { DurableLog } from ${JSON.stringify(logModule)};
const [dir, start] = process.argv.slice(2);
const log = await DurableLog.open({ dir, segmentBytes: 64 * 1024 });
const sinks = [log.sink("p/a"), log.sink("p/b"), log.sink("q/c")];
const series = Array.from({ length: 100 }, (_, i) => ({ labelBytes: new TextEncoder().encode("s" + i) }));
let id = Number(start);
for (;;) {
  const commits = [];
  for (let k = 0; k < 8; k++) {
    const r = id++;
    const record = log.record();
    for (let i = 0; i < 50; i++) record.add(sinks[(r + i) % 3], series[(r * 7 + i) % 100], r * 1000 + i, r);
    // Pipes to the parent are written synchronously on Linux: a printed id was acknowledged before any kill.
    commits.push(record.commit().then(() => process.stdout.write(r + "\\n")));
  }
  await Promise.all(commits);
}
`,
    );
    const acknowledged: number[] = [];
    let start = 0;
    for (let round = 0; round < 3; round++) {
      const seen: number[] = [];
      await new Promise<void>((resolve, reject) => {
        const proc = spawn(process.execPath, [child, dir, String(start)], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        let text = "";
        const target = 300 + round * 137;
        proc.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          const lines = text.split("\n");
          text = lines.pop() ?? "";
          for (const line of lines) seen.push(Number(line));
          if (seen.length >= target && !proc.killed) proc.kill("SIGKILL");
        });
        proc.on("error", reject);
        proc.on("exit", (_code, signal) => {
          if (signal === "SIGKILL") resolve();
          else reject(new Error(`writer exited without being killed (${signal ?? "no signal"})`));
        });
      });
      acknowledged.push(...seen);
      start = Math.max(start, ...seen) + 10_000;

      const log = await DurableLog.open({ dir, segmentBytes: 64 * 1024 });
      assert.equal(log.cleanStart, false);
      const values = new Map<number, number>();
      for (const key of ["p/a", "p/b", "q/c"]) {
        const sink = log.sink(key);
        const read = await readAll(sink, 0, 1000);
        assert.equal(read.length, sink.endSeq - sink.startSeq, key);
        for (let i = 1; i < read.length; i++) {
          assert.ok((read[i]?.value ?? 0) > (read[i - 1]?.value ?? 0), `${key} in order at ${i}`);
        }
        for (const sample of read) {
          assert.equal(values.has(sample.value), false, "no duplicates");
          values.set(sample.value, sample.timestamp);
          assert.equal(
            sample.series,
            `s${((sample.timestamp * 7 + (sample.value % 1000)) % 100).toString()}`,
          );
        }
      }
      for (const r of acknowledged) {
        for (let i = 0; i < 50; i++) assert.equal(values.get(r * 1000 + i), r, `record ${r} sample ${i}`);
      }
      await log.close();
    }
    assert.ok(acknowledged.length >= 900);
    assert.ok((await segmentFiles(dir)).length > 3, "the kills happened across segment rolls");
  });
});
