// Small files replaced whole and durably (registries, cursors): write a temp
// file, fsync it, rename it over the old one, fsync the directory. A crash
// leaves either the old or the new content, never a mix.
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/** Makes a rename, create or unlink durable: on Linux only an fsync of the directory persists the entry. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` with `text` through `temp` (removed on failure); durable once it resolves. */
export async function replaceFileDurably(path: string, temp: string, text: string): Promise<void> {
  try {
    const file = await open(temp, "w", 0o644);
    try {
      await file.writeFile(text, "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error: unknown) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}
