// Writes with Kubernetes semantics: create, update (optimistic concurrency),
// the four patch types, delete with finalizers, and dryRun. Each runs
// synchronously from read to commit, so no other request interleaves.
import { randomBytes } from "node:crypto";
import { DEFAULTS, type FieldError } from "../api/index.js";
import type { JsonObject, StoredObject } from "../store/index.js";
import {
  admit,
  withFinalizer,
  checkObjectBounds,
  dropUnknownFields,
  fieldScope,
  isNoop,
  type FieldValidation,
} from "./admission.js";
import { ApplyConflictError, serverSideApply } from "./apply.js";
import { timestamp } from "./clock.js";
import { SWEEP_EVERY, expireEvents } from "./event-expiry.js";
import { checkNamespaceOpen, removeNamespaceIfEmpty } from "./namespace-lifecycle.js";
import { describePath } from "./field-paths.js";
import { isObject } from "./json.js";
import { parseManagedFields, type Writer } from "./managed-fields.js";
import { checkMetadataShape, finalizersOf, metadataOf } from "./metadata.js";
import { applyJsonPatch } from "./patch/json-patch.js";
import { applyMergePatch } from "./patch/merge-patch.js";
import { applyStrategicMergePatch } from "./patch/strategic-merge-patch.js";
import { PatchError, PatchTooLargeError } from "./patch/errors.js";
import type { QuotaLedger } from "./quota.js";
import type { ListOptions, Registry } from "./registry.js";
import { RESOURCES, apiVersionOf, events, namespaces, type ResourceType } from "./resources.js";
import { ApiError, errors } from "./status.js";
import { objectKey, refOf, type WriteTarget } from "./target.js";

export interface WriteOptions {
  readonly dryRun: boolean;
  readonly fieldValidation: FieldValidation;
  readonly fieldManager: string;
  readonly subresource: "status" | undefined;
}

export interface WriteOutcome {
  readonly object: JsonObject;
  readonly created: boolean;
  readonly warnings: readonly string[];
}

export type PatchType = "json" | "merge" | "strategic" | "apply";

export interface DeleteOptions {
  readonly dryRun: boolean;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function generatedName(prefix: string): string {
  const bytes = randomBytes(5);
  let suffix = "";
  for (const byte of bytes) suffix += GENERATE_ALPHABET[byte % GENERATE_ALPHABET.length] ?? "x";
  return `${prefix}${suffix}`;
}

/**
 * A finalizer the server adds to every new object of a resource on behalf of
 * a controller in its own process, owned in managedFields by that
 * controller's field manager, as kube-apiserver's admission adds
 * `kubernetes.io/pvc-protection` for its built-in controller. It saves the
 * controller's first write of every new object (10,000 policies: 10,000
 * writes, a third of what creating them cost).
 */
export interface CreateFinalizer {
  readonly resource: ResourceType;
  readonly finalizer: string;
  readonly manager: string;
}

export class Writes {
  private eventsRecorded = 0;

  constructor(
    private readonly registry: Registry,
    private readonly quota: QuotaLedger,
    private readonly createFinalizers: readonly CreateFinalizer[] = [],
  ) {}

  private get store() {
    return this.registry.store;
  }

  create(target: WriteTarget, body: JsonObject, options: WriteOptions): WriteOutcome {
    if (options.subresource !== undefined)
      throw errors.methodNotAllowed("POST", `${target.resource.plural}/${options.subresource}`);
    checkMetadataShape(body);
    const meta = metadataOf(body);
    const name =
      meta.name ?? (meta.generateName === undefined ? undefined : generatedName(meta.generateName));
    if (name === undefined || name === "") {
      throw this.invalid(target, "", [
        { type: "Required", path: ["metadata", "name"], detail: "name or generateName is required" },
      ]);
    }
    this.checkNamespace(target, body);
    checkNamespaceOpen(this.store, target);
    if (this.registry.find(target, name) !== undefined) throw errors.alreadyExists(refOf(target, name));
    const warnings: string[] = [];
    const object = this.withCreateFinalizers(
      target,
      options,
      admit({
        resource: target.resource,
        name,
        namespace: target.namespace ?? "",
        old: undefined,
        incoming: body,
        subresource: undefined,
        fieldValidation: options.fieldValidation,
        writer: this.writer(target, options),
        now: this.registry.clock(),
        warnings,
      }),
    );
    const stored = this.finish(target, name, undefined, object, options);
    if (target.resource === events && !options.dryRun && ++this.eventsRecorded % SWEEP_EVERY === 0) {
      expireEvents(this.store, target.project, this.registry.clock());
    }
    return { object: stored, created: true, warnings };
  }

  update(target: WriteTarget, name: string, body: JsonObject, options: WriteOptions): WriteOutcome {
    checkMetadataShape(body);
    this.checkName(name, body);
    this.checkNamespace(target, body);
    const current = this.registry.get(target, name);
    const given = metadataOf(body).resourceVersion;
    if (given === undefined || given === "") {
      if (target.resource.tracksGeneration) {
        throw this.invalid(target, name, [
          {
            type: "Invalid",
            path: ["metadata", "resourceVersion"],
            value: 0,
            detail: "must be specified for an update",
          },
        ]);
      }
    } else if (given !== String(current.resourceVersion)) {
      throw errors.staleResourceVersion(refOf(target, name));
    }
    return this.replace(target, name, current, body, options);
  }

  patch(
    target: WriteTarget,
    name: string,
    type: PatchType,
    patch: unknown,
    options: WriteOptions & { force: boolean },
  ): WriteOutcome {
    if (type === "apply") return this.apply(target, name, patch, options);
    if (type === "strategic" && !target.resource.strategicMerge) {
      throw errors.unsupportedMediaType("application/strategic-merge-patch+json", [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
      ]);
    }
    const current = this.registry.get(target, name);
    // A merge patch larger than an object may be is refused before merging.
    if (type !== "json" && isObject(patch)) checkObjectBounds(patch, target.resource.kind);
    let patched: unknown;
    try {
      patched =
        type === "json"
          ? applyJsonPatch(current.object, patch)
          : type === "merge"
            ? applyMergePatch(current.object, patch)
            : applyStrategicMergePatch(current.object, patch);
    } catch (error: unknown) {
      if (error instanceof PatchError)
        throw new ApiError("Invalid", `the patch could not be applied: ${error.message}`);
      if (error instanceof PatchTooLargeError)
        throw new ApiError("RequestEntityTooLarge", `the patch could not be applied: ${error.message}`);
      throw error;
    }
    if (!isObject(patched)) throw new ApiError("Invalid", "the patched document is not an object");
    checkMetadataShape(patched);
    this.checkName(name, patched);
    this.checkNamespace(target, patched);
    const given = metadataOf(patched).resourceVersion;
    if (given !== undefined && given !== String(current.resourceVersion))
      throw errors.staleResourceVersion(refOf(target, name));
    return this.replace(target, name, current, patched, options);
  }

  delete(target: WriteTarget, name: string, options: DeleteOptions): WriteOutcome {
    const current = this.registry.get(target, name);
    const meta = metadataOf(current.object);
    const pre = options.preconditions;
    if (pre?.uid !== undefined && pre.uid !== meta.uid) {
      throw errors.conflict(
        refOf(target, name),
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid ?? ""}`,
      );
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== String(current.resourceVersion)) {
      throw errors.conflict(
        refOf(target, name),
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.resourceVersion}`,
      );
    }
    if (target.resource === namespaces) return this.deleteNamespace(target, current, options);
    if (finalizersOf(current.object).length === 0) {
      const object = options.dryRun
        ? current.object
        : this.store.commit("DELETED", objectKey(target, name), current.object).object;
      if (!options.dryRun) this.afterRemoval(target);
      return { object, created: false, warnings: [] };
    }
    if (meta.deletionTimestamp !== undefined) return { object: current.object, created: false, warnings: [] };
    const marked = this.markDeleted(current.object, target);
    const object = options.dryRun
      ? marked
      : this.store.commit("MODIFIED", objectKey(target, name), marked, current.object).object;
    return { object, created: false, warnings: [] };
  }

  deleteCollection(target: WriteTarget, list: ListOptions, options: DeleteOptions): JsonObject[] {
    const { items } = this.registry.list(target, { ...list, limit: undefined, continueToken: undefined });
    return items.map(
      (item) =>
        this.delete({ ...target, namespace: item.key.namespace || target.namespace }, item.key.name, options)
          .object,
    );
  }

  private apply(
    target: WriteTarget,
    name: string,
    patch: unknown,
    options: WriteOptions & { force: boolean },
  ): WriteOutcome {
    if (!isObject(patch)) throw errors.badRequest("an apply configuration must be an object");
    checkMetadataShape(patch);
    checkObjectBounds(patch, target.resource.kind);
    if (options.fieldManager === "")
      throw errors.badRequest("PATCH with apply requires the fieldManager query parameter");
    const expected = apiVersionOf(target.resource);
    if (patch["apiVersion"] !== expected || patch["kind"] !== target.resource.kind) {
      throw errors.badRequest(
        `the apply configuration must set apiVersion ${JSON.stringify(expected)} and kind ${JSON.stringify(target.resource.kind)}`,
      );
    }
    this.checkName(name, patch);
    this.checkNamespace(target, patch);
    const warnings: string[] = [];
    const applied = dropUnknownFields(patch, {
      resource: target.resource,
      fieldValidation: options.fieldValidation,
      warnings,
    });
    const current = this.registry.find(target, name);
    const given = metadataOf(applied).resourceVersion;
    if (given !== undefined && given !== String(current?.resourceVersion ?? ""))
      throw errors.staleResourceVersion(refOf(target, name));
    if (current === undefined) {
      if (options.subresource !== undefined) throw errors.notFound(refOf(target, name));
      checkNamespaceOpen(this.store, target);
    }
    const writer = this.writer(target, options);
    let result;
    try {
      result = serverSideApply({
        live: current?.object,
        applied,
        owners: parseManagedFields(
          current === undefined ? undefined : metadataOf(current.object).managedFields,
        ),
        schema: target.resource.schema,
        scope: fieldScope(target.resource, options.subresource),
        writer,
        force: options.force,
      });
    } catch (error: unknown) {
      if (error instanceof ApplyConflictError) {
        throw new ApiError("Conflict", error.message, {
          causes: error.conflicts.map((c) => ({
            reason: "FieldManagerConflict",
            message: `conflict with "${c.manager}"`,
            field: describePath(c.path),
          })),
        });
      }
      throw error;
    }
    let object = admit({
      resource: target.resource,
      name,
      namespace: target.namespace ?? "",
      old: current?.object,
      incoming: result.object,
      subresource: options.subresource,
      fieldValidation: "Ignore",
      writer,
      owners: result.owners,
      now: this.registry.clock(),
      warnings,
    });
    if (current === undefined) object = this.withCreateFinalizers(target, options, object);
    return {
      object: this.finish(target, name, current, object, options),
      created: current === undefined,
      warnings,
    };
  }

  private replace(
    target: WriteTarget,
    name: string,
    current: StoredObject,
    body: JsonObject,
    options: WriteOptions,
  ): WriteOutcome {
    const warnings: string[] = [];
    const object = admit({
      resource: target.resource,
      name,
      namespace: target.namespace ?? "",
      old: current.object,
      incoming: body,
      subresource: options.subresource,
      fieldValidation: options.fieldValidation,
      writer: this.writer(target, options),
      now: this.registry.clock(),
      warnings,
    });
    return { object: this.finish(target, name, current, object, options), created: false, warnings };
  }

  /** Commits the admitted object: nothing for a no-op, removal when a deleted object lost its last finalizer. */
  private finish(
    target: WriteTarget,
    name: string,
    current: StoredObject | undefined,
    next: JsonObject,
    options: WriteOptions,
  ): JsonObject {
    const key = objectKey(target, name);
    if (current !== undefined && isNoop(current.object, next)) return current.object;
    const meta = metadataOf(next);
    if (
      current !== undefined &&
      meta.deletionTimestamp !== undefined &&
      (meta.finalizers ?? []).length === 0
    ) {
      if (options.dryRun) return next;
      const removed = this.store.commit("DELETED", key, next).object;
      this.afterRemoval(target);
      return removed;
    }
    this.checkQuota(target, name, current, next);
    if (options.dryRun) {
      return current === undefined
        ? next
        : { ...next, metadata: { ...meta, resourceVersion: String(current.resourceVersion) } };
    }
    return this.store.commit(current === undefined ? "ADDED" : "MODIFIED", key, next, current?.object).object;
  }

  /** 403 when the write would take the project past a quota (dry runs too, as in Kubernetes). */
  private checkQuota(
    target: WriteTarget,
    name: string,
    current: StoredObject | undefined,
    next: JsonObject,
  ): void {
    let exceeded = this.quota.exceeded(target, current?.object, next);
    if (exceeded?.quota === "maxEventsPerProject") {
      // Expired events still count until swept; sweep before refusing.
      expireEvents(this.store, target.project, this.registry.clock());
      exceeded = this.quota.exceeded(target, current?.object, next);
    }
    if (exceeded !== undefined) throw exceeded.toError(target, name);
  }

  private markDeleted(object: JsonObject, target: WriteTarget): JsonObject {
    const meta = { ...metadataOf(object) };
    meta.deletionTimestamp = timestamp(this.registry.clock());
    meta.deletionGracePeriodSeconds = 0;
    if (target.resource.tracksGeneration) meta.generation = (meta.generation ?? 1) + 1;
    return { ...object, metadata: meta };
  }

  /** Deleting a namespace deletes what it holds; it goes away once that is gone (finalizers included). */
  private deleteNamespace(target: WriteTarget, current: StoredObject, options: DeleteOptions): WriteOutcome {
    const name = current.key.name;
    if (name === DEFAULTS.namespace) {
      throw errors.forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`);
    }
    if (options.dryRun) return { object: current.object, created: false, warnings: [] };
    let namespace = current.object;
    if (metadataOf(namespace).deletionTimestamp === undefined) {
      namespace = { ...this.markDeleted(namespace, target), status: { phase: "Terminating" } };
      namespace = this.store.commit("MODIFIED", current.key, namespace, current.object).object;
    }
    for (const resource of RESOURCES) {
      if (!resource.namespaced) continue;
      const inner: WriteTarget = { resource, project: target.project, namespace: name };
      for (const item of this.store.list({
        resource: resource.plural,
        project: target.project,
        namespace: name,
      })) {
        this.delete(inner, item.key.name, { dryRun: false });
      }
    }
    const removed = removeNamespaceIfEmpty(this.store, target.project, name);
    return { object: removed ?? namespace, created: false, warnings: [] };
  }

  private afterRemoval(target: WriteTarget): void {
    if (target.resource.namespaced && target.namespace !== undefined)
      removeNamespaceIfEmpty(this.store, target.project, target.namespace);
  }

  private checkName(name: string, body: JsonObject): void {
    const given = metadataOf(body).name;
    if (given !== undefined && given !== "" && given !== name) {
      throw errors.badRequest(
        `the name of the object (${given}) does not match the name on the URL (${name})`,
      );
    }
  }

  private checkNamespace(target: WriteTarget, body: JsonObject): void {
    const given = metadataOf(body).namespace;
    if (!target.resource.namespaced || given === undefined || given === "") return;
    if (given !== target.namespace) {
      throw errors.badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
  }

  /** A new object with the finalizers the server adds at create (CreateFinalizer). */
  private withCreateFinalizers(target: WriteTarget, options: WriteOptions, object: JsonObject): JsonObject {
    let added = object;
    for (const { resource, finalizer, manager } of this.createFinalizers) {
      if (resource !== target.resource) continue;
      added = withFinalizer(added, finalizer, resource.schema, { ...this.writer(target, options), manager });
    }
    return added;
  }

  private writer(target: WriteTarget, options: WriteOptions): Writer {
    return {
      manager: options.fieldManager,
      ...(options.subresource === undefined ? {} : { subresource: options.subresource }),
      apiVersion: apiVersionOf(target.resource),
      time: timestamp(this.registry.clock()),
    };
  }

  private invalid(target: WriteTarget, name: string, problems: FieldError[]): ApiError {
    return errors.invalid(target.resource.kind, refOf(target, name), problems);
  }
}
