// Defaulting and validation against any SchemaNode, for objects the API
// server stores beside ExportPolicy and Secret (Namespace, Event): the same
// structural walk and formats, without the ExportPolicy-specific rules.
import { DEFAULTS } from "./defaults.js";
import type { FieldError } from "./field-errors.js";
import { formatCheckers } from "./formats.js";
import type { SchemaNode } from "./schema-node.js";
import { defaultAndValidate } from "./structural.js";

export interface SchemaValidation {
  /** The input with defaults applied and unknown fields left out. */
  readonly value: unknown;
  readonly errors: readonly FieldError[];
}

export function validateAgainstSchema(input: unknown, schema: SchemaNode): SchemaValidation {
  return defaultAndValidate(input, schema, formatCheckers({ tenantLabel: DEFAULTS.tenantLabel }));
}
