// Label and field selectors in Kubernetes syntax:
//   labels: `app=web,tier!=db,env in (prod,staging),!legacy,track`
//   fields: `metadata.name=x,involvedObject.kind!=Pod` (only = == != and the fields a resource supports)
import { errors } from "./status.js";

export type LabelRequirement =
  | { readonly op: "=" | "!="; readonly key: string; readonly value: string }
  | { readonly op: "in" | "notin"; readonly key: string; readonly values: readonly string[] }
  | { readonly op: "exists" | "!exists"; readonly key: string };

export type LabelSelector = readonly LabelRequirement[];

const KEY = /^[A-Za-z0-9][-A-Za-z0-9_./]*$/;

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function checkKey(key: string, text: string): string {
  if (!KEY.test(key))
    throw errors.badRequest(
      `unable to parse requirement: invalid label key ${JSON.stringify(key)} in ${JSON.stringify(text)}`,
    );
  return key;
}

export function parseLabelSelector(text: string | undefined): LabelSelector {
  if (text === undefined || text.trim() === "") return [];
  return splitTopLevel(text).map((part): LabelRequirement => {
    const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (set !== null) {
      const [, key = "", op = "in", list = ""] = set;
      const values = list
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v !== "");
      return { op: op === "in" ? "in" : "notin", key: checkKey(key, text), values };
    }
    const binary = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (binary !== null) {
      const [, key = "", op = "=", value = ""] = binary;
      return { op: op === "!=" ? "!=" : "=", key: checkKey(key, text), value };
    }
    if (part.startsWith("!")) return { op: "!exists", key: checkKey(part.slice(1).trim(), text) };
    return { op: "exists", key: checkKey(part, text) };
  });
}

export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return selector.every((req) => {
    const value = labels[req.key];
    switch (req.op) {
      case "=":
        return value === req.value;
      case "!=":
        return value !== req.value;
      case "in":
        return value !== undefined && req.values.includes(value);
      case "notin":
        return value === undefined || !req.values.includes(value);
      case "exists":
        return value !== undefined;
      case "!exists":
        return value === undefined;
    }
  });
}

export interface FieldRequirement {
  readonly field: string;
  readonly op: "=" | "!=";
  readonly value: string;
}

export type FieldSelector = readonly FieldRequirement[];

/** Splits on unescaped commas and unescapes `\,` `\=` `\\`. */
function splitEscaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? "";
    if (ch === "\\" && i + 1 < text.length) {
      current += ch + (text[i + 1] ?? "");
      i++;
    } else if (ch === separator) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

const unescape = (value: string): string => value.replace(/\\(.)/g, "$1");

export function parseFieldSelector(text: string | undefined, supported: ReadonlySet<string>): FieldSelector {
  if (text === undefined || text.trim() === "") return [];
  return splitEscaped(text, ",")
    .filter((p) => p.trim() !== "")
    .map((part) => {
      const match = /^([^!=]+)(==|=|!=)(.*)$/s.exec(part.trim());
      if (match === null) throw errors.badRequest(`invalid field selector: ${JSON.stringify(part)}`);
      const [, field = "", op = "=", value = ""] = match;
      if (!supported.has(field)) throw errors.badRequest(`field label not supported: ${field}`);
      return { field, op: op === "!=" ? "!=" : "=", value: unescape(value) };
    });
}

export function matchesFields(selector: FieldSelector, fieldValue: (field: string) => string): boolean {
  return selector.every((req) => (fieldValue(req.field) === req.value) === (req.op === "="));
}

/** The name a selector pins, when it has `metadata.name=x`: lets list and watch read one row. */
export function pinnedName(selector: FieldSelector): string | undefined {
  return selector.find((r) => r.field === "metadata.name" && r.op === "=")?.value;
}
