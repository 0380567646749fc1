// `explain` text in kubectl's layout, from the same schema as everything else,
// with each field's default and bounds added.
// The schemas come generated (explain-schemas.ts, `npm run gen`), not from the schema library:
// `telex explain` is a read verb and answers without loading it (src/cli/main.ts).
import { EXPORT_POLICY_EXPLAIN, SECRET_EXPLAIN } from "./explain-schemas.js";
import { GROUP, KIND, PLURAL, SECRET_API_VERSION, SECRET_KIND, SINGULAR, VERSION } from "./resource-names.js";
import { propertyOf, type SchemaNode } from "./schema-node.js";

export interface ExplainableResource {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly names: readonly string[];
  readonly schema: SchemaNode;
}

export const EXPLAINABLE: readonly ExplainableResource[] = [
  {
    group: GROUP,
    version: VERSION,
    kind: KIND,
    names: [PLURAL, SINGULAR, KIND.toLowerCase(), `${PLURAL}.${GROUP}`],
    schema: EXPORT_POLICY_EXPLAIN,
  },
  {
    group: "",
    version: SECRET_API_VERSION,
    kind: SECRET_KIND,
    names: ["secrets", "secret"],
    schema: SECRET_EXPLAIN,
  },
];

export class ExplainError extends Error {
  override readonly name = "ExplainError";
}

const WRAP_WIDTH = 80;

function wrap(text: string, indent: number): string[] {
  const prefix = " ".repeat(indent);
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter((w) => w !== "")) {
      if (line !== "" && prefix.length + line.length + 1 + word.length > WRAP_WIDTH) {
        lines.push(prefix + line);
        line = word;
      } else {
        line = line === "" ? word : `${line} ${word}`;
      }
    }
    lines.push(prefix + line);
  }
  return lines;
}

export function typeLabel(node: SchemaNode): string {
  const named = node["x-telex-type-name"];
  if (named !== undefined) return named;
  switch (node.type) {
    case "object":
      return "Object";
    case "array":
      return `[]${node.items === undefined ? "Object" : typeLabel(node.items)}`;
    case undefined:
      return "Object";
    default:
      return node.type;
  }
}

/** Default, enum and bounds of a field, e.g. `default: 500; 1 to 5000`. */
export function constraintsOf(node: SchemaNode): string {
  const parts: string[] = [];
  if (node.default !== undefined) parts.push(`default: ${formatDefault(node.default)}`);
  if (node.enum !== undefined) parts.push(`one of: ${node.enum.join(", ")}`);
  if (node.minimum !== undefined && node.maximum !== undefined)
    parts.push(`${node.minimum} to ${node.maximum}`);
  else if (node.minimum !== undefined) parts.push(`minimum: ${node.minimum}`);
  else if (node.maximum !== undefined) parts.push(`maximum: ${node.maximum}`);
  if (node.minItems !== undefined || node.maxItems !== undefined) {
    parts.push(`${node.minItems ?? 0} to ${node.maxItems ?? "any number of"} items`);
  }
  if (node.maxLength !== undefined) parts.push(`at most ${node.maxLength} characters`);
  if (node["x-telex-format"] !== undefined) parts.push(`format: ${node["x-telex-format"]}`);
  return parts.join("; ");
}

function formatDefault(value: unknown): string {
  if (typeof value === "object" && value !== null) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(", ")}}`;
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The object node whose fields are listed under a node: itself, or an array's item. */
function fieldsOf(node: SchemaNode): SchemaNode | undefined {
  const target = node.type === "array" ? node.items : node;
  return target?.properties !== undefined ? target : undefined;
}

function describeFields(node: SchemaNode, recursive: boolean, indent: number, out: string[]): void {
  const container = fieldsOf(node);
  if (container === undefined) return;
  const required = new Set(container.required ?? []);
  for (const [name, child] of Object.entries(container.properties ?? {})) {
    const mark = required.has(name) ? " -required-" : "";
    const constraints = constraintsOf(child);
    const pad = " ".repeat(indent);
    if (recursive) {
      out.push(
        `${pad}${name}\t<${typeLabel(child)}>${mark}${constraints === "" ? "" : `  (${constraints})`}`,
      );
      describeFields(child, true, indent + 2, out);
    } else {
      out.push(`${pad}${name}\t<${typeLabel(child)}>${mark}`);
      out.push(...wrap(child.description ?? "<no description>", indent + 2));
      if (constraints !== "") out.push(...wrap(constraints, indent + 2));
      out.push("");
    }
  }
}

export function findExplainable(name: string): ExplainableResource | undefined {
  const lowered = name.toLowerCase();
  return EXPLAINABLE.find((r) => r.names.includes(lowered));
}

/**
 * Renders `explain RESOURCE[.field.path]`. Throws ExplainError for an unknown
 * resource or field.
 */
export function explain(target: string, options: { recursive?: boolean } = {}): string {
  const [resourceName = "", ...fieldPath] = target.split(".");
  const resource = findExplainable(resourceName) ?? findExplainable(target);
  if (resource === undefined) {
    throw new ExplainError(
      `the server doesn't have a resource type "${resourceName}"; known: ${EXPLAINABLE.map((r) => r.names[0]).join(", ")}`,
    );
  }
  const path = findExplainable(target) === resource ? [] : fieldPath;
  let node = resource.schema;
  let parentRequired = false;
  for (const segment of path) {
    const container = fieldsOf(node);
    const child = propertyOf(container, segment);
    if (container === undefined || child === undefined) {
      throw new ExplainError(`field "${segment}" does not exist`);
    }
    parentRequired = (container.required ?? []).includes(segment);
    node = child;
  }

  const out: string[] = [];
  if (resource.group !== "") out.push(`GROUP:      ${resource.group}`);
  out.push(`KIND:       ${resource.kind}`, `VERSION:    ${resource.version}`, "");
  const last = path[path.length - 1];
  if (last !== undefined) {
    out.push(`FIELD: ${last} <${typeLabel(node)}>${parentRequired ? " -required-" : ""}`, "");
  }
  out.push("DESCRIPTION:", ...wrap(node.description ?? "<empty>", 4));
  const constraints = constraintsOf(node);
  if (last !== undefined && constraints !== "") out.push(...wrap(constraints, 4));
  if (fieldsOf(node) !== undefined) {
    out.push("", "FIELDS:");
    describeFields(node, options.recursive === true, 2, out);
  }
  while (out[out.length - 1] === "") out.pop();
  return `${out.join("\n")}\n`;
}
