// Public face of the metricsql module (exported as `telex/metricsql`).
export type { Label, LabelFilter, Labels, MatchOp, Selector } from "./ast.js";
export { METRIC_NAME_LABEL } from "./ast.js";
export type { MetricsqlErrorCode, SourcePosition } from "./errors.js";
export { MetricsqlError } from "./errors.js";
export { parse } from "./parser.js";
export { print } from "./printer.js";
export type { ScopeOptions } from "./scope.js";
export { assertNoTenantFilter, scope } from "./scope.js";
export type { SeriesMatcher } from "./matcher.js";
export { compileSelector } from "./matcher.js";
