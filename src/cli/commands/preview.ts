// `telex preview -f FILE [POLICY]` (or `telex preview POLICY` for a stored
// policy): asks the server what the policy selects now — per source, how many
// series of the project its selector matches and a sample of them; per sink,
// the series and samples per minute it would be sent. The policy need not be
// applied. The server answers from the series it ingested lately (push
// mode) or from the store it reads (pull mode), with each selector scoped to
// the project exactly as when the policy runs: the ExportPolicy `preview`
// subresource (src/apiserver/preview.ts).
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { API_VERSION, validateObject } from "../../api/index.js";
import { PREVIEW_KIND, PREVIEW_SUBRESOURCE } from "../../apiserver/index.js";
import { CONNECTION_FLAGS, withConnection } from "../connection.js";
import { invalidReport, problemReport } from "../manifest-errors.js";
import { policyArgs } from "../policy-args.js";
import { EXIT, type CommandIO } from "../io.js";
import { loadManifests } from "../manifests.js";
import { text } from "../printers.js";
import { EXPORT_POLICIES } from "../resources.js";

export const summary =
  "Show which series of the project a policy selects now, and what each sink would receive";

type Json = Record<string, unknown>;
const record = (value: unknown): Json =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
const list = (value: unknown): Json[] => (Array.isArray(value) ? value.map(record) : []);

const HELP = `Usage: telex preview -f FILE|- [POLICY] [-o json|yaml] --project PROJECT [--server URL] [--token TOKEN] [-n NAMESPACE]
       telex preview POLICY ...

Shows what an ExportPolicy selects now, before it is applied: per source, how
many series of the project its selector matches and up to 10 of them; per
sink, how many series and samples per minute it would be sent.

With -f, every ExportPolicy in FILE is previewed (POLICY picks one); it need
not be applied. Without -f, the stored policy POLICY is previewed.

The server answers with each selector scoped to the project by the tenant
label, exactly as when the policy runs: from the series its ingest received
in the last 5 minutes (push mode), or from the metrics store it reads (pull
mode). Counts are exact up to a cap and marked "at least" beyond it.

In a fleet the API server (telex serve --api-only) answers: in pull mode from
the store given by its --source-url; in push mode it asks every live replica
for the series ingested through it (with --ingest-token-file, the replicas'
token) and merges them, a series seen by two replicas counted once. A replica
that does not answer within 5 s is named in a "warning:" note, and the counts
are then lower bounds ("at least").
`;

function count(item: Json): string {
  return `${item["atLeast"] === true ? "at least " : ""}${text(item["series"], "0")}`;
}

/** The human-readable answer: sources with their samples, then sinks, then notes. */
export function previewLines(answer: Json, policy: string, namespace: string): string[] {
  const status = record(answer["status"]);
  const scoped = new Map(list(status["selectors"]).map((s) => [text(s["source"]), text(s["scoped"])]));
  const lines = [
    `Preview of exportpolicy/${policy} (namespace ${namespace}) in project ${text(status["project"])}, ${status["mode"] === "pull" ? "from the metrics store (pull mode)" : "from series ingested in the last 5 minutes (push mode)"}:`,
  ];
  for (const source of list(status["sources"])) {
    const sinks = Array.isArray(source["sinks"]) ? (source["sinks"] as unknown[]).map((s) => text(s)) : [];
    lines.push(
      "",
      `SOURCE ${text(source["name"])}: ${count(source)} series match now, ${text(source["samplesPerMinute"])} samples/min${sinks.length === 0 ? " (no sink forwards it)" : ""}`,
      `  selector as run: ${scoped.get(text(source["name"])) ?? ""}`,
    );
    const sample = Array.isArray(source["sample"]) ? (source["sample"] as unknown[]).map((s) => text(s)) : [];
    const total = Number(source["series"]);
    if (sample.length > 0)
      lines.push(
        `  ${sample.length < total ? `${sample.length} of them` : "all of them"}:`,
        ...sample.map((series) => `    ${series}`),
      );
  }
  lines.push("");
  const sinks = list(status["sinks"]);
  if (sinks.length > 0) {
    const rows = sinks.map((sink) => [
      text(sink["name"]),
      (Array.isArray(sink["sources"]) ? (sink["sources"] as unknown[]) : []).map((s) => text(s)).join(","),
      count(sink),
      text(sink["samplesPerMinute"]),
    ]);
    const header = ["SINK", "SOURCES", "SERIES", "SAMPLES/MIN"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    for (const row of [header, ...rows])
      lines.push(
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("   ")
          .trimEnd(),
      );
  }
  for (const note of Array.isArray(status["notes"]) ? (status["notes"] as unknown[]) : [])
    lines.push(`Note: ${text(note)}`);
  return lines;
}

interface Chosen {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly manifest?: Json;
}

async function fromFile(
  file: string,
  policyName: string | undefined,
  io: CommandIO,
): Promise<Chosen[] | undefined> {
  const entries = await loadManifests([file], { recursive: false, stdin: io.stdin });
  const chosen: Chosen[] = [];
  let invalid = false;
  for (const entry of entries) {
    if (entry.type === "problem") {
      io.stderr.write(problemReport(entry));
      invalid = true;
      continue;
    }
    const object = record(entry.object);
    const metadata = record(object["metadata"]);
    if (object["kind"] !== "ExportPolicy") continue;
    if (policyName !== undefined && metadata["name"] !== policyName) continue;
    const { result } = validateObject(entry.object);
    if (!result.valid) {
      io.stderr.write(
        invalidReport(entry, `ExportPolicy ${JSON.stringify(metadata["name"] ?? "")}`, result.errors),
      );
      invalid = true;
      continue;
    }
    chosen.push({
      name: text(metadata["name"]),
      namespace: typeof metadata["namespace"] === "string" ? metadata["namespace"] : undefined,
      manifest: object,
    });
  }
  if (invalid) return undefined;
  if (chosen.length === 0) {
    io.stderr.write(
      `error: ${file} has ${policyName === undefined ? "no ExportPolicy" : `no ExportPolicy named ${policyName}`}\n`,
    );
    return undefined;
  }
  return chosen;
}

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...CONNECTION_FLAGS,
      filename: { type: "string", short: "f" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const { policyName, file, output } = policyArgs(positionals, values.filename, values.output);
  let policies: Chosen[] | undefined = [{ name: policyName ?? "", namespace: undefined }];
  if (file !== undefined) {
    try {
      policies = await fromFile(file, policyName, io);
    } catch (error) {
      io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      return EXIT.failure;
    }
  }
  if (policies === undefined) return EXIT.failure;
  const chosen = policies;
  return withConnection(values, io.stderr, async (connection) => {
    const answers: Json[] = [];
    for (const policy of chosen) {
      const namespace = policy.namespace ?? connection.namespace;
      const answer = await connection.client.request<Json>(
        "POST",
        `${EXPORT_POLICIES.object(namespace, policy.name)}/${PREVIEW_SUBRESOURCE}`,
        {
          body: {
            apiVersion: API_VERSION,
            kind: PREVIEW_KIND,
            spec: policy.manifest === undefined ? {} : { policy: policy.manifest },
          },
        },
      );
      answers.push(answer);
      if (output === undefined) {
        if (answers.length > 1) io.stdout.write("\n");
        io.stdout.write(`${previewLines(answer, policy.name, namespace).join("\n")}\n`);
      }
    }
    if (output !== undefined) {
      const document = answers.length === 1 ? answers[0] : { apiVersion: "v1", kind: "List", items: answers };
      io.stdout.write(output === "json" ? `${JSON.stringify(document, null, 4)}\n` : stringify(document));
    }
    return EXIT.ok;
  });
}
