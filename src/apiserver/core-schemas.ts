// Schemas of the core/v1 kinds the server stores beside Secret: Namespace and
// Event. They cover the fields kubectl and controllers use; unknown fields
// are handled per fieldValidation like everywhere else.
import { ObjectMetaSchema, schemaNode, type SchemaNode } from "../api/index.js";

const meta: SchemaNode = schemaNode(ObjectMetaSchema);
const str = (description: string): SchemaNode => ({ type: "string", description });
const time = (description: string): SchemaNode => ({ type: "string", format: "date-time", description });
const typeMeta = objectHeader("v1");

/** apiVersion, kind and metadata: the properties every built-in kind opens with. */
export function objectHeader(apiVersion: string): Record<string, SchemaNode> {
  return {
    apiVersion: str(
      `APIVersion defines the versioned schema of this representation of an object: ${apiVersion}.`,
    ),
    kind: str("Kind is a string value representing the REST resource this object represents."),
    metadata: meta,
  };
}

export const NamespaceSchema: SchemaNode = {
  type: "object",
  description: "Namespace provides a scope for names within a project. Every project has `default`.",
  additionalProperties: false,
  properties: {
    ...typeMeta,
    metadata: meta,
    spec: {
      type: "object",
      description: "Spec defines the behavior of the Namespace.",
      additionalProperties: false,
      properties: {
        finalizers: { type: "array", items: { type: "string" }, description: "Kept for compatibility." },
      },
    },
    status: {
      type: "object",
      description: "Status describes the current status of a Namespace. Read-only.",
      additionalProperties: false,
      properties: {
        phase: { type: "string", enum: ["Active", "Terminating"], description: "Active or Terminating." },
      },
    },
  },
};

const objectReference: SchemaNode = {
  type: "object",
  description: "The object this event is about.",
  additionalProperties: false,
  properties: {
    apiVersion: str("API version of the referent."),
    kind: str("Kind of the referent."),
    namespace: str("Namespace of the referent."),
    name: str("Name of the referent."),
    uid: str("UID of the referent."),
    resourceVersion: str("Specific resourceVersion to which this reference is made, if any."),
    fieldPath: str("A field of the referent, if the event is about a part of it."),
  },
};

export const EventSchema: SchemaNode = {
  type: "object",
  description: "Event is a report of an event somewhere in the project.",
  additionalProperties: false,
  required: ["involvedObject"],
  properties: {
    ...typeMeta,
    metadata: meta,
    involvedObject: objectReference,
    reason: str(
      "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    message: str("A human-readable description of the status of this operation."),
    type: {
      type: "string",
      enum: ["Normal", "Warning"],
      description: "Type of this event (Normal, Warning).",
    },
    count: { type: "integer", minimum: 0, description: "The number of times this event has occurred." },
    firstTimestamp: time("The time at which the event was first recorded."),
    lastTimestamp: time("The time at which the most recent occurrence of this event was recorded."),
    eventTime: time("Time when this Event was first observed (MicroTime)."),
    source: {
      type: "object",
      description: "The component reporting this event.",
      additionalProperties: false,
      properties: { component: str("Component from which the event is generated."), host: str("Node name.") },
    },
    reportingComponent: str("Name of the controller that emitted this Event."),
    reportingInstance: str("ID of the controller instance."),
    action: str("What action was taken/failed regarding to the Regarding object."),
    related: objectReference,
    series: {
      type: "object",
      description: "Data about the Event series this event represents.",
      properties: { count: { type: "integer" }, lastObservedTime: time("Time of the last occurrence.") },
      additionalProperties: false,
    },
  },
};
