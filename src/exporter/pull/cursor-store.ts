// Where pull jobs remember how far they have exported. A cursor is the first
// millisecond not yet exported by the job with that key. The interface is
// kept small so a SQLite-backed store can replace the file one.

export interface CursorStore {
  /** The saved cursor of key, or undefined when there is none. */
  load(key: string): number | undefined;
  /** Records key's cursor; resolves once it is durable. Implementations may batch saves. */
  save(key: string, cursorMs: number): Promise<void>;
  /** Forgets key's cursor; resolves once that is durable. */
  delete(key: string): Promise<void>;
}

/** Keeps cursors in memory only: for tests, and for running without a data dir. */
export class MemoryCursorStore implements CursorStore {
  private readonly cursors = new Map<string, number>();

  load(key: string): number | undefined {
    return this.cursors.get(key);
  }

  save(key: string, cursorMs: number): Promise<void> {
    this.cursors.set(key, cursorMs);
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.cursors.delete(key);
    return Promise.resolve();
  }
}
