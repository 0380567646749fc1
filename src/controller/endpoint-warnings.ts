// What the egress policy says about an ExportPolicy's endpoints before any
// connection: an IP literal or a metadata name it refuses is told at apply
// time, as a Warning, rather than only later as Ready=False EndpointForbidden.
// Names that need a lookup are judged when connecting (the address can change).
import type { ExportPolicy } from "../api/index.js";
import type { EgressPolicy } from "../exporter/egress/index.js";

/** One warning per sink whose endpoint the policy denies. */
export function endpointWarnings(egress: EgressPolicy, policy: ExportPolicy): string[] {
  const warnings: string[] = [];
  for (const sink of policy.spec.sinks) {
    const endpoint = sink.target.prometheusRemoteWrite?.endpoint;
    const denied = endpoint === undefined ? undefined : egress.judgeEndpoint(endpoint);
    if (denied !== undefined)
      warnings.push(`sink ${JSON.stringify(sink.name)}: ${denied}; this server will not deliver to it`);
  }
  return warnings;
}
