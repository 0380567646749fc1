// Reads: get and paged, filtered lists; and the projects' bootstrap (every
// project has the `default` namespace from its first use on).
import { randomUUID } from "node:crypto";
import { DEFAULTS } from "../api/index.js";
import type { JsonObject, ObjectStore, StoredObject } from "../store/index.js";
import { timestamp, type Clock } from "./clock.js";
import { labelsOf } from "./metadata.js";
import { fieldLabelsOf, fieldValue, namespaces } from "./resources.js";
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  pinnedName,
} from "./selectors.js";
import { errors } from "./status.js";
import { objectKey, refOf, type Target, type WriteTarget } from "./target.js";

export interface ListOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continueToken?: string;
}

export interface ListResult {
  readonly items: readonly StoredObject[];
  readonly resourceVersion: number;
  readonly continueToken?: string;
}

interface ContinueState {
  readonly rv: number;
  readonly project: string;
  readonly namespace: string;
  readonly name: string;
}

/** Rows read per batch while filtering a list. */
const LIST_BATCH = 500;

export type ObjectFilter = (object: JsonObject) => boolean;

export class Registry {
  readonly #knownProjects = new Set<string>();

  constructor(
    readonly store: ObjectStore,
    readonly clock: Clock,
  ) {}

  /** Creates the project's `default` namespace on first use. */
  ensureProject(project: string): void {
    if (this.#knownProjects.has(project)) return;
    const key = { resource: namespaces.plural, project, namespace: "", name: DEFAULTS.namespace };
    if (this.store.get(key) === undefined) {
      this.store.commit("ADDED", key, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: DEFAULTS.namespace, uid: randomUUID(), creationTimestamp: timestamp(this.clock()) },
        spec: {},
        status: { phase: "Active" },
      });
    }
    this.#knownProjects.add(project);
  }

  find(target: WriteTarget, name: string): StoredObject | undefined {
    return this.store.get(objectKey(target, name));
  }

  get(target: WriteTarget, name: string): StoredObject {
    const found = this.find(target, name);
    if (found === undefined) throw errors.notFound(refOf(target, name));
    return found;
  }

  /** A predicate for the list's label and field selectors (400 when they do not parse). */
  filter(
    target: Target,
    options: Pick<ListOptions, "labelSelector" | "fieldSelector">,
  ): {
    readonly matches: ObjectFilter;
    readonly name: string | undefined;
  } {
    const labels = parseLabelSelector(options.labelSelector);
    const fields = parseFieldSelector(options.fieldSelector, fieldLabelsOf(target.resource));
    const nameSelected = pinnedName(fields);
    const matches: ObjectFilter = (object) =>
      matchesLabels(labels, labelsOf(object)) &&
      matchesFields(fields, (f) => fieldValue(target.resource, object, f));
    return { matches, name: nameSelected };
  }

  list(target: Target, options: ListOptions): ListResult {
    const { matches, name } = this.filter(target, options);
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : undefined;
    const state = options.continueToken === undefined ? undefined : decodeContinue(options.continueToken);
    if (state !== undefined && state.rv < this.store.oldestResumableVersion) {
      throw errors.expired(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
      );
    }
    const scope = {
      resource: target.resource.plural,
      ...(target.project === undefined ? {} : { project: target.project }),
      ...(target.namespace === undefined || !target.resource.namespaced
        ? {}
        : { namespace: target.namespace }),
      ...(name === undefined ? {} : { name }),
    };
    const rv = state?.rv ?? this.store.resourceVersion;
    const items: StoredObject[] = [];
    let cursor = state;
    for (;;) {
      const batch = this.store.list(scope, {
        ...(cursor === undefined ? {} : { after: cursor }),
        limit: limit === undefined ? -1 : Math.max(LIST_BATCH, limit + 1),
      });
      for (const item of batch) {
        cursor = { rv, ...item.key };
        if (matches(item.object)) items.push(item);
        if (limit !== undefined && items.length > limit) break;
      }
      if (limit === undefined || items.length > limit || batch.length === 0 || name !== undefined) break;
    }
    if (limit !== undefined && items.length > limit) {
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      const next = last === undefined ? undefined : encodeContinue({ rv, ...last.key });
      return { items: page, resourceVersion: rv, ...(next === undefined ? {} : { continueToken: next }) };
    }
    return { items, resourceVersion: rv };
  }
}

function encodeContinue(state: ContinueState): string {
  return Buffer.from(
    JSON.stringify({ v: 1, rv: state.rv, p: state.project, ns: state.namespace, n: state.name }),
  ).toString("base64url");
}

function decodeContinue(token: string): ContinueState {
  try {
    const raw = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Record<string, unknown>;
    const { rv, p, ns, n } = raw;
    if (
      Number.isSafeInteger(rv) &&
      typeof rv === "number" &&
      rv >= 0 &&
      typeof p === "string" &&
      typeof ns === "string" &&
      typeof n === "string"
    ) {
      return { rv, project: p, namespace: ns, name: n };
    }
  } catch {
    // Falls through to the error below.
  }
  throw errors.badRequest("invalid continue token");
}
