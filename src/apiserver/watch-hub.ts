// Fan-out of committed changes to open watches. The store calls in
// synchronously after each commit; every watch whose scope and selectors
// match gets the event, translated Kubernetes-style when a change moves an
// object into (ADDED) or out of (DELETED) a selector.
import { inScope, type JsonObject, type ObjectStore, type Scope, type StoreEvent } from "../store/index.js";
import type { ObjectFilter } from "./registry.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface Watch {
  readonly scope: Scope;
  readonly matches: ObjectFilter;
  /** Receives one event; the watch ends itself when its client falls too far behind. */
  deliver(type: WatchEventType, event: StoreEvent): void;
}

/** What a watch should see of a change, given whether the object matched before and after. */
export function translate(
  event: StoreEvent,
  previous: JsonObject | undefined,
  matches: ObjectFilter,
): WatchEventType | undefined {
  const now = matches(event.object);
  if (event.type === "DELETED") return now ? "DELETED" : undefined;
  if (event.type === "ADDED" || previous === undefined) return now ? event.type : undefined;
  const before = matches(previous);
  if (before && now) return "MODIFIED";
  if (now) return "ADDED";
  if (before) return "DELETED";
  return undefined;
}

export class WatchHub {
  /** Watches by resource, so a change only visits the watches of its kind. */
  readonly #byResource = new Map<string, Set<Watch>>();
  readonly #unsubscribe: () => void;

  constructor(store: ObjectStore) {
    this.#unsubscribe = store.subscribeDurable((event, previous) => {
      this.#dispatch(event, previous);
    });
  }

  add(watch: Watch): () => void {
    let set = this.#byResource.get(watch.scope.resource);
    if (set === undefined) {
      set = new Set();
      this.#byResource.set(watch.scope.resource, set);
    }
    set.add(watch);
    return () => {
      set.delete(watch);
    };
  }

  get size(): number {
    let n = 0;
    for (const set of this.#byResource.values()) n += set.size;
    return n;
  }

  close(): void {
    this.#unsubscribe();
    this.#byResource.clear();
  }

  #dispatch(event: StoreEvent, previous: JsonObject | undefined): void {
    const watches = this.#byResource.get(event.key.resource);
    if (watches === undefined) return;
    for (const watch of [...watches]) {
      if (!inScope(event.key, watch.scope)) continue;
      const type = translate(event, previous, watch.matches);
      if (type === undefined) continue;
      try {
        watch.deliver(type, event);
      } catch {
        // A broken watch must not fail the write that was already committed: drop it.
        watches.delete(watch);
      }
    }
  }
}
