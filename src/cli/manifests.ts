// Reading manifests: files, directories and stdin; multi-document YAML or JSON.
// Each document keeps enough of its source to point errors at a line.
import { readFile, readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import type { Readable } from "node:stream";
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from "yaml";
import { segmentName, type FieldPath } from "../api/index.js";

export const STDIN_SOURCE = "-";
const MANIFEST_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface ManifestDocument {
  readonly type: "document";
  /** The file it came from, or "<stdin>". */
  readonly source: string;
  /** 1-based position of the document within its source. */
  readonly index: number;
  readonly position: Position;
  readonly object: unknown;
  /** Where a field path points in the source: the deepest part of it that exists. */
  locate(path: FieldPath): Position;
}

/** A source that could not be read or parsed; nothing of it is used. */
export interface ManifestProblem {
  readonly type: "problem";
  readonly source: string;
  readonly index?: number;
  readonly position?: Position;
  readonly message: string;
}

/** Documents and problems in the order of the sources and of documents within them. */
export type ManifestEntry = ManifestDocument | ManifestProblem;

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** Expands directories into their manifest files, sorted; recursion only when asked, as kubectl -R. */
async function expand(path: string, recursive: boolean, top: boolean): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  if (!top && !recursive) return [];
  const entries = await readdir(path, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) {
      if (recursive) files.push(...(await expand(full, recursive, false)));
    } else if (MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
      files.push(full);
    }
  }
  return files;
}

function locator(doc: Document, counter: LineCounter): (path: FieldPath) => Position {
  const positionOf = (offset: number): Position => {
    const { line, col } = counter.linePos(offset);
    return { line, column: col };
  };
  return (path) => {
    let node: unknown = doc.contents;
    let best = positionOf((doc.contents?.range ?? [0])[0]);
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segmentName(segment)),
        );
        if (pair === undefined) break;
        if (isScalar(pair.key) && pair.key.range) best = positionOf(pair.key.range[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        const item: unknown = node.items[segment];
        if (item === undefined) break;
        node = item;
        const range = (item as Node).range;
        if (range) best = positionOf(range[0]);
      } else {
        break;
      }
    }
    return best;
  };
}

function parseSource(source: string, text: string, into: ManifestEntry[]): void {
  const counter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, i) => {
    const index = i + 1;
    const [error] = doc.errors;
    if (error !== undefined) {
      const { line, col } = counter.linePos(error.pos[0]);
      into.push({
        type: "problem",
        source,
        index,
        position: { line, column: col },
        message: `invalid YAML: ${error.message.split("\n")[0] ?? error.message}`,
      });
      return;
    }
    // kubectl skips empty documents, e.g. after a trailing `---`.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return;
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      into.push({
        type: "problem",
        source,
        index,
        message: `invalid YAML: ${e instanceof Error ? e.message : String(e)}`,
      });
      return;
    }
    const locate = locator(doc, counter);
    into.push({ type: "document", source, index, position: locate([]), object, locate });
  });
}

/** Reads every source; problems are collected, never thrown. */
export async function loadManifests(
  paths: readonly string[],
  options: { recursive: boolean; stdin: Readable },
): Promise<ManifestEntry[]> {
  const loaded: ManifestEntry[] = [];
  for (const path of paths) {
    if (path === STDIN_SOURCE) {
      parseSource("<stdin>", await readAll(options.stdin), loaded);
      continue;
    }
    let files: string[];
    try {
      files = await expand(path, options.recursive, true);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      loaded.push({
        type: "problem",
        source: path,
        message: code === "ENOENT" ? "no such file or directory" : `cannot read: ${String(e)}`,
      });
      continue;
    }
    if (files.length === 0)
      loaded.push({ type: "problem", source: path, message: "no .yaml, .yml or .json files in directory" });
    for (const file of files) {
      try {
        parseSource(file, await readFile(file, "utf8"), loaded);
      } catch (e) {
        loaded.push({ type: "problem", source: file, message: `cannot read: ${(e as Error).message}` });
      }
    }
  }
  return loaded;
}
