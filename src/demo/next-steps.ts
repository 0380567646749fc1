// What `telex serve --demo` prints to do next: a loop the newcomer can see
// end to end — start a receiver (VictoriaMetrics: one binary, or Docker),
// preview and apply a policy that sends my-project's demo metrics there,
// query them back. Every command is complete and copy-pasteable as printed
// (the demo test runs them as printed), so the policy is given inline with
// the receiver's address rather than as a file naming a fixed one;
// examples/demo-victoriametrics.yaml is the same policy for the default.

/** VictoriaMetrics' own default port, on loopback. */
export const DEFAULT_DEMO_RECEIVER = "http://127.0.0.1:8428";

export interface DemoStepsOptions {
  /** The project's control plane server, e.g. http://127.0.0.1:6443. */
  readonly server: string;
  /** Where the receiver listens (--demo-receiver), http://HOST:PORT. */
  readonly receiver: string;
  /** Where VictoriaMetrics may keep its data: under serve's --data-dir. */
  readonly dataDir: string;
}

/** The demo policy: the gateways' request counters of my-project, to the receiver. */
export function demoPolicy(receiver: string): string {
  return `apiVersion: telemetry.miloapis.com/v1alpha1
kind: ExportPolicy
metadata:
  name: demo-to-victoriametrics
spec:
  sources:
    - name: gateway-requests
      metrics:
        metricsql: 'envoy_vhost_vcluster_upstream_rq{resource_kind="Gateway"}'
  sinks:
    - name: victoriametrics
      sources: [gateway-requests]
      target:
        prometheusRemoteWrite:
          endpoint: ${receiver}/api/v1/write
          batch:
            timeout: 2s
`;
}

/**
 * The steps: prose indented, commands at the start of the line (a policy as
 * a here-document up to its EOF line), so a block copies into a shell whole.
 */
export function demoNextSteps(options: DemoStepsOptions): string {
  const receiver = options.receiver.replace(/\/+$/, "");
  const listen = new URL(receiver).host;
  const telex = (verb: string) => `npx telex ${verb} --server ${options.server} --project my-project`;
  const policy = demoPolicy(receiver);
  return `
Next:
  Send my-project's demo metrics to a receiver and query them.
  1. Start VictoriaMetrics (one binary; with Docker: docker run --rm -p ${listen}:8428 victoriametrics/victoria-metrics -search.latencyOffset=5s):
victoria-metrics -httpListenAddr=${listen} -storageDataPath=${options.dataDir}/victoria-metrics -search.latencyOffset=5s
  2. See what the policy would send, then apply it (examples/demo-victoriametrics.yaml is the same policy):
${telex("preview")} -f - <<'EOF'
${policy}EOF
${telex("apply")} -f - <<'EOF'
${policy}EOF
  3. Query what arrived, requests per second by gateway (give it 15 s):
curl -s ${receiver}/api/v1/query --data-urlencode 'query=sum by (gateway_name) (rate(envoy_vhost_vcluster_upstream_rq[1m]))'
`;
}
