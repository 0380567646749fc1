// Objects and lists in the format the client negotiated: JSON, YAML, a
// Table or metadata only. In the cross-project view each object carries its
// project in an annotation, the only place a Kubernetes object can.
import { stringify } from "yaml";
import type { JsonObject, ObjectKey } from "../store/index.js";
import type { ResponseFormat } from "./http-io.js";
import { metadataOf } from "./metadata.js";
import { apiVersionOf, type ResourceType } from "./resources.js";
import { toTable, type IncludeObject } from "./tables.js";

/** Names an object's project in the cross-project view. */
export const PROJECT_ANNOTATION = "telex.miloapis.com/project";

export interface RenderOptions {
  readonly format: ResponseFormat;
  readonly includeObject: IncludeObject;
  /** Set in the cross-project view. */
  readonly annotateProject: boolean;
  readonly nowMs: number;
}

export function decorate(object: JsonObject, key: ObjectKey, annotateProject: boolean): JsonObject {
  if (!annotateProject) return object;
  const meta = metadataOf(object);
  return {
    ...object,
    metadata: { ...meta, annotations: { ...(meta.annotations ?? {}), [PROJECT_ANNOTATION]: key.project } },
  };
}

function partial(object: JsonObject): JsonObject {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: metadataOf(object) };
}

/** One object as the response body. */
export function renderObject(resource: ResourceType, object: JsonObject, options: RenderOptions): unknown {
  switch (options.format) {
    case "table":
      return toTable(resource.table, [object], {
        includeObject: options.includeObject,
        listMeta: { resourceVersion: metadataOf(object).resourceVersion ?? "" },
        nowMs: options.nowMs,
      });
    case "partial":
      return partial(object);
    default:
      return object;
  }
}

export function renderList(
  resource: ResourceType,
  objects: readonly JsonObject[],
  listMeta: JsonObject,
  options: RenderOptions,
): unknown {
  switch (options.format) {
    case "table":
      return toTable(resource.table, objects, {
        includeObject: options.includeObject,
        listMeta,
        nowMs: options.nowMs,
      });
    case "partial":
      return {
        kind: "PartialObjectMetadataList",
        apiVersion: "meta.k8s.io/v1",
        metadata: listMeta,
        items: objects.map(partial),
      };
    default:
      return {
        kind: `${resource.kind}List`,
        apiVersion: apiVersionOf(resource),
        metadata: listMeta,
        items: objects,
      };
  }
}

/** Serialises a response body in the negotiated text format. */
export function serialise(
  body: unknown,
  format: ResponseFormat,
): { readonly text: string; readonly contentType: string } {
  if (format === "yaml") return { text: stringify(body, { lineWidth: 0 }), contentType: "application/yaml" };
  return { text: JSON.stringify(body), contentType: "application/json" };
}
