// sinks.json: which sink key (`<policy uid>/<sink name>`) owns which sink
// index in the log. Indices are never reused, so a section of a removed sink
// can never be read as another sink's. Replaced atomically, as
// pull/file-cursor-store.ts does: temp file, fsync, rename, fsync directory.
import { readFile, rm } from "node:fs/promises";
import { replaceFileDurably } from "../util/durable-file.js";

const FORMAT_VERSION = 1;

export class RegistryFileError extends Error {
  override readonly name = "RegistryFileError";
}

export class SinkRegistry {
  private generation = 0;
  private written = 0;
  private writing: Promise<void> | undefined;
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    readonly sinks: Map<string, number>,
    private nextIndex: number,
  ) {}

  static async open(path: string): Promise<SinkRegistry> {
    await rm(`${path}.tmp`, { force: true });
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error: unknown) {
      if ((error as { code?: unknown }).code === "ENOENT") return new SinkRegistry(path, new Map(), 0);
      throw error;
    }
    const fail = (why: string): never => {
      throw new RegistryFileError(
        `${path} is not a buffer sink registry (${why}); remove the buffer directory to start empty`,
      );
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return fail("not JSON");
    }
    if (typeof parsed !== "object" || parsed === null) return fail("not an object");
    const { version, nextIndex, sinks } = parsed as {
      version?: unknown;
      nextIndex?: unknown;
      sinks?: unknown;
    };
    if (version !== FORMAT_VERSION) return fail(`version ${JSON.stringify(version)}`);
    if (typeof nextIndex !== "number" || !Number.isSafeInteger(nextIndex)) return fail("no nextIndex");
    if (typeof sinks !== "object" || sinks === null || Array.isArray(sinks)) return fail('no "sinks" object');
    const map = new Map<string, number>();
    for (const [key, index] of Object.entries(sinks)) {
      if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0 || index >= nextIndex)
        return fail(`bad index for ${JSON.stringify(key)}`);
      map.set(key, index);
    }
    return new SinkRegistry(path, map, nextIndex);
  }

  /** The sink's index, assigning a new one (persisted by the next flush) the first time. */
  indexOf(key: string): number {
    let index = this.sinks.get(key);
    if (index === undefined) {
      index = this.nextIndex++;
      this.sinks.set(key, index);
      this.generation++;
    }
    return index;
  }

  remove(key: string): void {
    if (this.sinks.delete(key)) this.generation++;
  }

  get dirty(): boolean {
    return this.written < this.generation;
  }

  /** Resolves once every change made before the call is on disk. */
  async flush(): Promise<void> {
    while (this.dirty) {
      if (this.writing === undefined) {
        this.writing = this.writeOnce().finally(() => {
          this.writing = undefined;
        });
      }
      await this.writing;
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        throw failure;
      }
    }
  }

  /**
   * Writes what the registry holds now, once (after a write in flight).
   * flush() writes until nothing is dirty: while new sinks keep coming (a
   * burst of new policies) that is one rewrite after another.
   */
  async persist(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    if (!this.dirty) return;
    this.writing = this.writeOnce().finally(() => {
      this.writing = undefined;
    });
    await this.writing;
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      throw failure;
    }
  }

  private async writeOnce(): Promise<void> {
    const generation = this.generation;
    const text = `${JSON.stringify({ version: FORMAT_VERSION, nextIndex: this.nextIndex, sinks: Object.fromEntries(this.sinks) })}\n`;
    try {
      await replaceFileDurably(this.path, `${this.path}.tmp`, text);
      this.written = generation;
    } catch (error: unknown) {
      this.failure = asError(error);
    }
  }
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
