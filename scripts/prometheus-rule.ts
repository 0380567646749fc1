// deploy/prometheus/telex-prometheusrule.yaml is telex-rules.yaml's groups
// wrapped in a prometheus-operator PrometheusRule, written by `npm run gen`
// (scripts/generate.ts); src/monitoring.peers.test.ts checks it is current.
// The rules file's text is indented under `spec:` as it is, so the two stay
// line for line the same, comments included.

/** The Prometheus rules file (`rule_files:`), relative to the repository. */
export const PROMETHEUS_RULES_PATH = "deploy/prometheus/telex-rules.yaml";
/** The same groups as a PrometheusRule object. */
export const PROMETHEUS_RULE_PATH = "deploy/prometheus/telex-prometheusrule.yaml";

const HEADER = `# Generated from telex-rules.yaml by \`npm run gen\`: edit that file, not this one.
# The same recording rules and alerts as a prometheus-operator PrometheusRule:
#   kubectl -n telex apply -f deploy/prometheus/telex-prometheusrule.yaml
# A Prometheus selects PrometheusRules by label (its ruleSelector): add the
# labels yours asks for, e.g. \`release: <helm release>\` for kube-prometheus-stack.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: telex
  labels:
    app.kubernetes.io/name: telex
spec:
`;

/** The PrometheusRule for a rules file's text: everything from its `groups:` line, indented under `spec:`. */
export function prometheusRuleYaml(rules: string): string {
  const start = rules.search(/^groups:/m);
  if (start < 0) throw new Error(`${PROMETHEUS_RULES_PATH} has no top-level groups:`);
  const body = rules
    .slice(start)
    .split("\n")
    .map((line) => (line === "" ? line : `  ${line}`))
    .join("\n");
  return HEADER + body;
}
