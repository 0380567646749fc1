// One process per buffer directory: two writers would interleave records and
// corrupt the log. A lock file holds the owner's pid; a lock whose process is
// gone (kill -9, a crash) is taken over, since there is no one to hand over.
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const LOCK_FILE = "lock";

export class BufferLockedError extends Error {
  override readonly name = "BufferLockedError";
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error: unknown) {
    // EPERM: the process exists but belongs to someone else.
    return (error as { code?: unknown }).code === "EPERM";
  }
}

/** Takes the directory's lock; resolves with its release. */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: "wx" });
      return () => rm(path, { force: true });
    } catch (error: unknown) {
      if ((error as { code?: unknown }).code !== "EEXIST") throw error;
    }
    const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
    // Our own pid is a previous run of this process slot (a container's pid 1 restarted), not a rival.
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new BufferLockedError(`the durable buffer ${dir} is in use by process ${owner}`);
    }
    await rm(path, { force: true });
  }
  throw new BufferLockedError(`could not take the lock of the durable buffer ${dir}`);
}
