// `npm run gen`: writes the files generated from the API schema, and the
// PrometheusRule generated from the Prometheus rules file.
import { readFileSync, writeFileSync } from "node:fs";
import { CRD_PATH, exportPolicyCrdYaml } from "../src/api/index.js";
import { EXPLAIN_SCHEMAS_PATH, explainSchemasSource } from "./explain-schemas.js";
import { PROMETHEUS_RULES_PATH, PROMETHEUS_RULE_PATH, prometheusRuleYaml } from "./prometheus-rule.js";

writeFileSync(CRD_PATH, exportPolicyCrdYaml());
console.log(`wrote ${CRD_PATH}`);
writeFileSync(EXPLAIN_SCHEMAS_PATH, explainSchemasSource());
console.log(`wrote ${EXPLAIN_SCHEMAS_PATH}`);
writeFileSync(PROMETHEUS_RULE_PATH, prometheusRuleYaml(readFileSync(PROMETHEUS_RULES_PATH, "utf8")));
console.log(`wrote ${PROMETHEUS_RULE_PATH}`);
