// Query parameters shared by the write verbs.
import type { FieldValidation } from "../admission.js";
import { PATCH_MEDIA_TYPES, mediaType, queryString, type Query } from "../http-io.js";
import { errors } from "../status.js";
import type { PatchType, WriteOptions } from "../writes.js";

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

/** The options of a write from its query (and the client's User-Agent, for the field manager). */
export function writeOptionsOf(
  query: Query,
  userAgent: string | undefined,
  subresource: "status" | undefined,
  apply = false,
): WriteOptions {
  return {
    dryRun: dryRunOf(query),
    fieldValidation: fieldValidationOf(query),
    fieldManager: fieldManagerOf(query, userAgent, apply),
    subresource,
  };
}

/** The patch type a Content-Type names; 415 for any other. */
export function patchTypeOf(contentType: string | undefined): PatchType {
  const media = mediaType(contentType);
  const type: PatchType | undefined = (PATCH_MEDIA_TYPES as Record<string, PatchType>)[media];
  if (type === undefined) throw errors.unsupportedMediaType(media, Object.keys(PATCH_MEDIA_TYPES));
  return type;
}

/** A JSON patch is a list of operations; other patches are objects (decoding checks those). */
export function checkPatchShape(type: PatchType, patch: unknown): void {
  if (type === "json" && !Array.isArray(patch))
    throw errors.badRequest("a JSON patch must be an array of operations");
}
