// Public face of the api module: the ExportPolicy and Secret model.
export {
  API_VERSION,
  CATEGORIES,
  ExportPolicySchema,
  GROUP,
  KIND,
  MAX_SINKS,
  MAX_SOURCES,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  TARGET_PROTOCOLS,
  VERSION,
} from "./exportpolicy.js";
export type {
  Authentication,
  BatchConfig,
  Condition,
  ExportPolicy,
  ExportPolicySink,
  ExportPolicySource,
  ExportPolicySpec,
  ExportPolicyStatus,
  ObjectMeta,
  PrometheusRemoteWriteTarget,
  RetryConfig,
  SecretReference,
  SinkStatus,
  SinkTarget,
} from "./exportpolicy.js";
export { DEFAULTS } from "./defaults.js";
export { durationMs, parseDuration } from "./duration.js";
export {
  FIELD_ERROR_TYPES,
  fieldError,
  formatFieldError,
  formatPath,
  mapKey,
  segmentName,
} from "./field-errors.js";
export type { FieldError, FieldErrorType, FieldPath, MapKey } from "./field-errors.js";
export { redactEndpoint } from "./formats.js";
export {
  BASIC_AUTH_PASSWORD_KEY,
  BASIC_AUTH_SECRET_TYPE,
  BASIC_AUTH_USERNAME_KEY,
  SECRET_API_VERSION,
  SECRET_KIND,
  SecretSchema,
  basicAuthCredentials,
  createBasicAuthSecretCommand,
  decodeBase64Strict,
  secretEntries,
} from "./secret.js";
export type { BasicAuthCredentials, Secret, SecretProblem } from "./secret.js";
export { objectMetaProblems, validateExportPolicy, validateObject, validateSecret } from "./validate.js";
export type { AnyValidationResult, ValidationOptions, ValidationResult } from "./validate.js";
export { CRD_PATH, exportPolicyCrd, exportPolicyCrdYaml, toKubernetesSchema } from "./crd.js";
export { EXPLAINABLE, ExplainError, explain, findExplainable } from "./explain.js";
export type { ExplainableResource } from "./explain.js";
export { propertyOf, schemaNode } from "./schema-node.js";
export type { SchemaNode } from "./schema-node.js";
export { ObjectMetaSchema } from "./objectmeta.js";
export { validateAgainstSchema } from "./validate-schema.js";
export type { SchemaValidation } from "./validate-schema.js";
export { META_V1, openApiDocument, toOpenApiSchema } from "./openapi.js";
export type { OpenApiResource } from "./openapi.js";
export { dnsLabelProblems, dnsSubdomainProblems } from "./names.js";
