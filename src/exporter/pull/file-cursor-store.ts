// Cursors in one JSON file in the data dir, replaced atomically: the new
// content goes to a temp file in the same directory, is fsynced, renamed over
// the old file, and the directory is fsynced. A crash at any point leaves
// either the old file or the new one, never a torn one; a leftover temp file
// is removed on the next open.
//
// Saves are batched: saves made in the same tick share one write, and while
// a write is in flight, later saves wait for the next one, which carries all
// of them. With many jobs finishing windows at
// once that is one fsync per batch, not per job.
import { readFile, readdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { replaceFileDurably } from "../util/durable-file.js";
import type { CursorStore } from "./cursor-store.js";

const FORMAT_VERSION = 1;

interface CursorFile {
  readonly version: number;
  readonly cursors: Record<string, number>;
}

interface Waiter {
  readonly generation: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class CursorFileError extends Error {
  override readonly name = "CursorFileError";
}

export class FileCursorStore implements CursorStore {
  /** Bumped by every change; `written` says which generation is on disk. */
  private generation = 0;
  private written = 0;
  private writing = false;
  private waiters: Waiter[] = [];
  private tempCounter = 0;

  private constructor(
    readonly path: string,
    private readonly cursors: Map<string, number>,
  ) {}

  /**
   * Loads the file at path (none yet is an empty store). A file that is not a
   * cursor file is an error rather than a silent restart from scratch: the
   * message says how to start over deliberately.
   */
  static async open(path: string): Promise<FileCursorStore> {
    await removeTempFiles(path);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error: unknown) {
      if ((error as { code?: unknown }).code === "ENOENT") return new FileCursorStore(path, new Map());
      throw error;
    }
    return new FileCursorStore(path, parseCursorFile(path, text));
  }

  load(key: string): number | undefined {
    return this.cursors.get(key);
  }

  save(key: string, cursorMs: number): Promise<void> {
    if (!Number.isSafeInteger(cursorMs))
      throw new RangeError(`cursor must be an integer ms, got ${cursorMs}`);
    this.cursors.set(key, cursorMs);
    return this.scheduleWrite();
  }

  delete(key: string): Promise<void> {
    if (!this.cursors.delete(key)) return Promise.resolve();
    return this.scheduleWrite();
  }

  /** Every key with a cursor, for inspection and tests. */
  keys(): string[] {
    return [...this.cursors.keys()];
  }

  private scheduleWrite(): Promise<void> {
    const generation = ++this.generation;
    const durable = new Promise<void>((resolve, reject) => {
      this.waiters.push({ generation, resolve, reject });
    });
    if (!this.writing) void this.writeLoop();
    return durable;
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    // Let the saves made in the same tick (many jobs finishing together) join this write.
    await Promise.resolve();
    try {
      while (this.written < this.generation) {
        const generation = this.generation;
        const content: CursorFile = { version: FORMAT_VERSION, cursors: Object.fromEntries(this.cursors) };
        try {
          await this.writeAtomically(`${JSON.stringify(content)}\n`);
          this.written = generation;
          this.settle(generation, undefined);
        } catch (error: unknown) {
          // Later saves still get their own attempt; these waiters learn it failed.
          this.settle(generation, error);
          this.written = Math.max(this.written, generation);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private settle(upTo: number, error: unknown): void {
    const done = this.waiters.filter((w) => w.generation <= upTo);
    this.waiters = this.waiters.filter((w) => w.generation > upTo);
    for (const waiter of done) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  private async writeAtomically(text: string): Promise<void> {
    await replaceFileDurably(this.path, `${this.path}.tmp-${process.pid}-${this.tempCounter++}`, text);
  }
}

function parseCursorFile(path: string, text: string): Map<string, number> {
  const fail = (why: string): never => {
    throw new CursorFileError(
      `${path} is not a pull cursor file (${why}); remove it to start every pull job from the current time`,
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail("not JSON");
  }
  if (typeof parsed !== "object" || parsed === null) return fail("not an object");
  const { version, cursors } = parsed as { version?: unknown; cursors?: unknown };
  if (version !== FORMAT_VERSION)
    return fail(`version ${JSON.stringify(version)}, expected ${FORMAT_VERSION}`);
  if (typeof cursors !== "object" || cursors === null || Array.isArray(cursors))
    return fail('no "cursors" object');
  const result = new Map<string, number>();
  for (const [key, value] of Object.entries(cursors)) {
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      return fail(`cursor of ${JSON.stringify(key)} is not an integer`);
    }
    result.set(key, value);
  }
  return result;
}

async function removeTempFiles(path: string): Promise<void> {
  const prefix = `${basename(path)}.tmp-`;
  let entries: string[];
  try {
    entries = await readdir(dirname(path));
  } catch {
    return;
  }
  await Promise.all(
    entries
      .filter((name) => name.startsWith(prefix))
      .map((name) => rm(join(dirname(path), name), { force: true })),
  );
}
