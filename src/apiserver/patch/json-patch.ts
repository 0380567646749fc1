// JSON patch (RFC 6902): add, remove, replace, move, copy and test on JSON
// pointers (RFC 6901), applied to a copy; the first failing operation aborts.
import { deepEqual, isObject, removeKey } from "../json.js";
import { PatchError } from "./errors.js";

type Container = Record<string, unknown> | unknown[];

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

function parentOf(root: unknown, tokens: readonly string[]): { parent: Container; last: string } {
  if (tokens.length === 0) throw new PatchError("the operation cannot target the whole document");
  let current: unknown = root;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(current)) current = current[arrayIndex(current, token, false)];
    else if (isObject(current) && token in current) current = current[token];
    else throw new PatchError(`path /${tokens.join("/")} does not exist`);
  }
  if (!Array.isArray(current) && !isObject(current)) {
    throw new PatchError(`path /${tokens.join("/")}: parent is not an object or array`);
  }
  return { parent: current, last: tokens[tokens.length - 1] ?? "" };
}

function get(root: unknown, tokens: readonly string[]): unknown {
  if (tokens.length === 0) return root;
  const { parent, last } = parentOf(root, tokens);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false)];
  if (!(last in parent)) throw new PatchError(`path /${tokens.join("/")} does not exist`);
  return parent[last];
}

function add(root: unknown, tokens: readonly string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(root, tokens);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, value);
  else parent[last] = value;
  return root;
}

function remove(root: unknown, tokens: readonly string[]): unknown {
  const { parent, last } = parentOf(root, tokens);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false), 1);
  else if (last in parent) removeKey(parent, last);
  else throw new PatchError(`path /${tokens.join("/")} does not exist`);
  return root;
}

export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw new PatchError("a JSON patch must be an array of operations");
  let doc: unknown = structuredClone(target);
  for (const operation of patch) {
    if (!isObject(operation)) throw new PatchError("each JSON patch operation must be an object");
    const op = operation["op"];
    const path = parsePointer(operation["path"]);
    switch (op) {
      case "add":
        doc = add(doc, path, structuredClone(operation["value"]));
        break;
      case "remove":
        doc = remove(doc, path);
        break;
      case "replace":
        get(doc, path);
        doc =
          path.length === 0
            ? structuredClone(operation["value"])
            : add(remove(doc, path), path, structuredClone(operation["value"]));
        break;
      case "move": {
        const from = parsePointer(operation["from"]);
        const value = get(doc, from);
        doc = add(remove(doc, from), path, value);
        break;
      }
      case "copy":
        doc = add(doc, path, structuredClone(get(doc, parsePointer(operation["from"]))));
        break;
      case "test":
        if (!deepEqual(get(doc, path), operation["value"])) {
          throw new PatchError(`test operation failed at /${path.join("/")}`);
        }
        break;
      default:
        throw new PatchError(`unknown JSON patch operation ${JSON.stringify(op)}`);
    }
  }
  return doc;
}
