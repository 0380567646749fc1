// `telex describe exportpolicy NAME`: the spec in brief, the policy's and
// each sink's Ready condition, delivery counters and backlog (samples, bytes,
// lag, shards; whether it is down and when it probes next), and the events of its
// transitions. The counters come from the policy's `delivery` subresource,
// which only a Telex server running the exporter serves; elsewhere (a
// Kubernetes cluster) describe says so and shows the rest.
import { parseArgs } from "node:util";
import { KubeApiError } from "../../kube/client.js";
import { CONNECTION_FLAGS, withConnection, type Connection } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { age, text } from "../printers.js";
import { EXPORT_POLICIES, resourceNamed } from "../resources.js";

type Json = Record<string, unknown>;
const record = (value: unknown): Json => (typeof value === "object" && value !== null ? (value as Json) : {});
const list = (value: unknown): Json[] => (Array.isArray(value) ? value.map(record) : []);

function conditionLines(conditions: unknown, indent: string): string[] {
  return list(conditions).map(
    (c) =>
      `${indent}${text(c["type"])}: ${text(c["status"])} (${text(c["reason"])}) since ${text(c["lastTransitionTime"])} — ${text(c["message"])}`,
  );
}

/** The policy's `delivery` subresource, or why there is none. */
export type DeliveryView = { readonly report: Json } | { readonly unavailable: string };

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);
const thousands = (value: number): string => value.toLocaleString("en-US");
/** "1 attempt", "3 attempts", "1,500 samples". */
export const counted = (n: number, noun: string): string => `${thousands(n)} ${n === 1 ? noun : `${noun}s`}`;
const sum = (values: Json): number => Object.values(values).reduce<number>((total, v) => total + count(v), 0);

function ago(time: unknown, nowMs: number): string {
  const shown = age(time, nowMs);
  return shown === "<unknown>" ? shown : `${shown} ago`;
}

function latency(value: unknown): string | undefined {
  const histogram = record(value);
  const attempts = count(histogram["count"]);
  if (attempts === 0) return undefined;
  const ms = (count(histogram["sumSeconds"]) / attempts) * 1000;
  return ms < 1 ? "<1 ms" : `${thousands(Math.round(ms))} ms`;
}

/** A duration as describe prints it: "45s", "3m12s", "2h05m", "3d4h". */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/** Bytes in decimal units, two significant digits past 10: "640 B", "12 MB", "1.5 GB". */
export function bytes(value: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let n = Math.max(0, value);
  let unit = 0;
  while (n >= 1000 && unit < units.length - 1) {
    n /= 1000;
    unit++;
  }
  const shown = unit === 0 || n >= 10 ? String(Math.round(n)) : n.toFixed(1);
  return `${shown} ${units[unit] ?? "B"}`;
}

/** The `Backlog:` line and, while the sink is down, the `Down since` line; none from servers that predate them. */
function backlogLines(sink: Json, now: number): string[] {
  if (typeof sink["samplesBuffered"] !== "number") return [];
  const shards = count(sink["shards"]);
  const lines = [
    `    Backlog:   ${thousands(count(sink["samplesBuffered"]))} samples (${bytes(count(sink["bufferedBytes"]))}), ` +
      `lag ${duration(count(sink["lagSeconds"]))}, ${thousands(shards)} ${shards === 1 ? "shard" : "shards"}`,
  ];
  const down = sink["down"];
  if (down !== undefined) {
    const { since, nextProbeTime, probes } = record(down);
    const next = Date.parse(text(nextProbeTime));
    const probe = Number.isNaN(next)
      ? "first probe being scheduled"
      : next <= now
        ? "next probe due now"
        : `next probe in ${duration((next - now) / 1000)}`;
    lines.push(
      `    Down since ${text(since)} (${ago(since, now)}), ${probe}; ${counted(count(probes), "probe")} so far`,
    );
  }
  return lines;
}

/** The `Delivery:` block of one sink: counters, backlog, drops by reason, the last error. */
function deliveryLines(sinkName: unknown, delivery: DeliveryView, nowMs: number): string[] {
  if ("unavailable" in delivery) return [`    Delivery:  ${delivery.unavailable}`];
  const sink = list(delivery.report["sinks"]).find((s) => s["name"] === sinkName);
  if (sink === undefined) {
    const message = delivery.report["message"];
    return [`    Delivery:  ${typeof message === "string" ? message : "no pipeline runs for this sink yet"}`];
  }
  // Ages against the server's clock when it says when it read the counters.
  const readAt = Date.parse(text(delivery.report["timestamp"]));
  const now = Number.isNaN(readAt) ? nowMs : readAt;
  const requests = record(sink["requests"]);
  const dropped = record(sink["samplesDropped"]);
  const failed = sum(requests) - count(requests["success"]);
  const lastSuccess = sink["lastSuccessTime"];
  const mean = latency(sink["latency"]);
  const retried = count(sink["samplesRetried"]);
  // samplesPending: what servers before samplesBuffered called it.
  const buffered = count(sink["samplesBuffered"] ?? sink["samplesPending"]);
  const lines = [
    `    Delivery:  ${counted(count(sink["samplesSent"]), "sample")} sent in ${counted(sum(requests), "request")} ` +
      `(${thousands(failed)} failed${retried > 0 ? `, ${thousands(retried)} samples retried` : ""}), ` +
      `${thousands(sum(dropped))} dropped, ${thousands(buffered)} buffered; ` +
      `last success ${lastSuccess === undefined ? "never" : ago(lastSuccess, now)}` +
      (mean === undefined ? "" : `; mean latency ${mean}`),
    ...backlogLines(sink, now),
  ];
  const reasons = Object.entries(dropped).filter(([, n]) => count(n) > 0);
  if (reasons.length > 0) {
    lines.push(
      `    Dropped:   ${reasons.map(([reason, n]) => `${reason} ${thousands(count(n))}`).join(", ")}`,
    );
  }
  const lastError = sink["lastError"];
  if (lastError !== undefined) {
    const error = record(lastError);
    lines.push(
      `    Last error: ${text(error["reason"])} ${ago(error["time"], now)} — ${text(error["message"])}`,
    );
  }
  return lines;
}

/** In a fleet: which replica reported the counters, and a handover in progress. */
function fleetLines(delivery: DeliveryView): string[] {
  if ("unavailable" in delivery) return [];
  const replica = delivery.report["replica"];
  if (typeof replica !== "string") return [];
  const message = delivery.report["message"];
  return [
    `Running on:   replica ${replica}`,
    ...(typeof message === "string" && message !== "" ? [`Delivery note: ${message}`] : []),
  ];
}

export function describePolicy(
  policy: Json,
  events: readonly Json[],
  project: string,
  nowMs: number,
  delivery: DeliveryView,
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
    ...fleetLines(delivery),
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
      `    Retry:     ${typeof retry["maxAttempts"] === "number" ? counted(retry["maxAttempts"], "attempt") : `${text(retry["maxAttempts"])} attempts`}, backoff from ${text(retry["backoffDuration"])}`,
    );
    const sinkStatus = list(status["sinks"]).find((s) => s["name"] === sink["name"]);
    lines.push(...conditionLines(sinkStatus?.["conditions"], "    "));
    lines.push(...deliveryLines(sink["name"], delivery, nowMs));
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

/** 404: the server has no such subresource (a Kubernetes cluster); 503 or 429: a fleet cannot tell now. */
async function readDelivery(connection: Connection, name: string): Promise<DeliveryView> {
  try {
    return {
      report: await connection.client.request<Json>(
        "GET",
        `${EXPORT_POLICIES.object(connection.namespace, name)}/delivery`,
      ),
    };
  } catch (error: unknown) {
    if (error instanceof KubeApiError && error.statusCode === 404) {
      return { unavailable: "not reported by this server" };
    }
    // A fleet's API server: no replica answered for the policy (503), or too many reads at once (429).
    if (error instanceof KubeApiError && (error.statusCode === 503 || error.statusCode === 429)) {
      return { unavailable: `unavailable now (${error.statusCode}): ${error.status.message ?? ""}` };
    }
    // A cluster's RBAC may grant the policy but not its subresources.
    if (error instanceof KubeApiError && error.statusCode === 403) {
      return { unavailable: "not readable with these credentials (403 Forbidden)" };
    }
    throw error;
  }
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
    const delivery = await readDelivery(connection, name);
    io.stdout.write(describePolicy(policy, mine, connection.project, Date.now(), delivery));
    return EXIT.ok;
  });
}
