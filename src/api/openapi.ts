// OpenAPI v3 documents of a group-version, generated from the same schemas as
// the CRD, so `kubectl explain` and kubectl's field validation see exactly
// what the server enforces. Shapes follow what a Kubernetes API server
// publishes: GVK extensions on definitions and PATCH operations, ObjectMeta as
// a shared `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta` reference, and
// the query parameters kubectl probes for (fieldValidation, dryRun, ...).
import { toKubernetesSchema } from "./crd.js";
import { ObjectMetaSchema } from "./objectmeta.js";
import { publishSchema, schemaNode, type SchemaNode } from "./schema-node.js";

export const META_V1 = "io.k8s.apimachinery.pkg.apis.meta.v1";
const OBJECT_META_REF = `#/components/schemas/${META_V1}.ObjectMeta`;

export interface OpenApiResource {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  readonly schema: SchemaNode;
  /** Definitions are named `<prefix>.<Kind>`, e.g. `io.k8s.api.core.v1`. */
  readonly definitionPrefix: string;
  readonly hasStatus: boolean;
  /** Patch media types the server accepts for this resource. */
  readonly patchTypes: readonly string[];
}

type Json = Record<string, unknown>;

/** A schema for OpenAPI: private keys removed, ObjectMeta (and its lists) by reference. */
export function toOpenApiSchema(node: SchemaNode): Json {
  return publishSchema(node, (n) =>
    n["x-telex-type-name"] === "ObjectMeta"
      ? { allOf: [{ $ref: OBJECT_META_REF }], description: n.description, default: {} }
      : undefined,
  );
}

function objectMetaDefinition(): Json {
  const meta = toKubernetesSchema({ ...schemaNode(ObjectMetaSchema), "x-telex-crd-opaque": false });
  const properties = { ...(meta["properties"] as Record<string, Json>) };
  const refArray = (ref: string, description: unknown): Json => ({
    type: "array",
    description,
    items: { allOf: [{ $ref: `#/components/schemas/${META_V1}.${ref}` }], default: {} },
  });
  properties["managedFields"] = refArray("ManagedFieldsEntry", properties["managedFields"]?.["description"]);
  properties["ownerReferences"] = refArray("OwnerReference", properties["ownerReferences"]?.["description"]);
  delete meta["additionalProperties"];
  return { ...meta, properties };
}

const str = (description: string): Json => ({ type: "string", description });

function metaDefinitions(): Record<string, Json> {
  return {
    [`${META_V1}.ObjectMeta`]: objectMetaDefinition(),
    [`${META_V1}.ListMeta`]: {
      type: "object",
      description: "ListMeta describes metadata that synthetic resources must have, including lists.",
      properties: {
        continue: str("Set when the list was truncated by limit: pass it back to read the next page."),
        remainingItemCount: { type: "integer", format: "int64", description: "Items left after this page." },
        resourceVersion: str("The version of the store this list was read at; watch from it."),
      },
    },
    [`${META_V1}.ManagedFieldsEntry`]: {
      type: "object",
      description: "Which field manager owns which fields, for server-side apply.",
      properties: {
        apiVersion: str("The version of the resource the fields are expressed in."),
        fieldsType: str("The format of fieldsV1: always FieldsV1."),
        fieldsV1: { type: "object", description: "The set of fields, in the FieldsV1 format." },
        manager: str("The name of the field manager."),
        operation: str("Apply or Update."),
        subresource: str("The subresource the operation was made through, if any."),
        time: { type: "string", format: "date-time", description: "When the entry last changed." },
      },
    },
    [`${META_V1}.OwnerReference`]: {
      type: "object",
      description: "An object this object depends on.",
      required: ["apiVersion", "kind", "name", "uid"],
      properties: {
        apiVersion: str("API version of the referent."),
        kind: str("Kind of the referent."),
        name: str("Name of the referent."),
        uid: str("UID of the referent."),
        controller: { type: "boolean", description: "Whether the referent is the managing controller." },
        blockOwnerDeletion: {
          type: "boolean",
          description: "Kept for compatibility; no garbage collector runs.",
        },
      },
      "x-kubernetes-map-type": "atomic",
    },
    [`${META_V1}.Patch`]: { type: "object", description: "A patch document in one of the accepted formats." },
    [`${META_V1}.Status`]: {
      type: "object",
      description: "Status is the return value for calls that do not return other objects.",
      properties: {
        apiVersion: str("v1"),
        kind: str("Status"),
        code: { type: "integer", format: "int32", description: "The HTTP status code." },
        message: str("A human-readable description of the outcome."),
        reason: str("A machine-readable reason, e.g. NotFound or Invalid."),
        status: str("Success or Failure."),
        details: { type: "object", description: "Details of the error: the object and per-field causes." },
      },
    },
  };
}

function query(name: string, description: string, type = "string"): Json {
  return { name, in: "query", description, schema: { type, uniqueItems: true } };
}

const WRITE_PARAMETERS = [
  query("dryRun", "When All, the request is processed but nothing is stored."),
  query("fieldManager", "The name of the actor making the change, recorded in managedFields."),
  query(
    "fieldValidation",
    "Strict, Warn (default) or Ignore: what to do with fields the schema does not declare.",
  ),
];

function jsonContent(ref: string): Json {
  return { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } };
}

function operations(
  resource: OpenApiResource,
  definition: string,
  listDefinition: string,
): Record<string, Json> {
  const gvk = { group: resource.group, version: resource.version, kind: resource.kind };
  const ok = (ref: string): Json => ({ "200": { description: "OK", content: jsonContent(ref) } });
  const patchBody = {
    content: Object.fromEntries(
      resource.patchTypes.map((type) => [
        type,
        { schema: { $ref: `#/components/schemas/${META_V1}.Patch` } },
      ]),
    ),
    required: true,
  };
  const base =
    resource.group === "" ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  const collection = resource.namespaced
    ? `${base}/namespaces/{namespace}/${resource.plural}`
    : `${base}/${resource.plural}`;
  const pathParams = (named: boolean): Json[] => [
    ...(named
      ? [{ name: "name", in: "path", required: true, schema: { type: "string", uniqueItems: true } }]
      : []),
    ...(resource.namespaced
      ? [{ name: "namespace", in: "path", required: true, schema: { type: "string", uniqueItems: true } }]
      : []),
  ];
  const op = (verb: string, extra: Json): Json => ({
    "x-kubernetes-action": verb,
    "x-kubernetes-group-version-kind": gvk,
    ...extra,
  });
  const item = (suffix: string): Json => ({
    parameters: pathParams(true),
    get: op("get", { responses: ok(definition) }),
    put: op("put", {
      parameters: WRITE_PARAMETERS,
      requestBody: { content: jsonContent(definition), required: true },
      responses: ok(definition),
    }),
    patch: op("patch", {
      parameters: [
        ...WRITE_PARAMETERS,
        query("force", "Take ownership of conflicting fields (apply only).", "boolean"),
      ],
      requestBody: patchBody,
      responses: ok(definition),
    }),
    ...(suffix === ""
      ? {
          delete: op("delete", {
            parameters: [query("dryRun", "When All, nothing is deleted.")],
            responses: ok(definition),
          }),
        }
      : {}),
  });
  const paths: Record<string, Json> = {
    [collection]: {
      parameters: pathParams(false),
      get: op("list", {
        parameters: [
          query("labelSelector", "Only objects whose labels match."),
          query("fieldSelector", "Only objects whose fields match (metadata.name, metadata.namespace, ...)."),
          query("limit", "At most this many items; continue with the returned token.", "integer"),
          query("continue", "The token of the previous page."),
          query("resourceVersion", "Watch from this version."),
          query("watch", "Stream changes instead of listing.", "boolean"),
          query("allowWatchBookmarks", "Send BOOKMARK events while watching.", "boolean"),
          query("timeoutSeconds", "End the list or watch after this many seconds.", "integer"),
        ],
        responses: ok(listDefinition),
      }),
      post: op("post", {
        parameters: WRITE_PARAMETERS,
        requestBody: { content: jsonContent(definition), required: true },
        responses: { ...ok(definition), "201": { description: "Created", content: jsonContent(definition) } },
      }),
    },
    [`${collection}/{name}`]: item(""),
  };
  if (resource.hasStatus) paths[`${collection}/{name}/status`] = item("status");
  return paths;
}

/** The OpenAPI v3 document of one group-version, as served at /openapi/v3/apis/GROUP/VERSION. */
export function openApiDocument(title: string, resources: readonly OpenApiResource[]): Json {
  const schemas: Record<string, Json> = metaDefinitions();
  let paths: Record<string, Json> = {};
  for (const resource of resources) {
    const definition = `${resource.definitionPrefix}.${resource.kind}`;
    const listDefinition = `${definition}List`;
    const gvk = [{ group: resource.group, version: resource.version, kind: resource.kind }];
    schemas[definition] = { ...toOpenApiSchema(resource.schema), "x-kubernetes-group-version-kind": gvk };
    schemas[listDefinition] = {
      type: "object",
      description: `${resource.kind}List is a list of ${resource.kind}.`,
      required: ["items"],
      properties: {
        apiVersion: str("The API version of the list."),
        kind: str(`${resource.kind}List`),
        items: { type: "array", items: { $ref: `#/components/schemas/${definition}` } },
        metadata: { allOf: [{ $ref: `#/components/schemas/${META_V1}.ListMeta` }], default: {} },
      },
      "x-kubernetes-group-version-kind": [{ ...gvk[0], kind: `${resource.kind}List` }],
    };
    paths = { ...paths, ...operations(resource, definition, listDefinition) };
  }
  return { openapi: "3.0.0", info: { title, version: "unversioned" }, paths, components: { schemas } };
}
