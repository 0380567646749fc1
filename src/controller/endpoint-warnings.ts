// What the egress policy says about an ExportPolicy's endpoints before any
// connection: an IP literal or a metadata name it refuses is told at apply
// time, as a Warning, rather than only later as Ready=False EndpointForbidden.
// Names that need a lookup are judged when connecting (the address can change).
import type { EgressPolicy } from "../exporter/egress/index.js";

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** One warning per sink whose endpoint the policy denies; the object has already passed validation. */
export function endpointWarnings(egress: EgressPolicy, policy: unknown): string[] {
  const sinks = field(field(policy, "spec"), "sinks");
  if (!Array.isArray(sinks)) return [];
  const warnings: string[] = [];
  for (const sink of sinks as unknown[]) {
    const endpoint = field(field(field(sink, "target"), "prometheusRemoteWrite"), "endpoint");
    if (typeof endpoint !== "string") continue;
    const denied = egress.judgeEndpoint(endpoint);
    if (denied === undefined) continue;
    const name = field(sink, "name");
    warnings.push(
      `sink ${JSON.stringify(typeof name === "string" ? name : "")}: ${denied}; this server will not deliver to it`,
    );
  }
  return warnings;
}
