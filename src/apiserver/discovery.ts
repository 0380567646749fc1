// Discovery documents (legacy, unaggregated: kubectl falls back to them) and
// the OpenAPI v3 documents, built once per plane from its resource table.
import { createHash } from "node:crypto";
import { openApiDocument, type OpenApiResource } from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import { DELIVERY_KIND, DELIVERY_SUBRESOURCE, hasDelivery } from "./delivery.js";
import { PATCH_MEDIA_TYPES } from "./http-io.js";
import { PLATFORM, planePath } from "./paths.js";
import {
  PLATFORM_RESOURCES,
  RESOURCES,
  apiVersionOf,
  exportPolicies,
  resourcesOf,
  type ResourceType,
} from "./resources.js";
import { SINK_TEST_KIND, SINK_TEST_SUBRESOURCE } from "./sink-test.js";
import { PREVIEW_KIND, PREVIEW_SUBRESOURCE } from "./preview.js";

export const AUTHORIZATION_GROUP = "authorization.k8s.io";
export const ACCESS_REVIEW_RESOURCE = "selfsubjectaccessreviews";
export const RULES_REVIEW_RESOURCE = "selfsubjectrulesreviews";
export const AUTHENTICATION_GROUP = "authentication.k8s.io";
export const SELF_SUBJECT_REVIEW_RESOURCE = "selfsubjectreviews";

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

interface GroupVersion {
  readonly group: string;
  readonly version: string;
}

function groupVersions(resources: readonly ResourceType[]): GroupVersion[] {
  const seen = new Map<string, GroupVersion>();
  for (const r of resources) seen.set(apiVersionOf(r), { group: r.group, version: r.version });
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

/** The groups of a route's plane (see Route's `project`). */
export function apiGroupList(project: string | undefined): JsonObject {
  const groups = groupVersions(resourcesOf(project))
    .filter((gv) => gv.group !== "")
    .map((gv) => groupEntry(gv.group, gv.version));
  groups.push(groupEntry(AUTHENTICATION_GROUP, "v1"), groupEntry(AUTHORIZATION_GROUP, "v1"));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

export function apiGroup(project: string | undefined, group: string): JsonObject | undefined {
  const entry = apiGroupList(project)["groups"] as JsonObject[];
  const found = entry.find((g) => g["name"] === group);
  return found === undefined ? undefined : { kind: "APIGroup", apiVersion: "v1", ...found };
}

/** What the server serves beyond the static resource table. */
export interface DiscoveryOptions {
  /** The ExportPolicy `delivery` subresource (only with a delivery provider). */
  readonly delivery: boolean;
  /** The ExportPolicy `sinktest` subresource (only with a sink tester); false when absent. */
  readonly sinkTest?: boolean;
  /** The ExportPolicy `preview` subresource (only with a previewer); false when absent. */
  readonly preview?: boolean;
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
  if (options.sinkTest === true && resource === exportPolicies) {
    entries.push({
      name: `${resource.plural}/${SINK_TEST_SUBRESOURCE}`,
      singularName: "",
      namespaced: resource.namespaced,
      kind: SINK_TEST_KIND,
      verbs: ["create"],
    });
  }
  if (options.preview === true && resource === exportPolicies) {
    entries.push({
      name: `${resource.plural}/${PREVIEW_SUBRESOURCE}`,
      singularName: "",
      namespaced: resource.namespaced,
      kind: PREVIEW_KIND,
      // A read, though POSTed (see preview.ts).
      verbs: ["get"],
    });
  }
  return entries;
}

export function apiResourceList(
  project: string | undefined,
  group: string,
  version: string,
  options: DiscoveryOptions,
): JsonObject | undefined {
  const groupVersion = group === "" ? version : `${group}/${version}`;
  if (group === AUTHENTICATION_GROUP && version === "v1") {
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion,
      resources: [
        {
          name: SELF_SUBJECT_REVIEW_RESOURCE,
          singularName: "selfsubjectreview",
          namespaced: false,
          kind: "SelfSubjectReview",
          verbs: ["create"],
        },
      ],
    };
  }
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
  const resources = resourcesOf(project).filter((r) => r.group === group && r.version === version);
  // The core group is there in every plane (kubectl reads /api/v1 first), if empty.
  if (resources.length === 0 && !(group === "" && version === "v1")) return undefined;
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
    definitionPrefix: definitionPrefix(resource),
    // kubectl builds strategic merge patches for built-in kinds from its compiled-in types;
    // listing the type here would make it build them from this document instead.
    patchTypes: Object.keys(PATCH_MEDIA_TYPES).filter((t) => t !== "application/strategic-merge-patch+json"),
  };
}

/** Kubernetes' own names: `io.k8s.api.core.v1`, `io.k8s.api.coordination.v1`; others reversed (`com.miloapis.telemetry.v1alpha1`). */
function definitionPrefix(resource: ResourceType): string {
  if (resource.group === "") return `io.k8s.api.core.${resource.version}`;
  if (resource.group.endsWith(".k8s.io"))
    return `io.k8s.api.${resource.group.slice(0, -".k8s.io".length)}.${resource.version}`;
  return `${resource.group.split(".").reverse().join(".")}.${resource.version}`;
}

interface PlaneDocuments {
  readonly byGroupVersion: ReadonlyMap<string, { readonly json: string; readonly hash: string }>;
}

export interface OpenApiDocuments {
  /** A group-version's document in a route's plane (`api/v1`, `apis/GROUP/VERSION`). */
  groupVersion(
    project: string | undefined,
    key: string,
  ): { readonly json: string; readonly hash: string } | undefined;
  /** The root document of a route's plane: links carry the plane's prefix (kubectl requests them as given). */
  root(project: string | undefined): JsonObject;
}

export function buildOpenApiDocuments(): OpenApiDocuments {
  const projects = planeDocuments(RESOURCES);
  const platform = planeDocuments(PLATFORM_RESOURCES);
  const of = (project: string | undefined): PlaneDocuments => (project === PLATFORM ? platform : projects);
  return {
    groupVersion: (project, key) => of(project).byGroupVersion.get(key),
    root: (project) => ({
      paths: Object.fromEntries(
        [...of(project).byGroupVersion].map(([path, doc]) => [
          path,
          { serverRelativeURL: `${planePath(project)}/openapi/v3/${path}?hash=${doc.hash}` },
        ]),
      ),
    }),
  };
}

function planeDocuments(all: readonly ResourceType[]): PlaneDocuments {
  const byGroupVersion = new Map<string, { json: string; hash: string }>();
  for (const gv of groupVersions(all)) {
    const resources = all
      .filter((r) => r.group === gv.group && r.version === gv.version)
      .map(openApiResource);
    const json = JSON.stringify(openApiDocument(`Telex ${gv.group === "" ? "core" : gv.group}`, resources));
    const hash = createHash("sha512").update(json).digest("hex").toUpperCase().slice(0, 128);
    byGroupVersion.set(gv.group === "" ? `api/${gv.version}` : `apis/${gv.group}/${gv.version}`, {
      json,
      hash,
    });
  }
  return { byGroupVersion };
}
