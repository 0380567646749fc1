// `telex validate -f FILE|DIR|- [-R] [-o text|json] [--tenant-label NAME]`:
// offline validation of ExportPolicy and Secret manifests.
import { parseArgs } from "node:util";
import { formatFieldError, formatPath, validateObject, type FieldError } from "../../api/index.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { loadManifests, type ManifestDocument, type Position } from "../manifests.js";

const HELP = `Usage: telex validate -f FILE|DIR|- [-f ...] [-R] [-o text|json]

Validates ExportPolicy (telemetry.miloapis.com/v1alpha1) and Secret (v1)
manifests without contacting a server: structure, defaults, names, references
between sinks and sources, endpoints, durations and MetricsQL selectors.
Multi-document YAML and JSON are accepted; "-" reads standard input.

Exit status: 0 when every document is valid, 1 otherwise.

Options:
  -f, --filename      file, directory or "-" (repeatable)
  -R, --recursive     descend into directories given with -f
  -o, --output        text (default) or json
      --tenant-label  the tenant label selectors may not filter on
                      (default resourcemanager_datumapis_com_project_name)
`;

interface ValidateOptions {
  readonly filenames: string[];
  readonly recursive: boolean;
  readonly output: "text" | "json";
  readonly tenantLabel: string | undefined;
}

function complete(args: readonly string[]): ValidateOptions | "help" {
  const { values } = parseArgs({
    args: [...args],
    options: {
      filename: { type: "string", short: "f", multiple: true },
      recursive: { type: "boolean", short: "R", default: false },
      output: { type: "string", short: "o", default: "text" },
      "tenant-label": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const filenames = values.filename ?? [];
  if (filenames.length === 0) throw new UsageError("must give at least one -f FILE|DIR|-");
  if (values.output !== "text" && values.output !== "json") {
    throw new UsageError(`unknown output format ${JSON.stringify(values.output)}: want text or json`);
  }
  return {
    filenames,
    recursive: values.recursive,
    output: values.output,
    tenantLabel: values["tenant-label"],
  };
}

interface LocatedError {
  readonly error: FieldError;
  readonly position: Position;
}

interface DocumentReport {
  readonly source: string;
  readonly document: number;
  readonly position?: Position;
  readonly kind?: string;
  readonly name?: string;
  readonly valid: boolean;
  readonly errors: readonly LocatedError[];
  /** Set when the document could not be read or parsed at all. */
  readonly problem?: string;
}

function identity(object: unknown): { kind?: string; name?: string } {
  if (typeof object !== "object" || object === null) return {};
  const record = object as Record<string, unknown>;
  const metadata = record["metadata"];
  const name =
    typeof metadata === "object" && metadata !== null
      ? (metadata as Record<string, unknown>)["name"]
      : undefined;
  return {
    ...(typeof record["kind"] === "string" ? { kind: record["kind"] } : {}),
    ...(typeof name === "string" ? { name } : {}),
  };
}

function reportDocument(doc: ManifestDocument, tenantLabel: string | undefined): DocumentReport {
  const { result } = validateObject(doc.object, tenantLabel === undefined ? {} : { tenantLabel });
  const errors = result.errors
    .map((error) => ({ error, position: doc.locate(error.path) }))
    .sort((a, b) => a.position.line - b.position.line || a.position.column - b.position.column);
  return {
    source: doc.source,
    document: doc.index,
    position: doc.position,
    ...identity(doc.object),
    valid: result.valid,
    errors,
  };
}

function describeTarget(report: DocumentReport): string {
  const what = `${report.kind ?? "<no kind>"}/${report.name ?? "<no name>"}`;
  return `${what} (document ${report.document})`;
}

function printText(reports: readonly DocumentReport[], io: CommandIO): void {
  for (const report of reports) {
    const where = report.position ? `${report.source}:${report.position.line}` : report.source;
    if (report.problem !== undefined) {
      const column = report.position ? `:${report.position.column}` : "";
      io.stdout.write(`${where}${column}: ${report.problem}\n`);
    } else if (report.valid) {
      io.stdout.write(`${where}: ${describeTarget(report)} is valid\n`);
    } else {
      const count = report.errors.length;
      io.stdout.write(
        `${where}: ${describeTarget(report)} is invalid: ${count} error${count === 1 ? "" : "s"}\n`,
      );
      for (const { error, position } of report.errors) {
        io.stdout.write(
          `  ${report.source}:${position.line}:${position.column}: ${formatFieldError(error)}\n`,
        );
      }
    }
  }
  const invalid = reports.filter((r) => !r.valid).length;
  io.stdout.write(
    `${reports.length} document${reports.length === 1 ? "" : "s"}: ${reports.length - invalid} valid, ${invalid} invalid\n`,
  );
}

function printJson(reports: readonly DocumentReport[], io: CommandIO): void {
  const out = reports.map((r) => ({
    source: r.source,
    document: r.document,
    ...(r.position ? { line: r.position.line } : {}),
    kind: r.kind ?? null,
    name: r.name ?? null,
    valid: r.valid,
    ...(r.problem !== undefined ? { problem: r.problem } : {}),
    errors: r.errors.map(({ error, position }) => ({
      field: formatPath(error.path),
      type: error.type,
      detail: error.detail,
      ...("value" in error ? { value: error.value } : {}),
      line: position.line,
      column: position.column,
      message: formatFieldError(error),
    })),
  }));
  io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const options = complete(args);
  if (options === "help") {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const entries = await loadManifests(options.filenames, { recursive: options.recursive, stdin: io.stdin });
  const reports = entries.map((entry): DocumentReport =>
    entry.type === "document"
      ? reportDocument(entry, options.tenantLabel)
      : {
          source: entry.source,
          document: entry.index ?? 0,
          ...(entry.position ? { position: entry.position } : {}),
          valid: false,
          errors: [],
          problem: entry.message,
        },
  );
  if (options.output === "json") printJson(reports, io);
  else printText(reports, io);
  return reports.length > 0 && reports.every((r) => r.valid) ? EXIT.ok : EXIT.failure;
}
