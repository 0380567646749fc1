// Discovery documents (legacy, unaggregated: kubectl falls back to them) and
// the OpenAPI v3 documents, built once from the resource table.
import { createHash } from "node:crypto";
import { openApiDocument, type OpenApiResource } from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import { DELIVERY_KIND, DELIVERY_SUBRESOURCE, hasDelivery } from "./delivery.js";
import { PATCH_MEDIA_TYPES } from "./http-io.js";
import { controlPlanePath } from "./paths.js";
import { RESOURCES, apiVersionOf, type ResourceType } from "./resources.js";

export const AUTHORIZATION_GROUP = "authorization.k8s.io";
export const ACCESS_REVIEW_RESOURCE = "selfsubjectaccessreviews";
export const RULES_REVIEW_RESOURCE = "selfsubjectrulesreviews";

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

interface GroupVersion {
  readonly group: string;
  readonly version: string;
}

function groupVersions(): GroupVersion[] {
  const seen = new Map<string, GroupVersion>();
  for (const r of RESOURCES) seen.set(apiVersionOf(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

export function apiVersions(serverAddress: string): JsonObject {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupEntry(group: string, version: string): JsonObject {
  const gv = { groupVersion: `${group}/${version}`, version };
  return { name: group, versions: [gv], preferredVersion: gv };
}

export function apiGroupList(): JsonObject {
  const groups = groupVersions()
    .filter((gv) => gv.group !== "")
    .map((gv) => groupEntry(gv.group, gv.version));
  groups.push(groupEntry(AUTHORIZATION_GROUP, "v1"));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

export function apiGroup(group: string): JsonObject | undefined {
  const entry = apiGroupList()["groups"] as JsonObject[];
  const found = entry.find((g) => g["name"] === group);
  return found === undefined ? undefined : { kind: "APIGroup", apiVersion: "v1", ...found };
}

/** What the server serves beyond the static resource table. */
export interface DiscoveryOptions {
  /** The ExportPolicy `delivery` subresource (only with a delivery provider). */
  readonly delivery: boolean;
}

function resourceEntries(resource: ResourceType, options: DiscoveryOptions): JsonObject[] {
  const main: JsonObject = {
    name: resource.plural,
    singularName: resource.singular,
    namespaced: resource.namespaced,
    kind: resource.kind,
    verbs: ALL_VERBS,
    ...(resource.shortNames.length > 0 ? { shortNames: resource.shortNames } : {}),
    ...(resource.categories.length > 0 ? { categories: resource.categories } : {}),
  };
  const entries = [main];
  if (resource.hasStatus) {
    entries.push({
      name: `${resource.plural}/status`,
      singularName: "",
      namespaced: resource.namespaced,
      kind: resource.kind,
      verbs: ["get", "patch", "update"],
    });
  }
  if (options.delivery && hasDelivery(resource)) {
    entries.push({
      name: `${resource.plural}/${DELIVERY_SUBRESOURCE}`,
      singularName: "",
      namespaced: resource.namespaced,
      kind: DELIVERY_KIND,
      verbs: ["get"],
    });
  }
  return entries;
}

export function apiResourceList(
  group: string,
  version: string,
  options: DiscoveryOptions,
): JsonObject | undefined {
  const groupVersion = group === "" ? version : `${group}/${version}`;
  if (group === AUTHORIZATION_GROUP && version === "v1") {
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion,
      resources: [
        {
          name: RULES_REVIEW_RESOURCE,
          singularName: "selfsubjectrulesreview",
          namespaced: false,
          kind: "SelfSubjectRulesReview",
          verbs: ["create"],
        },
        {
          name: ACCESS_REVIEW_RESOURCE,
          singularName: "selfsubjectaccessreview",
          namespaced: false,
          kind: "SelfSubjectAccessReview",
          verbs: ["create"],
        },
      ],
    };
  }
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion,
    resources: resources.flatMap((r) => resourceEntries(r, options)),
  };
}

function openApiResource(resource: ResourceType): OpenApiResource {
  return {
    group: resource.group,
    version: resource.version,
    kind: resource.kind,
    plural: resource.plural,
    namespaced: resource.namespaced,
    schema: resource.schema,
    hasStatus: resource.hasStatus,
    definitionPrefix:
      resource.group === ""
        ? `io.k8s.api.core.${resource.version}`
        : `${resource.group.split(".").reverse().join(".")}.${resource.version}`,
    // kubectl builds strategic merge patches for built-in kinds from its compiled-in types;
    // listing the type here would make it build them from this document instead.
    patchTypes: Object.keys(PATCH_MEDIA_TYPES).filter((t) => t !== "application/strategic-merge-patch+json"),
  };
}

export interface OpenApiDocuments {
  readonly byGroupVersion: ReadonlyMap<string, { readonly json: string; readonly hash: string }>;
  /** The root document for a project: links carry the project's prefix (kubectl requests them as given). */
  root(project: string | undefined): JsonObject;
}

export function buildOpenApiDocuments(): OpenApiDocuments {
  const byGroupVersion = new Map<string, { json: string; hash: string }>();
  for (const gv of groupVersions()) {
    const resources = RESOURCES.filter((r) => r.group === gv.group && r.version === gv.version).map(
      openApiResource,
    );
    const json = JSON.stringify(openApiDocument(`Telex ${gv.group === "" ? "core" : gv.group}`, resources));
    const hash = createHash("sha512").update(json).digest("hex").toUpperCase().slice(0, 128);
    byGroupVersion.set(gv.group === "" ? `api/${gv.version}` : `apis/${gv.group}/${gv.version}`, {
      json,
      hash,
    });
  }
  return {
    byGroupVersion,
    root: (project) => ({
      paths: Object.fromEntries(
        [...byGroupVersion].map(([path, doc]) => [
          path,
          { serverRelativeURL: `${controlPlanePath(project ?? "-")}/openapi/v3/${path}?hash=${doc.hash}` },
        ]),
      ),
    }),
  };
}
