// `telex explain RESOURCE[.field.path] [--recursive]`: the schema's documentation.
import { parseArgs } from "node:util";
import { ExplainError, explain } from "../../api/explain.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";

const HELP = `Usage: telex explain RESOURCE[.FIELD.PATH] [--recursive]

Describes the fields of a resource from its schema: type, whether it is
required, its default and bounds, and what it means.

Examples:
  telex explain exportpolicies
  telex explain exportpolicies.spec.sinks.target.prometheusRemoteWrite.batch
  telex explain exportpolicies --recursive

Options:
  --recursive   print every field below, as a tree
`;

export function run(args: readonly string[], io: CommandIO): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      recursive: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const [target, ...extra] = positionals;
  if (target === undefined) throw new UsageError("must name a resource, e.g. telex explain exportpolicies");
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  try {
    io.stdout.write(explain(target, { recursive: values.recursive }));
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ExplainError)) throw error;
    io.stderr.write(`error: ${error.message}\n`);
    return EXIT.failure;
  }
}
