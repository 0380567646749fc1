// JSON patch (RFC 6902): add, remove, replace, move, copy and test on JSON
// pointers (RFC 6901), applied to a copy; the first failing operation aborts.
//
// A patch is bounded as it runs, not after: the document's size is tracked
// operation by operation (a `copy` bomb doubling a list 40 times fails at the
// operation that would pass the object limit, before cloning), `copy` may
// clone at most the object limit in total, inserts and removes inside arrays
// may shift a bounded number of elements, and no operation may nest the
// document deeper than the depth limit.
import {
  MAX_JSON_PATCH_COPY_BYTES,
  MAX_JSON_PATCH_OPERATIONS,
  MAX_JSON_PATCH_SHIFTED_ELEMENTS,
  MAX_NESTING_DEPTH,
  MAX_OBJECT_BYTES,
  measureJson,
} from "../limits.js";
import { deepEqual, isObject, removeKey, setKey } from "../json.js";
import { PatchError, PatchTooLargeError } from "./errors.js";

type Container = Record<string, unknown> | unknown[];

export interface JsonPatchLimits {
  readonly maxOperations: number;
  /** The document's (estimated) JSON size after any operation. */
  readonly maxBytes: number;
  /** Bytes cloned by `copy` and walked by `move` to a deeper place, summed over the patch. */
  readonly maxCopyBytes: number;
  /** Array elements shifted by inserts and removes in the middle of arrays, summed over the patch. */
  readonly maxShiftedElements: number;
  readonly maxDepth: number;
}

export const JSON_PATCH_LIMITS: JsonPatchLimits = {
  maxOperations: MAX_JSON_PATCH_OPERATIONS,
  maxBytes: MAX_OBJECT_BYTES,
  maxCopyBytes: MAX_JSON_PATCH_COPY_BYTES,
  maxShiftedElements: MAX_JSON_PATCH_SHIFTED_ELEMENTS,
  maxDepth: MAX_NESTING_DEPTH,
};

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== "string") throw new PatchError("a JSON patch operation needs a string path");
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new PatchError(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function arrayIndex(array: unknown[], token: string, forInsert: boolean): number {
  if (forInsert && token === "-") return array.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`invalid array index ${JSON.stringify(token)}`);
  const index = Number(token);
  if (index > array.length || (!forInsert && index === array.length)) {
    throw new PatchError(`array index ${index} out of bounds (length ${array.length})`);
  }
  return index;
}

function pointerText(tokens: readonly string[]): string {
  const text = `/${tokens.join("/")}`;
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function parentOf(root: unknown, tokens: readonly string[]): { parent: Container; last: string } {
  if (tokens.length === 0) throw new PatchError("the operation cannot target the whole document");
  let current: unknown = root;
  for (let i = 0; i < tokens.length - 1; i++) {
    const token = tokens[i] ?? "";
    if (Array.isArray(current)) current = current[arrayIndex(current, token, false)];
    else if (isObject(current) && Object.hasOwn(current, token)) current = current[token];
    else throw new PatchError(`path ${pointerText(tokens)} does not exist`);
  }
  if (!Array.isArray(current) && !isObject(current)) {
    throw new PatchError(`path ${pointerText(tokens)}: parent is not an object or array`);
  }
  return { parent: current, last: tokens[tokens.length - 1] ?? "" };
}

function get(root: unknown, tokens: readonly string[]): unknown {
  if (tokens.length === 0) return root;
  const { parent, last } = parentOf(root, tokens);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false)];
  if (!Object.hasOwn(parent, last)) throw new PatchError(`path ${pointerText(tokens)} does not exist`);
  return parent[last];
}

function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length < path.length && prefix.every((token, i) => token === path[i]);
}

/** One patch run: the document and what its operations have cost so far. */
class PatchRun {
  doc: unknown;
  private bytes: number;
  private copiedBytes = 0;
  private shiftedElements = 0;

  constructor(
    target: unknown,
    private readonly limits: JsonPatchLimits,
  ) {
    this.doc = structuredClone(target);
    this.bytes = measureJson(this.doc).bytes;
  }

  apply(operation: unknown): void {
    if (!isObject(operation)) throw new PatchError("each JSON patch operation must be an object");
    const op = operation["op"];
    const path = parsePointer(operation["path"]);
    switch (op) {
      case "add":
        this.add(path, this.measuredValue(operation, path));
        break;
      case "remove":
        this.remove(path);
        break;
      case "replace":
        this.replace(path, this.measuredValue(operation, path));
        break;
      case "move":
        this.move(parsePointer(operation["from"]), path);
        break;
      case "copy":
        this.copy(parsePointer(operation["from"]), path);
        break;
      case "test":
        if (!Object.hasOwn(operation, "value")) throw new PatchError("a test operation needs a value");
        if (!deepEqual(get(this.doc, path), operation["value"])) {
          throw new PatchError(`test operation failed at ${pointerText(path)}`);
        }
        break;
      default:
        throw new PatchError(`unknown JSON patch operation ${JSON.stringify(op)}`);
    }
  }

  /** An operation's value (from the request body, so measuring it costs no more than reading it). */
  private measuredValue(operation: Record<string, unknown>, path: readonly string[]): Measured {
    if (!Object.hasOwn(operation, "value"))
      throw new PatchError(`the operation at ${pointerText(path)} needs a value`);
    const value = operation["value"];
    const { bytes, depth } = measureJson(value);
    this.checkDepth(path, depth);
    return { value: structuredClone(value), bytes };
  }

  /** Puts a value at the path; `measured.bytes` is what it adds to the document (0 when moved within it). */
  private add(path: readonly string[], measured: Measured): void {
    if (path.length === 0) {
      // A move to the root keeps the old document's size as a (conservative) estimate.
      if (measured.bytes > 0) this.bytes = 0;
      this.grow(measured.bytes);
      this.doc = measured.value;
      return;
    }
    const { parent, last } = parentOf(this.doc, path);
    if (Array.isArray(parent)) {
      const index = arrayIndex(parent, last, true);
      this.grow(measured.bytes + 1);
      this.shift(parent.length - index);
      parent.splice(index, 0, measured.value);
      return;
    }
    // Every byte replaced or removed was in the document, added or copied once: measuring it stays bounded.
    const replaced = Object.hasOwn(parent, last) ? measureJson(parent[last]).bytes : -(last.length + 4);
    this.grow(measured.bytes - replaced);
    setKey(parent, last, measured.value);
  }

  private remove(path: readonly string[]): void {
    this.bytes -= measureJson(this.detach(path)).bytes;
  }

  /** Takes the value at the path out of the document; its own bytes are still counted. */
  private detach(path: readonly string[]): unknown {
    const { parent, last } = parentOf(this.doc, path);
    if (Array.isArray(parent)) {
      const index = arrayIndex(parent, last, false);
      this.shift(parent.length - index - 1);
      this.bytes -= 1;
      return parent.splice(index, 1)[0];
    }
    if (!Object.hasOwn(parent, last)) throw new PatchError(`path ${pointerText(path)} does not exist`);
    const value = parent[last];
    removeKey(parent, last);
    this.bytes -= last.length + 4;
    return value;
  }

  private replace(path: readonly string[], measured: Measured): void {
    const old = get(this.doc, path);
    this.grow(measured.bytes - measureJson(old).bytes);
    if (path.length === 0) {
      this.doc = measured.value;
      return;
    }
    const { parent, last } = parentOf(this.doc, path);
    if (Array.isArray(parent)) parent[arrayIndex(parent, last, false)] = measured.value;
    else setKey(parent, last, measured.value);
  }

  private move(from: readonly string[], path: readonly string[]): void {
    if (isPrefix(from, path))
      throw new PatchError(`cannot move ${pointerText(from)} into its own child ${pointerText(path)}`);
    // Moving deeper may pass the depth limit: measure, and count it as copied work.
    if (path.length > from.length) this.chargeCopy(get(this.doc, from), path);
    const value = this.detach(from);
    this.add(path, { value, bytes: 0 });
  }

  private copy(from: readonly string[], path: readonly string[]): void {
    const value = get(this.doc, from);
    const bytes = this.chargeCopy(value, path);
    this.add(path, { value: structuredClone(value), bytes });
  }

  /** Measures a subtree about to be copied (or moved deeper) against what copies may still cost. */
  private chargeCopy(value: unknown, path: readonly string[]): number {
    const remaining = this.limits.maxCopyBytes - this.copiedBytes;
    const { bytes, depth } = measureJson(value, remaining);
    this.copiedBytes += bytes;
    if (this.copiedBytes > this.limits.maxCopyBytes) {
      throw new PatchTooLargeError(
        `the copy and move operations would clone more than the limit of ${this.limits.maxCopyBytes} bytes`,
      );
    }
    this.checkDepth(path, depth);
    return bytes;
  }

  private grow(delta: number): void {
    this.bytes += delta;
    if (this.bytes > this.limits.maxBytes) {
      throw new PatchTooLargeError(
        `the patched object would be larger than the limit of ${this.limits.maxBytes} bytes`,
      );
    }
  }

  private shift(elements: number): void {
    this.shiftedElements += elements;
    if (this.shiftedElements > this.limits.maxShiftedElements) {
      throw new PatchTooLargeError(
        `the operations would shift more than the limit of ${this.limits.maxShiftedElements} array elements`,
      );
    }
  }

  private checkDepth(path: readonly string[], valueDepth: number): void {
    if (path.length + valueDepth > this.limits.maxDepth) {
      throw new PatchError(
        `the value at ${pointerText(path)} would nest the object deeper than the limit of ${this.limits.maxDepth} levels`,
      );
    }
  }
}

interface Measured {
  readonly value: unknown;
  readonly bytes: number;
}

export function applyJsonPatch(
  target: unknown,
  patch: unknown,
  limits: JsonPatchLimits = JSON_PATCH_LIMITS,
): unknown {
  if (!Array.isArray(patch)) throw new PatchError("a JSON patch must be an array of operations");
  if (patch.length > limits.maxOperations) {
    throw new PatchTooLargeError(
      `the JSON patch has ${patch.length} operations, more than the limit of ${limits.maxOperations}`,
    );
  }
  const run = new PatchRun(target, limits);
  for (const operation of patch) run.apply(operation);
  return run.doc;
}
