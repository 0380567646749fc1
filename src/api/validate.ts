// Validation of whole objects: structure (from the schema), then the rules a
// schema cannot state — identity, cross-references, Secret contents. Every
// problem is reported, each with its field path.
import { DEFAULTS } from "./defaults.js";
import {
  API_VERSION,
  ExportPolicySchema,
  KIND,
  TARGET_PROTOCOLS,
  type ExportPolicy,
} from "./exportpolicy.js";
import { fieldError, type FieldError, type FieldPath } from "./field-errors.js";
import { formatCheckers, type FormatOptions } from "./formats.js";
import { labelValueProblems, qualifiedNameProblems } from "./names.js";
import { schemaNode } from "./schema-node.js";
import {
  BASIC_AUTH_PASSWORD_KEY,
  BASIC_AUTH_SECRET_TYPE,
  BASIC_AUTH_USERNAME_KEY,
  SECRET_API_VERSION,
  SECRET_KIND,
  SecretSchema,
  decodeBase64Strict,
  isValidSecretKey,
  type Secret,
} from "./secret.js";
import { defaultAndValidate, isPlainObject } from "./structural.js";

export type ValidationResult<T> =
  | { readonly valid: true; readonly object: T; readonly errors: readonly [] }
  | { readonly valid: false; readonly errors: readonly FieldError[] };

export interface ValidationOptions {
  /** Defaults to the platform's tenant label. */
  readonly tenantLabel?: string;
  /**
   * The spec is the stored object's, unchanged by this write (a status write, a finalizer
   * added): it was defaulted and validated when it was written, so it is not walked again.
   * As kube-apiserver's validation ratcheting, an unchanged field is never refused; at
   * 10,000 policies a status write spent a fifth of its CPU re-checking the spec (its
   * MetricsQL parsed again).
   */
  readonly specUnchanged?: boolean;
}

const MAX_ANNOTATIONS_BYTES = 256 * 1024;

function formatOptions(options: ValidationOptions): FormatOptions {
  return { tenantLabel: options.tenantLabel ?? DEFAULTS.tenantLabel };
}

function checkTypeMeta(object: Record<string, unknown>, apiVersion: string, kind: string): FieldError[] {
  const errors: FieldError[] = [];
  if (object["apiVersion"] !== undefined && object["apiVersion"] !== apiVersion) {
    errors.push(fieldError.unsupported(["apiVersion"], object["apiVersion"], [apiVersion]));
  }
  if (object["kind"] !== undefined && object["kind"] !== kind) {
    errors.push(fieldError.unsupported(["kind"], object["kind"], [kind]));
  }
  return errors;
}

/** Problems of metadata a schema cannot state (a name is given; label and annotation syntax; annotation size). */
export function objectMetaProblems(object: Record<string, unknown>): FieldError[] {
  const metadata = object["metadata"];
  if (!isPlainObject(metadata)) return [];
  const errors: FieldError[] = [];
  if (metadata["name"] === undefined && metadata["generateName"] === undefined) {
    errors.push(fieldError.required(["metadata", "name"], "name or generateName is required"));
  }
  const labels = metadata["labels"];
  if (isPlainObject(labels)) {
    for (const [key, value] of Object.entries(labels)) {
      const path: FieldPath = ["metadata", "labels", key];
      errors.push(...qualifiedNameProblems(key).map((p) => fieldError.invalid(path, key, p)));
      if (typeof value === "string")
        errors.push(...labelValueProblems(value).map((p) => fieldError.invalid(path, value, p)));
    }
  }
  const annotations = metadata["annotations"];
  if (isPlainObject(annotations)) {
    let bytes = 0;
    for (const [key, value] of Object.entries(annotations)) {
      errors.push(
        ...qualifiedNameProblems(key).map((p) =>
          fieldError.invalid(["metadata", "annotations", key], key, p),
        ),
      );
      bytes += Buffer.byteLength(key) + (typeof value === "string" ? Buffer.byteLength(value) : 0);
    }
    if (bytes > MAX_ANNOTATIONS_BYTES)
      errors.push(fieldError.tooLong(["metadata", "annotations"], MAX_ANNOTATIONS_BYTES));
  }
  return errors;
}

function checkExportPolicySpec(policy: ExportPolicy): FieldError[] {
  const errors: FieldError[] = [];
  const { sources, sinks } = policy.spec;
  if (!Array.isArray(sources) || !Array.isArray(sinks)) return errors;
  // Items of the wrong type were reported by the structural pass; they name nothing here.
  const sourceNames = new Set(sources.map((s: unknown) => (isPlainObject(s) ? s["name"] : undefined)));
  sinks.forEach((sink, i) => {
    if (!isPlainObject(sink)) return;
    if (Array.isArray(sink.sources)) {
      sink.sources.forEach((name, j) => {
        if (typeof name === "string" && name !== "" && !sourceNames.has(name)) {
          errors.push(
            fieldError.notFound(
              ["spec", "sinks", i, "sources", j],
              name,
              "must name a source in spec.sources",
            ),
          );
        }
      });
    }
    if (isPlainObject(sink.target)) {
      const set = TARGET_PROTOCOLS.filter((protocol) => sink.target[protocol] !== undefined);
      if (set.length !== 1) {
        const choices = TARGET_PROTOCOLS.join(", ");
        errors.push(
          set.length === 0
            ? fieldError.required(["spec", "sinks", i, "target"], `exactly one of ${choices} must be set`)
            : fieldError.forbidden(
                ["spec", "sinks", i, "target"],
                `only one of ${choices} may be set, found ${set.join(", ")}`,
              ),
        );
      }
    }
  });
  return errors;
}

function checkSecretData(secret: Secret): FieldError[] {
  const errors: FieldError[] = [];
  for (const field of ["data", "stringData"] as const) {
    // Not a map (the schema reports that): Object.entries of a string would yield one entry per character.
    const entries: unknown = secret[field];
    if (!isPlainObject(entries)) continue;
    for (const [key, value] of Object.entries(entries)) {
      if (!isValidSecretKey(key)) {
        errors.push(
          fieldError.invalid(
            [field, key],
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
          ),
        );
      }
      if (field === "data" && typeof value === "string" && decodeBase64Strict(value) === undefined) {
        // The value itself is secret: never echo it.
        errors.push(fieldError.invalid([field, key], "<redacted>", "must be base64 encoded"));
      }
    }
  }
  if (secret.type === BASIC_AUTH_SECRET_TYPE) {
    const keysOf = (map: unknown): string[] => (isPlainObject(map) ? Object.keys(map) : []);
    const keys = new Set([...keysOf(secret.data), ...keysOf(secret.stringData)]);
    for (const key of [BASIC_AUTH_USERNAME_KEY, BASIC_AUTH_PASSWORD_KEY]) {
      if (!keys.has(key)) {
        errors.push(
          fieldError.required(
            ["data", key],
            `a ${BASIC_AUTH_SECRET_TYPE} Secret used by a sink needs both username and password`,
          ),
        );
      }
    }
  }
  return errors;
}

function finish<T>(errors: FieldError[], value: unknown): ValidationResult<T> {
  return errors.length === 0 ? { valid: true, object: value as T, errors: [] } : { valid: false, errors };
}

export function validateExportPolicy(
  input: unknown,
  options: ValidationOptions = {},
): ValidationResult<ExportPolicy> {
  if (!isPlainObject(input))
    return { valid: false, errors: [fieldError.invalid([], input, "must be an object")] };
  const schema = schemaNode(ExportPolicySchema);
  const trusted = options.specUnchanged === true ? schema.properties?.["spec"] : undefined;
  const { value, errors } = defaultAndValidate(
    input,
    schema,
    formatCheckers(formatOptions(options)),
    trusted,
  );
  errors.push(...checkTypeMeta(input, API_VERSION, KIND), ...objectMetaProblems(input));
  if (trusted === undefined && isPlainObject(value) && isPlainObject(value["spec"]))
    errors.push(...checkExportPolicySpec(value as ExportPolicy));
  return finish(errors, value);
}

export function validateSecret(input: unknown, options: ValidationOptions = {}): ValidationResult<Secret> {
  if (!isPlainObject(input))
    return { valid: false, errors: [fieldError.invalid([], input, "must be an object")] };
  const { value, errors } = defaultAndValidate(
    input,
    schemaNode(SecretSchema),
    formatCheckers(formatOptions(options)),
  );
  errors.push(...checkTypeMeta(input, SECRET_API_VERSION, SECRET_KIND), ...objectMetaProblems(input));
  if (isPlainObject(value)) errors.push(...checkSecretData(value as Secret));
  return finish(errors, value);
}

export type AnyValidationResult =
  | { readonly kind: typeof KIND; readonly result: ValidationResult<ExportPolicy> }
  | { readonly kind: typeof SECRET_KIND; readonly result: ValidationResult<Secret> }
  | { readonly kind: "unknown"; readonly result: ValidationResult<never> };

/** Validates any object Telex understands, chosen by apiVersion and kind. */
export function validateObject(input: unknown, options: ValidationOptions = {}): AnyValidationResult {
  const kind = isPlainObject(input) ? input["kind"] : undefined;
  if (kind === KIND) return { kind: KIND, result: validateExportPolicy(input, options) };
  if (kind === SECRET_KIND) return { kind: SECRET_KIND, result: validateSecret(input, options) };
  const error =
    kind === undefined
      ? fieldError.required(
          ["kind"],
          `must be ${KIND} (${API_VERSION}) or ${SECRET_KIND} (${SECRET_API_VERSION})`,
        )
      : fieldError.unsupported(["kind"], kind, [KIND, SECRET_KIND]);
  return { kind: "unknown", result: { valid: false, errors: [error] } };
}
