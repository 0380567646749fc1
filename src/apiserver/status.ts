// Kubernetes `Status` errors: every failure the API returns is one of these,
// built here so reasons, codes and messages stay consistent (and kubectl
// prints them the way it prints a real API server's).
import { formatPath, type FieldError } from "../api/index.js";

/** The Kubernetes StatusReason values this server uses, with their HTTP codes. */
export const STATUS_REASONS = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
} as const;

export type StatusReason = keyof typeof STATUS_REASONS;

export interface StatusCause {
  readonly reason: string;
  readonly message: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

/** The resource a request named, for messages like `exportpolicies.telemetry.miloapis.com "x" not found`. */
export interface ResourceRef {
  /** Plural resource name. */
  readonly resource: string;
  readonly group: string;
  readonly name?: string;
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
    /** Overrides the reason's usual code (e.g. 504 for a too-large resourceVersion). */
    readonly code: number = STATUS_REASONS[reason],
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details === undefined ? {} : { details: this.details }),
      code: this.code,
    };
  }
}

export function qualifiedResource(ref: ResourceRef): string {
  return ref.group === "" ? ref.resource : `${ref.resource}.${ref.group}`;
}

function refDetails(ref: ResourceRef): StatusDetails {
  return { ...(ref.name === undefined ? {} : { name: ref.name }), group: ref.group, kind: ref.resource };
}

/** Kubernetes' cause type for each of our field error types. */
const CAUSE_TYPES: Readonly<Record<FieldError["type"], string>> = {
  Required: "FieldValueRequired",
  Invalid: "FieldValueInvalid",
  Unsupported: "FieldValueNotSupported",
  Duplicate: "FieldValueDuplicate",
  NotFound: "FieldValueNotFound",
  TooMany: "FieldValueTooMany",
  TooLong: "FieldValueTooLong",
  Forbidden: "FieldValueForbidden",
  UnknownField: "FieldValueInvalid",
};

function causeMessage(error: FieldError): string {
  const shown = error.value !== undefined ? JSON.stringify(error.value) : undefined;
  const head = {
    Required: "Required value",
    Invalid: `Invalid value: ${shown ?? "null"}`,
    Unsupported: `Unsupported value: ${shown ?? "null"}`,
    Duplicate: `Duplicate value: ${shown ?? "null"}`,
    NotFound: `Not found: ${shown ?? "null"}`,
    TooMany: "Too many",
    TooLong: "Too long",
    Forbidden: "Forbidden",
    UnknownField: "Unknown field",
  }[error.type];
  return error.detail === "" ? head : `${head}: ${error.detail}`;
}

export const errors = {
  notFound: (ref: ResourceRef): ApiError =>
    new ApiError("NotFound", `${qualifiedResource(ref)} "${ref.name ?? ""}" not found`, refDetails(ref)),

  alreadyExists: (ref: ResourceRef): ApiError =>
    new ApiError(
      "AlreadyExists",
      `${qualifiedResource(ref)} "${ref.name ?? ""}" already exists`,
      refDetails(ref),
    ),

  conflict: (ref: ResourceRef, why: string): ApiError =>
    new ApiError(
      "Conflict",
      `Operation cannot be fulfilled on ${qualifiedResource(ref)} "${ref.name ?? ""}": ${why}`,
      refDetails(ref),
    ),

  staleResourceVersion: (ref: ResourceRef): ApiError =>
    errors.conflict(
      ref,
      "the object has been modified; please apply your changes to the latest version and try again",
    ),

  /** Validation failures: 422 with one cause per field problem, as kubectl lists them. */
  invalid: (kind: string, ref: ResourceRef, fieldErrors: readonly FieldError[]): ApiError => {
    const causes = fieldErrors.map((e) => ({
      reason: CAUSE_TYPES[e.type],
      message: causeMessage(e),
      field: formatPath(e.path),
    }));
    const list = causes.map((c) => `${c.field}: ${c.message}`);
    const summary = list.length === 1 ? (list[0] ?? "") : `[${list.join(", ")}]`;
    return new ApiError("Invalid", `${kind} "${ref.name ?? ""}" is invalid: ${summary}`, {
      ...refDetails(ref),
      kind,
      causes,
    });
  },

  badRequest: (message: string, causes?: readonly StatusCause[]): ApiError =>
    new ApiError("BadRequest", message, causes === undefined ? undefined : { causes }),

  methodNotAllowed: (verb: string, what: string): ApiError =>
    new ApiError(
      "MethodNotAllowed",
      `the server does not allow this method on the requested resource (${verb} ${what})`,
    ),

  unsupportedMediaType: (contentType: string, supported: readonly string[]): ApiError =>
    new ApiError(
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${supported.join(", ")} (got ${JSON.stringify(contentType)})`,
    ),

  notAcceptable: (accept: string): ApiError =>
    new ApiError(
      "NotAcceptable",
      `only the following media types are accepted: application/json, application/yaml (got ${JSON.stringify(accept)})`,
    ),

  tooLarge: (what: string, limitBytes: number): ApiError =>
    new ApiError("RequestEntityTooLarge", `${what} is larger than the limit of ${limitBytes} bytes`),

  unauthorized: (): ApiError => new ApiError("Unauthorized", "Unauthorized"),

  forbidden: (message: string): ApiError => new ApiError("Forbidden", message),

  expired: (message: string): ApiError => new ApiError("Expired", message),

  gone: (message: string): ApiError => new ApiError("Gone", message),

  internal: (message: string): ApiError =>
    new ApiError("InternalError", `Internal error occurred: ${message}`),
};
