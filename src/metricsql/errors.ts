// The only error type the metricsql module throws.

/** Stable, machine-readable error kinds. */
export type MetricsqlErrorCode =
  /** Malformed text: bad token, unterminated string, missing brace. */
  | "Syntax"
  /** Valid MetricsQL, but more than a series selector (functions, operators, ranges…). */
  | "Unsupported"
  /** A filter on the tenant label, which only the platform may set. */
  | "TenantLabelFilter"
  /** A regex that RE2 does not accept. */
  | "InvalidRegex";

export interface SourcePosition {
  /** 0-based UTF-16 offset into the source text. */
  readonly offset: number;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, counted in UTF-16 code units. */
  readonly column: number;
}

export class MetricsqlError extends Error {
  override readonly name = "MetricsqlError";
  readonly code: MetricsqlErrorCode;
  /** The reason alone, without position. */
  readonly reason: string;
  readonly position: SourcePosition | undefined;
  private readonly source: string | undefined;

  constructor(code: MetricsqlErrorCode, reason: string, position?: SourcePosition, source?: string) {
    super(position ? `${position.line}:${position.column}: ${reason}` : reason);
    this.code = code;
    this.reason = reason;
    this.position = position;
    this.source = source;
  }

  /** The offending source line with a caret under the error column, or "" without a position. */
  excerpt(): string {
    if (this.position === undefined || this.source === undefined) return "";
    const line = this.source.split("\n")[this.position.line - 1] ?? "";
    return `${line}\n${" ".repeat(Math.max(0, this.position.column - 1))}^`;
  }
}
