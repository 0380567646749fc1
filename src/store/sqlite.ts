// Opening the SQLite file: durability settings and the schema.
//
// better-sqlite3 is synchronous, which suits an API server whose writes are
// small: a request's read-check-write runs in one tick with no interleaving,
// so no request can slip between another's read and its commit.
import { chmodSync } from "node:fs";
import Database from "better-sqlite3";

export type SqliteDatabase = Database.Database;

/**
 * FULL fsyncs the write-ahead log at every commit, so a write acknowledged
 * with 2xx survives a power loss, not only `kill -9`. (NORMAL would survive
 * `kill -9` alone — the OS keeps the written WAL pages — but may lose the last
 * commits on a crash of the machine.) NORMAL exists for benchmarks.
 */
export type Synchronous = "FULL" | "NORMAL";

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE objects (
     resource TEXT NOT NULL,
     project TEXT NOT NULL,
     namespace TEXT NOT NULL,
     name TEXT NOT NULL,
     rv INTEGER NOT NULL,
     body TEXT NOT NULL,
     PRIMARY KEY (resource, project, namespace, name)
   ) WITHOUT ROWID;
   CREATE TABLE events (
     rv INTEGER PRIMARY KEY,
     type TEXT NOT NULL,
     resource TEXT NOT NULL,
     project TEXT NOT NULL,
     namespace TEXT NOT NULL,
     name TEXT NOT NULL,
     body TEXT NOT NULL
   );
   CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO meta (key, value) VALUES ('resourceVersion', 0), ('compactedThrough', 0);`,
];

export class DatabaseLockedError extends Error {
  override readonly name = "DatabaseLockedError";
}

export function openDatabase(path: string, synchronous: Synchronous = "FULL"): SqliteDatabase {
  // No busy wait: the file is ours alone (exclusive lock), so "busy" means another process has it.
  const db = new Database(path, { timeout: 0 });
  try {
    // Secrets live in this file: owner only (SQLite gives the WAL the same mode).
    if (path !== ":memory:") chmodSync(path, 0o600);
    // Exclusive locking keeps a second server off the same file (it fails at
    // once instead of interleaving writes) and lets WAL run without a -shm file.
    db.pragma("locking_mode = EXCLUSIVE");
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    const expected = path === ":memory:" ? "memory" : "wal";
    if (mode !== expected) throw new Error(`SQLite refused WAL mode (journal_mode=${String(mode)})`);
    db.pragma(`synchronous = ${synchronous}`);
    migrate(db);
  } catch (error: unknown) {
    db.close();
    if (error instanceof Error && /database is locked/i.test(error.message)) {
      throw new DatabaseLockedError(`${path} is in use by another process (is another telex serve running?)`);
    }
    throw error;
  }
  return db;
}

function migrate(db: SqliteDatabase): void {
  const version = Number(db.pragma("user_version", { simple: true }));
  if (version > MIGRATIONS.length) {
    throw new Error(
      `${db.name} has schema version ${version}, newer than this telex knows (${MIGRATIONS.length})`,
    );
  }
  db.transaction(() => {
    MIGRATIONS.slice(version).forEach((sql) => db.exec(sql));
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
