// The parts of Kubernetes ObjectMeta that Telex objects use, as a schema.
import { Type } from "typebox";

/** A string-to-string map (labels, annotations, Secret data). */
export const stringMap = (description: string) =>
  Type.Unsafe<Record<string, string>>({
    type: "object",
    additionalProperties: { type: "string" },
    description,
    "x-telex-type-name": "map[string]string",
  });

/** An object whose fields the server keeps as they are. */
const opaqueObject = () =>
  Type.Unsafe<Record<string, unknown>>({ type: "object", "x-kubernetes-preserve-unknown-fields": true });

export const ObjectMetaSchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        description:
          "Name must be unique within a namespace. It is required when creating resources. Must be a DNS subdomain: lowercase alphanumerics, '-' and '.', at most 253 characters.",
        "x-telex-format": "dns-subdomain",
      }),
    ),
    generateName: Type.Optional(
      Type.String({
        description:
          "An optional prefix used by the server to generate a unique name, only if the name field has not been provided.",
      }),
    ),
    namespace: Type.Optional(
      Type.String({
        description: "The namespace of the object within its project. Defaults to 'default'.",
        "x-telex-format": "dns-label",
      }),
    ),
    labels: Type.Optional(
      stringMap("Map of string keys and values that can be used to organize and categorize objects."),
    ),
    annotations: Type.Optional(
      stringMap("Unstructured key value map stored with a resource to hold arbitrary metadata."),
    ),
    uid: Type.Optional(
      Type.String({ description: "UID is the unique in time and space value for this object. Read-only." }),
    ),
    resourceVersion: Type.Optional(
      Type.String({
        description:
          "An opaque value that represents the internal version of this object, used for optimistic concurrency and watches. Read-only.",
      }),
    ),
    generation: Type.Optional(
      Type.Integer({
        description: "A sequence number representing a specific generation of the desired state. Read-only.",
      }),
    ),
    creationTimestamp: Type.Optional(
      Type.String({
        description: "The time this object was created, in RFC 3339 form, UTC. Read-only.",
        format: "date-time",
      }),
    ),
    deletionTimestamp: Type.Optional(
      Type.String({
        description:
          "The time after which this resource will be deleted; set by the server when a graceful deletion is requested. Read-only.",
        format: "date-time",
      }),
    ),
    deletionGracePeriodSeconds: Type.Optional(
      Type.Integer({ description: "Seconds allowed for graceful termination. Read-only." }),
    ),
    finalizers: Type.Optional(
      Type.Array(Type.String(), {
        description:
          "Must be empty before the object is deleted from the registry. Each entry identifies a controller that cleans up before deletion.",
        "x-kubernetes-list-type": "set",
      }),
    ),
    managedFields: Type.Optional(
      Type.Array(opaqueObject(), {
        description: "Which field manager owns which fields (server-side apply). Maintained by the server.",
      }),
    ),
    ownerReferences: Type.Optional(
      Type.Array(opaqueObject(), {
        description: "Objects this object depends on; it is garbage collected when they all are deleted.",
      }),
    ),
  },
  {
    description:
      "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    additionalProperties: false,
    "x-telex-type-name": "ObjectMeta",
    "x-telex-crd-opaque": true,
  },
);
