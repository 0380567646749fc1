// JSON merge patch (RFC 7386): objects merge recursively, null deletes,
// anything else replaces. The result is at most the object plus the patch,
// no deeper than either; admission bounds both.
import { isObject, ownValue, removeKey, setKey } from "../json.js";

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return Array.isArray(patch) ? structuredClone(patch) : patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) removeKey(out, key);
    else setKey(out, key, applyMergePatch(ownValue(out, key), value));
  }
  return out;
}
