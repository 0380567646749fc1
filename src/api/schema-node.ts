// A read-only view of the JSON Schema subset our resource schemas use.
//
// TypeBox builds the schemas (and gives us the TypeScript types); everything
// that consumes a schema at run time — validation, defaulting, the CRD, the
// OpenAPI document, `explain` — walks it through this view.
import type { TSchema } from "typebox";

/** Semantic string formats checked by our validator (see formats.ts). */
export type TelexFormat = "dns-label" | "dns-subdomain" | "duration" | "endpoint-url" | "metricsql";

export interface SchemaNode {
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  readonly description?: string;
  readonly default?: unknown;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  /** false: unknown fields are errors; a schema: a map whose values follow it. */
  readonly additionalProperties?: boolean | SchemaNode;
  readonly items?: SchemaNode;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly enum?: readonly (string | number)[];
  readonly format?: string;
  readonly "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  readonly "x-kubernetes-list-map-keys"?: readonly string[];
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean;
  readonly "x-kubernetes-validations"?: readonly { readonly rule: string; readonly message: string }[];
  /** Our semantic check for a string; emitted nowhere, enforced by the validator. */
  readonly "x-telex-format"?: TelexFormat;
  /** The type name `explain` shows instead of the structural one (e.g. ObjectMeta). */
  readonly "x-telex-type-name"?: string;
  /** Whether the CRD may describe this node's children (false for metadata). */
  readonly "x-telex-crd-opaque"?: boolean;
}

/** Views a TypeBox schema as a SchemaNode. TypeBox schemas are plain JSON Schema objects. */
export function schemaNode(schema: TSchema): SchemaNode {
  return schema;
}

/**
 * The schema of a declared field, looked up by a key a client chose: only the
 * node's own properties (`constructor` or `toString` are not fields of every
 * object, whatever Object.prototype has).
 */
export function propertyOf(node: SchemaNode | undefined, key: string): SchemaNode | undefined {
  const properties = node?.properties;
  return properties !== undefined && Object.hasOwn(properties, key) ? properties[key] : undefined;
}

/** Keys of a SchemaNode that belong to us and never leave the process. */
function isPrivateKey(key: string): boolean {
  return key.startsWith("x-telex-");
}

/**
 * Copies a schema tree for publication (CRD, OpenAPI): private keys dropped,
 * and any node for which `replace` returns a value published as that value
 * instead of its subtree.
 */
export function publishSchema(
  node: SchemaNode,
  replace: (node: SchemaNode) => Record<string, unknown> | undefined,
): Record<string, unknown> {
  const replaced = replace(node);
  if (replaced !== undefined) return replaced;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (isPrivateKey(key)) continue;
    if (key === "properties" && typeof value === "object" && value !== null) {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, SchemaNode>).map(([name, child]) => [
          name,
          publishSchema(child, replace),
        ]),
      );
    } else if (
      (key === "items" || key === "additionalProperties") &&
      typeof value === "object" &&
      value !== null
    ) {
      out[key] = publishSchema(value as SchemaNode, replace);
    } else {
      out[key] = value;
    }
  }
  return out;
}
