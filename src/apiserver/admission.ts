// Turning what a client sent into the object to store: unknown fields per
// fieldValidation, server-owned metadata, the status/spec split of the
// status subresource, defaulting and validation from the api module,
// generation, managedFields and the size limit.
import { randomUUID } from "node:crypto";
import { formatPath, type FieldError, type SchemaNode } from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import { timestamp } from "./clock.js";
import { leafMap, type FieldScope } from "./field-paths.js";
import {
  MAX_NESTING_DEPTH,
  MAX_OBJECT_BYTES,
  MAX_OBJECT_VALUES,
  measureJson,
  tooManyValues,
} from "./limits.js";
import { deepEqual, isObject } from "./json.js";
import {
  encodeManagedFields,
  parseManagedFields,
  recordUpdate,
  type Ownership,
  type Writer,
} from "./managed-fields.js";
import { metadataOf, type Metadata } from "./metadata.js";
import { pruneUnknownFields } from "./prune.js";
import { apiVersionOf, type ResourceType } from "./resources.js";
import { ApiError, errors } from "./status.js";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface AdmissionRequest {
  readonly resource: ResourceType;
  readonly name: string;
  /** "" for cluster-scoped resources. */
  readonly namespace: string;
  readonly old: JsonObject | undefined;
  readonly incoming: JsonObject;
  readonly subresource: "status" | undefined;
  readonly fieldValidation: FieldValidation;
  readonly writer: Writer;
  /** Set by server-side apply: the ownership it computed, used instead of recording an update. */
  readonly owners?: readonly Ownership[];
  readonly now: Date;
  /** Collects Warning header texts. */
  readonly warnings: string[];
}

export function fieldScope(resource: ResourceType, subresource: "status" | undefined): FieldScope {
  if (subresource === "status") return "status";
  return resource.hasStatus ? "main" : "all";
}

/** Returns the object to store, or throws an ApiError (400, 403, 413, 422). */
export function admit(request: AdmissionRequest): JsonObject {
  const { resource, old } = request;
  checkObjectBounds(request.incoming, resource.kind);
  const incoming = dropUnknownFields(request.incoming, request);

  let candidate: JsonObject;
  if (request.subresource === "status") {
    if (old === undefined) throw errors.internal("status written for a missing object");
    candidate = { ...old, status: incoming["status"] };
    if (incoming["status"] === undefined) delete candidate["status"];
  } else {
    candidate = { ...incoming };
    if (resource.hasStatus) {
      if (old?.["status"] === undefined) delete candidate["status"];
      else candidate["status"] = old["status"];
    }
  }
  candidate["apiVersion"] = apiVersionOf(resource);
  candidate["kind"] = resource.kind;
  candidate["metadata"] = serverMetadata(request, metadataOf(candidate));

  const specUnchanged = old !== undefined && deepEqual(old["spec"], candidate["spec"]);
  const validation = resource.validate(candidate, { specUnchanged });
  // As kube's Validate…Update: what the update may not change first, then what any object may not be.
  const frozen =
    old !== undefined && request.subresource === undefined && resource.validateUpdate !== undefined
      ? resource.validateUpdate(validation.errors === undefined ? validation.object : candidate, old)
      : [];
  if (validation.errors !== undefined || frozen.length > 0) {
    throw errors.invalid(
      resource.kind,
      { resource: resource.plural, group: resource.group, name: request.name },
      [...frozen, ...(validation.errors ?? [])],
    );
  }
  if (request.subresource === undefined)
    request.warnings.push(...(resource.warnings?.(validation.object) ?? []));
  let object = resource.normalize(validation.object);
  checkFinalizers(old, object, request);

  const meta = withoutEmptyCollections(metadataOf(object));
  if (resource.tracksGeneration) {
    const previous = old === undefined ? 0 : (metadataOf(old).generation ?? 1);
    // An unchanged spec was kept as stored (validation does not walk it): the same generation.
    meta.generation =
      old === undefined
        ? 1
        : specUnchanged || deepEqual(old["spec"], object["spec"])
          ? previous
          : previous + 1;
  }
  const scope = fieldScope(resource, request.subresource);
  const owners =
    request.owners ??
    recordUpdate(
      parseManagedFields(old === undefined ? undefined : metadataOf(old).managedFields),
      leafMap(old ?? {}, resource.schema, scope),
      leafMap(object, resource.schema, scope),
      request.writer,
    );
  const managed = encodeManagedFields(owners);
  if (managed.length > 0) meta.managedFields = managed;
  else delete meta.managedFields;
  object = { ...object, metadata: meta };

  const size = Buffer.byteLength(JSON.stringify(object));
  if (size > MAX_OBJECT_BYTES)
    throw errors.tooLarge(`the ${resource.kind} (${size} bytes)`, MAX_OBJECT_BYTES);
  return object;
}

/**
 * The admitted object with `finalizer` added in the name of `writer` (its
 * managedFields say so); unchanged when it is there already. Only the
 * finalizers are compared: nothing else changes hands.
 */
export function withFinalizer(
  object: JsonObject,
  finalizer: string,
  schema: SchemaNode,
  writer: Writer,
): JsonObject {
  const meta = metadataOf(object);
  const before = meta.finalizers ?? [];
  if (before.includes(finalizer)) return object;
  const after = [...before, finalizer];
  const owners = recordUpdate(
    parseManagedFields(meta.managedFields),
    leafMap({ metadata: { finalizers: before } }, schema, "main"),
    leafMap({ metadata: { finalizers: after } }, schema, "main"),
    writer,
  );
  return { ...object, metadata: { ...meta, finalizers: after, managedFields: encodeManagedFields(owners) } };
}

/**
 * Every write path (create, update, status, the patches, apply) comes here
 * first, apply also before merging: what pruning, validation and managed
 * fields walk (recursively) is no deeper than the limit and not far over the
 * object limit. The exact size is checked on the admitted object.
 */
export function checkObjectBounds(incoming: JsonObject, kind: string): void {
  const slack = 64 * 1024;
  // managedFields grow with every manager that co-owns a field; they count towards the size, not the values.
  const managed = measureJson(metadataOf(incoming).managedFields ?? [], MAX_OBJECT_BYTES + slack).values;
  const { bytes, depth, values } = measureJson(
    incoming,
    MAX_OBJECT_BYTES + slack,
    MAX_OBJECT_VALUES + managed,
  );
  if (depth > MAX_NESTING_DEPTH)
    throw new ApiError(
      "Invalid",
      `the ${kind} is nested deeper than the limit of ${MAX_NESTING_DEPTH} levels (objects and arrays)`,
    );
  if (values - managed > MAX_OBJECT_VALUES) throw tooManyValues(`the ${kind}`, MAX_OBJECT_VALUES);
  if (bytes > MAX_OBJECT_BYTES + slack)
    throw errors.tooLarge(`the ${kind} (about ${bytes} bytes or more)`, MAX_OBJECT_BYTES);
}

/** The object without the fields its schema does not declare; Strict refuses them, Warn reports them. */
export function dropUnknownFields(
  object: JsonObject,
  request: Pick<AdmissionRequest, "resource" | "fieldValidation" | "warnings">,
): JsonObject {
  const { value, unknown } = pruneUnknownFields(object, request.resource.schema);
  if (unknown.length === 0 || request.fieldValidation === "Ignore") return value as JsonObject;
  const messages = unknown.map((path) => `unknown field "${formatPath(path)}"`);
  if (request.fieldValidation === "Warn") {
    request.warnings.push(...messages);
    return value as JsonObject;
  }
  throw errors.badRequest(
    `${request.resource.kind} in version "${request.resource.version}" cannot be handled as a ${request.resource.kind}: strict decoding error: ${messages.join(", ")}`,
    unknown.map((path) => ({
      reason: "FieldValueInvalid",
      message: `unknown field "${formatPath(path)}"`,
      field: formatPath(path),
    })),
  );
}

/** Go's `omitempty`: empty labels, annotations, finalizers and ownerReferences are not kept. */
function withoutEmptyCollections(metadata: Metadata): Metadata {
  const out: Metadata = { ...metadata };
  for (const key of ["labels", "annotations", "finalizers", "ownerReferences"] as const) {
    const value: unknown = out[key];
    if (
      (Array.isArray(value) && value.length === 0) ||
      (isObject(value) && Object.keys(value).length === 0)
    ) {
      Reflect.deleteProperty(out, key);
    }
  }
  return out;
}

/** Metadata the server owns: identity and timestamps come from the stored object (or are new). */
function serverMetadata(request: AdmissionRequest, given: Metadata): Metadata {
  const { old } = request;
  const meta: Metadata = { ...given, name: request.name };
  if (request.resource.namespaced) meta.namespace = request.namespace;
  else delete meta.namespace;
  delete meta.resourceVersion;
  delete meta.managedFields;
  delete meta.generateName;
  if (given.generateName !== undefined && old === undefined) meta.generateName = given.generateName;
  if (old === undefined) {
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp(request.now);
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.generation;
    return meta;
  }
  const previous = metadataOf(old);
  const carried: (keyof Metadata)[] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "generateName",
  ];
  for (const key of carried) {
    if (previous[key] === undefined) Reflect.deleteProperty(meta, key);
    else meta[key] = previous[key];
  }
  if (request.subresource === "status") {
    // Without the old managedFields: admit records them anew below, and validating the old
    // ones' field trees (copied node by node) was a tenth of a status write.
    const { managedFields: _recorded, ...kept } = previous;
    return {
      ...kept,
      name: request.name,
      ...(request.resource.namespaced ? { namespace: request.namespace } : {}),
    };
  }
  return meta;
}

function checkFinalizers(old: JsonObject | undefined, object: JsonObject, request: AdmissionRequest): void {
  if (old === undefined || metadataOf(old).deletionTimestamp === undefined) return;
  const before = new Set(metadataOf(old).finalizers ?? []);
  const added = (metadataOf(object).finalizers ?? []).filter((f) => !before.has(f));
  if (added.length > 0) {
    const problem: FieldError = {
      type: "Forbidden",
      path: ["metadata", "finalizers"],
      detail: `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
    };
    throw errors.invalid(
      request.resource.kind,
      { resource: request.resource.plural, group: request.resource.group, name: request.name },
      [problem],
    );
  }
}

/** Whether a write changes nothing but managedFields timestamps: then nothing is committed. */
export function isNoop(old: JsonObject, next: JsonObject): boolean {
  const strip = (o: JsonObject): JsonObject => {
    const meta = { ...metadataOf(o) };
    delete meta.resourceVersion;
    const managed = Array.isArray(meta.managedFields) ? meta.managedFields : [];
    meta.managedFields = managed.map((entry) => (isObject(entry) ? { ...entry, time: "" } : entry));
    return { ...o, metadata: meta };
  };
  return deepEqual(strip(old), strip(next));
}
