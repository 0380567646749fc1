// Query parameters shared by the write verbs.
import type { FieldValidation } from "../admission.js";
import { queryString, type Query } from "../http-io.js";
import { errors } from "../status.js";

const MAX_FIELD_MANAGER_LENGTH = 128;

export function dryRunOf(query: Query): boolean {
  const values = query.getAll("dryRun");
  for (const value of values) {
    if (value !== "All" && value !== "")
      throw errors.badRequest(`unsupported dryRun value ${JSON.stringify(value)}: only All is supported`);
  }
  return values.includes("All");
}

/** Kubernetes' default since 1.27 is Warn; kubectl asks for Strict. */
export function fieldValidationOf(query: Query): FieldValidation {
  const value = queryString(query, "fieldValidation") ?? "Warn";
  if (value === "Strict" || value === "Warn" || value === "Ignore") return value;
  throw errors.badRequest(`fieldValidation must be Strict, Warn or Ignore, got ${JSON.stringify(value)}`);
}

/** The field manager: the parameter, else the client's User-Agent product (as Kubernetes derives it). */
export function fieldManagerOf(query: Query, userAgent: string | undefined, required: boolean): string {
  const given = queryString(query, "fieldManager");
  if (given !== undefined) {
    if (given.length > MAX_FIELD_MANAGER_LENGTH)
      throw errors.badRequest(`fieldManager must be at most ${MAX_FIELD_MANAGER_LENGTH} characters`);
    return given;
  }
  if (required) return "";
  const product = (userAgent ?? "").split("/")[0]?.trim() ?? "";
  return product === "" ? "unknown" : product.slice(0, MAX_FIELD_MANAGER_LENGTH);
}
