// Validation errors in the shape of Kubernetes' field.Error, printed the way
// kubectl prints them: `spec.x[0].y: Invalid value: 6000: must be ...`.

/** The closed set of error types: stable, shown to users, matched by scripts. */
export const FIELD_ERROR_TYPES = {
  Required: "Required value",
  Invalid: "Invalid value",
  Unsupported: "Unsupported value",
  Duplicate: "Duplicate value",
  NotFound: "Not found",
  TooMany: "Too many",
  TooLong: "Too long",
  Forbidden: "Forbidden",
  UnknownField: "Unknown field",
} as const;

export type FieldErrorType = keyof typeof FIELD_ERROR_TYPES;

/** A key of a map (`data`, `labels`), always printed bracketed as Kubernetes' Path.Key does: `data[key]`. */
export interface MapKey {
  readonly key: string;
}

export const mapKey = (key: string): MapKey => ({ key });

/** A field path as segments: names, list indexes and map keys. */
export type FieldPath = readonly (string | number | MapKey)[];

/** A segment as it appears in the document: a field name or map key, or a list index. */
export const segmentName = (segment: FieldPath[number]): string | number =>
  typeof segment === "object" ? segment.key : segment;

export interface FieldError {
  readonly type: FieldErrorType;
  readonly path: FieldPath;
  /** The offending value, when the error type shows one. */
  readonly value?: unknown;
  readonly detail: string;
}

const SIMPLE_SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `spec.sinks[0].target`; map keys that are not identifiers are bracketed: `labels[app.kubernetes.io/name]`. */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "object") out += `[${segment.key}]`;
    else if (SIMPLE_SEGMENT.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${segment}]`;
  }
  return out === "" ? "<root>" : out;
}

/** Values are shown as JSON, like Go's %q for strings and %v for numbers. */
function formatValue(value: unknown): string {
  if (value === undefined) return "null";
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

const SHOWS_VALUE: ReadonlySet<FieldErrorType> = new Set(["Invalid", "Unsupported", "Duplicate", "NotFound"]);

export function formatFieldError(error: FieldError): string {
  const head = `${formatPath(error.path)}: ${FIELD_ERROR_TYPES[error.type]}`;
  if (error.type === "TooMany") return `${head}: ${error.detail}`;
  if (SHOWS_VALUE.has(error.type) && "value" in error) {
    return error.detail === ""
      ? `${head}: ${formatValue(error.value)}`
      : `${head}: ${formatValue(error.value)}: ${error.detail}`;
  }
  return error.detail === "" ? head : `${head}: ${error.detail}`;
}

export const fieldError = {
  required: (path: FieldPath, detail = ""): FieldError => ({ type: "Required", path, detail }),
  invalid: (path: FieldPath, value: unknown, detail: string): FieldError => ({
    type: "Invalid",
    path,
    value,
    detail,
  }),
  unsupported: (path: FieldPath, value: unknown, supported: readonly (string | number)[]): FieldError => ({
    type: "Unsupported",
    path,
    value,
    detail: `supported values: ${supported.map((v) => JSON.stringify(v)).join(", ")}`,
  }),
  duplicate: (path: FieldPath, value: unknown): FieldError => ({
    type: "Duplicate",
    path,
    value,
    detail: "",
  }),
  notFound: (path: FieldPath, value: unknown, detail = ""): FieldError => ({
    type: "NotFound",
    path,
    value,
    detail,
  }),
  tooMany: (path: FieldPath, actual: number, max: number): FieldError => ({
    type: "TooMany",
    path,
    detail: `${actual}: must have at most ${max} items`,
  }),
  tooLong: (path: FieldPath, max: number): FieldError => ({
    type: "TooLong",
    path,
    detail: `may not be more than ${max} bytes`,
  }),
  forbidden: (path: FieldPath, detail: string): FieldError => ({ type: "Forbidden", path, detail }),
  unknownField: (path: FieldPath, suggestion: string | undefined): FieldError => ({
    type: "UnknownField",
    path,
    detail:
      suggestion === undefined
        ? "field not declared in schema"
        : `field not declared in schema; did you mean ${JSON.stringify(suggestion)}?`,
  }),
};
