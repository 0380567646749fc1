// Semantic checks for strings, selected by a schema node's `x-telex-format`.
import { MetricsqlError, assertNoTenantFilter, compileSelector, parse } from "../metricsql/index.js";
import { parseDuration } from "./duration.js";
import { fieldError, type FieldError, type FieldPath } from "./field-errors.js";
import { dnsLabelProblems, dnsSubdomainProblems } from "./names.js";
import type { FormatCheckers } from "./structural.js";

export interface FormatOptions {
  /** The label that carries a series' project; user selectors may not filter on it. */
  readonly tenantLabel: string;
}

const invalidEach = (path: FieldPath, value: string, problems: readonly string[]): FieldError[] =>
  problems.map((problem) => fieldError.invalid(path, value, problem));

function checkDuration(value: string, path: FieldPath): FieldError[] {
  const ms = parseDuration(value);
  if (ms === undefined) {
    return [
      fieldError.invalid(
        path,
        value,
        "must be a duration such as 500ms, 5s or 1m30s (units ns, us, ms, s, m, h)",
      ),
    ];
  }
  if (ms <= 0) return [fieldError.invalid(path, value, "must be greater than 0")];
  return [];
}

/** Shows an endpoint with any user:password replaced, so a credential never reaches output. */
export function redactEndpoint(value: string): string {
  return value.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@]*@/, "$1***@");
}

function checkEndpoint(value: string, path: FieldPath): FieldError[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [fieldError.invalid(path, redactEndpoint(value), "must be an absolute http or https URL")];
  }
  const errors: FieldError[] = [];
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    errors.push(
      fieldError.invalid(
        path,
        redactEndpoint(value),
        `scheme must be http or https, not ${url.protocol.slice(0, -1)}`,
      ),
    );
  }
  if (url.hostname === "") errors.push(fieldError.invalid(path, redactEndpoint(value), "must name a host"));
  if (url.username !== "" || url.password !== "") {
    errors.push(
      fieldError.forbidden(
        path,
        "credentials must not be embedded in the URL; put them in a kubernetes.io/basic-auth Secret and reference it from authentication.basicAuth.secretRef",
      ),
    );
  }
  return errors;
}

function checkMetricsql(value: string, path: FieldPath, options: FormatOptions): FieldError[] {
  try {
    const selector = parse(value);
    assertNoTenantFilter(selector, options.tenantLabel);
    compileSelector(selector);
    return [];
  } catch (error) {
    if (!(error instanceof MetricsqlError)) throw error;
    if (error.code === "TenantLabelFilter") return [fieldError.forbidden(path, error.message)];
    return [fieldError.invalid(path, value, error.message)];
  }
}

export function formatCheckers(options: FormatOptions): FormatCheckers {
  return {
    "dns-label": (value, path) => invalidEach(path, value, dnsLabelProblems(value)),
    "dns-subdomain": (value, path) => invalidEach(path, value, dnsSubdomainProblems(value)),
    duration: checkDuration,
    "endpoint-url": checkEndpoint,
    metricsql: (value, path) => checkMetricsql(value, path, options),
  };
}
