// `telex describe exportpolicy NAME`: the spec in brief, the policy's and
// each sink's Ready condition, and the events of its transitions.
import { parseArgs } from "node:util";
import { CONNECTION_FLAGS, withConnection } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { age, text } from "../printers.js";
import { EXPORT_POLICIES, resourceNamed } from "../resources.js";

export const summary = "Show an ExportPolicy: sources, sinks, per-sink conditions and events";

type Json = Record<string, unknown>;
const record = (value: unknown): Json => (typeof value === "object" && value !== null ? (value as Json) : {});
const list = (value: unknown): Json[] => (Array.isArray(value) ? value.map(record) : []);

function conditionLines(conditions: unknown, indent: string): string[] {
  return list(conditions).map(
    (c) =>
      `${indent}${text(c["type"])}: ${text(c["status"])} (${text(c["reason"])}) since ${text(c["lastTransitionTime"])} — ${text(c["message"])}`,
  );
}

export function describePolicy(
  policy: Json,
  events: readonly Json[],
  project: string,
  nowMs: number,
): string {
  const metadata = record(policy["metadata"]);
  const spec = record(policy["spec"]);
  const status = record(policy["status"]);
  const lines = [
    `Name:         ${text(metadata["name"])}`,
    `Namespace:    ${text(metadata["namespace"], "default")}`,
    `Project:      ${project}`,
    `Generation:   ${text(metadata["generation"], "")}`,
    `Created:      ${text(metadata["creationTimestamp"], "")}`,
    "Sources:",
    ...list(spec["sources"]).map((s) => `  ${text(s["name"])}: ${text(record(s["metrics"])["metricsql"])}`),
    "Sinks:",
  ];
  for (const sink of list(spec["sinks"])) {
    const rw = record(record(sink["target"])["prometheusRemoteWrite"]);
    const batch = record(rw["batch"]);
    const retry = record(rw["retry"]);
    const secret = record(record(record(rw["authentication"])["basicAuth"])["secretRef"])["name"];
    lines.push(
      `  ${text(sink["name"])}:`,
      `    Sources:   ${Array.isArray(sink["sources"]) ? sink["sources"].map(String).join(", ") : ""}`,
      `    Endpoint:  ${text(rw["endpoint"])}`,
      `    Auth:      ${secret === undefined ? "none" : `basic, Secret ${text(secret)}`}`,
      `    Batch:     ${text(batch["maxSize"])} samples or ${text(batch["timeout"])}`,
      `    Retry:     ${text(retry["maxAttempts"])} attempts, backoff from ${text(retry["backoffDuration"])}`,
    );
    const sinkStatus = list(status["sinks"]).find((s) => s["name"] === sink["name"]);
    lines.push(...conditionLines(sinkStatus?.["conditions"], "    "));
  }
  lines.push("Conditions:", ...conditionLines(status["conditions"], "  "));
  lines.push("Events:");
  if (events.length === 0) lines.push("  <none>");
  for (const event of events) {
    lines.push(
      `  ${text(event["type"])}\t${text(event["reason"])}\t${age(event["lastTimestamp"], nowMs)}\t${text(event["message"])}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { ...CONNECTION_FLAGS, help: { type: "boolean", short: "h", default: false } },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(
      "Usage: telex describe exportpolicy NAME --project PROJECT [--server URL] [--token TOKEN] [-n NAMESPACE]\n",
    );
    return EXIT.ok;
  }
  const [resourceName, name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError("give one resource type and one NAME");
  if (resourceNamed(resourceName) !== EXPORT_POLICIES)
    throw new UsageError("describe supports exportpolicies");
  return withConnection(values, io.stderr, async (connection) => {
    const policy = await connection.client.request<Json>(
      "GET",
      EXPORT_POLICIES.object(connection.namespace, name),
    );
    const uid = record(policy["metadata"])["uid"];
    const events =
      (
        await connection.client.request<{ items?: Json[] }>(
          "GET",
          `/api/v1/namespaces/${encodeURIComponent(connection.namespace)}/events`,
        )
      ).items ?? [];
    const mine = events
      .filter((e) => {
        const involved = record(e["involvedObject"]);
        return (
          involved["kind"] === "ExportPolicy" &&
          involved["name"] === name &&
          (uid === undefined || involved["uid"] === uid)
        );
      })
      .sort((a, b) => text(a["lastTimestamp"]).localeCompare(text(b["lastTimestamp"])));
    io.stdout.write(describePolicy(policy, mine, connection.project, Date.now()));
    return EXIT.ok;
  });
}
