import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CursorFileError, FileCursorStore } from "./file-cursor-store.js";

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "telex-cursors-"));
  dirs.push(dir);
  return dir;
}

describe("FileCursorStore", () => {
  it("starts empty, saves, deletes, and reopens with what was saved", async () => {
    const path = join(await tempDir(), "pull-cursors.json");
    const store = await FileCursorStore.open(path);
    assert.equal(store.load("a"), undefined);
    await store.save("a", 1_700_000_000_000);
    await store.save("policy-uid/source", 42);
    await store.delete("a");
    await store.delete("never-saved");
    const reopened = await FileCursorStore.open(path);
    assert.equal(reopened.load("a"), undefined);
    assert.equal(reopened.load("policy-uid/source"), 42);
    assert.deepEqual(JSON.parse(await readFile(path, "utf8")), {
      version: 1,
      cursors: { "policy-uid/source": 42 },
    });
  });

  it("batches concurrent saves into few writes, each durable when its promise resolves", async () => {
    const path = join(await tempDir(), "pull-cursors.json");
    const store = await FileCursorStore.open(path);
    await Promise.all(Array.from({ length: 500 }, (_, i) => store.save(`job-${i}`, i)));
    const reopened = await FileCursorStore.open(path);
    assert.equal(reopened.keys().length, 500);
    assert.equal(reopened.load("job-499"), 499);
  });

  it("never leaves a torn file when the process is killed mid-write", async () => {
    const dir = await tempDir();
    const path = join(dir, "pull-cursors.json");
    const moduleUrl = new URL("./file-cursor-store.js", import.meta.url).href;
    // A writer that keeps saving 2,000 keys with a rising round number and reports each durable round.
    const script = `
      const { FileCursorStore } = await import(${JSON.stringify(moduleUrl)});
      const store = await FileCursorStore.open(${JSON.stringify(path)});
      for (let round = 1; ; round++) {
        const saves = [];
        for (let key = 0; key < 2000; key++) saves.push(store.save("job-" + key, round));
        await Promise.all(saves);
        process.stdout.write(round + "\\n");
      }`;
    for (let kill = 0; kill < 6; kill++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      // Once a first round is durable (startup time varies under load), kill at a varying moment.
      const deadline = Date.now() + 10_000;
      while (!output.includes("\n") && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 2));
      await new Promise((resolve) => setTimeout(resolve, (kill * 37) % 100));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      const durable = Number(output.trim().split("\n").at(-1) ?? 0);
      const store = await FileCursorStore.open(path);
      const rounds = new Set(store.keys().map((key) => store.load(key)));
      assert.equal(rounds.size, 1, "one consistent snapshot: every key from the same round");
      const [round = 0] = rounds;
      assert.ok(round >= durable, `round ${round} on disk is at least the last durable one (${durable})`);
      assert.equal(store.keys().length, 2000);
    }
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name !== "pull-cursors.json"),
      [],
      "opening removed the killed writers' temp files",
    );
  });

  it("removes leftover temp files on open and ignores their content", async () => {
    const dir = await tempDir();
    const path = join(dir, "pull-cursors.json");
    await writeFile(path, JSON.stringify({ version: 1, cursors: { a: 1 } }));
    await writeFile(`${path}.tmp-999-0`, '{"version":1,"curs');
    const store = await FileCursorStore.open(path);
    assert.equal(store.load("a"), 1);
    assert.deepEqual(await readdir(dir), ["pull-cursors.json"]);
  });

  it("rejects a file that is not a cursor file, saying how to start over", async () => {
    const dir = await tempDir();
    const cases = [
      "{not json",
      "[]",
      '{"version":2,"cursors":{}}',
      '{"version":1}',
      '{"version":1,"cursors":{"a":"1"}}',
    ];
    for (const [i, text] of cases.entries()) {
      const path = join(dir, `bad-${i}.json`);
      await writeFile(path, text);
      await assert.rejects(FileCursorStore.open(path), (error: unknown) => {
        assert.ok(error instanceof CursorFileError);
        assert.match(
          error.message,
          /is not a pull cursor file .* remove it to start every pull job from the current time/,
        );
        return true;
      });
    }
  });

  it("reports a failed write to the waiting savers, keeps the old file, and leaves no temp file", async () => {
    const dir = await tempDir();
    const path = join(dir, "pull-cursors.json");
    const store = await FileCursorStore.open(path);
    await store.save("a", 1);
    // Replace the file by a non-empty directory: the rename over it fails.
    await rm(path);
    await mkdir(join(path, "blocker"), { recursive: true });
    await assert.rejects(store.save("a", 2));
    assert.deepEqual((await readdir(dir)).sort(), ["pull-cursors.json"]);
    await rm(path, { recursive: true });
    await store.save("a", 3);
    assert.equal((await FileCursorStore.open(path)).load("a"), 3);
  });
});
