// JSON merge patch (RFC 7386): objects merge recursively, null deletes,
// anything else replaces.
import { isObject, removeKey } from "../json.js";

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) removeKey(out, key);
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}
