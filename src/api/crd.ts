// The CustomResourceDefinition of ExportPolicy, generated from the schema so a
// real Kubernetes API server validates and defaults exactly as Telex does.
import { stringify } from "yaml";
import {
  CATEGORIES,
  ExportPolicySchema,
  GROUP,
  KIND,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from "./exportpolicy.js";
import { publishSchema, schemaNode, type SchemaNode } from "./schema-node.js";

export const CRD_PATH = "deploy/crd/telemetry.miloapis.com_exportpolicies.yaml";

/** The schema as a Kubernetes structural schema: private keys removed, opaque nodes reduced to their type. */
export function toKubernetesSchema(node: SchemaNode): Record<string, unknown> {
  return publishSchema(node, (n) =>
    n["x-telex-crd-opaque"] === true ? { type: n.type ?? "object" } : undefined,
  );
}

export function exportPolicyCrd(): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
        categories: [...CATEGORIES],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            {
              name: "Reason",
              type: "string",
              jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
              priority: 1,
            },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: { openAPIV3Schema: toKubernetesSchema(schemaNode(ExportPolicySchema)) },
        },
      ],
    },
  };
}

export function exportPolicyCrdYaml(): string {
  return `# Generated from src/api by \`npm run gen\`; do not edit.\n${stringify(exportPolicyCrd(), { lineWidth: 0 })}`;
}
