// Events expire an hour after they last occurred, as with Kubernetes'
// default --event-ttl, so a controller's steady trickle of events does not
// grow the store forever. A project's old events are swept while it records
// new ones (no timer): a quiet project keeps its last events until then.
import type { ObjectStore } from "../store/index.js";
import { stringAt } from "./json.js";
import { metadataOf } from "./metadata.js";
import { events } from "./resources.js";

export const EVENT_TTL_MS = 60 * 60 * 1000;
/** Sweep a project's events once per this many events it records. */
export const SWEEP_EVERY = 64;

/** Deletes (with DELETED watch events) the project's events last seen before `now - EVENT_TTL_MS`. */
export function expireEvents(store: ObjectStore, project: string, now: Date): number {
  const cutoff = now.getTime() - EVENT_TTL_MS;
  let expired = 0;
  for (const item of store.list({ resource: events.plural, project })) {
    const seen =
      stringAt(item.object, "lastTimestamp") ??
      stringAt(item.object, "eventTime") ??
      metadataOf(item.object).creationTimestamp;
    const at = seen === undefined ? Number.NaN : Date.parse(seen);
    if (!Number.isNaN(at) && at < cutoff) {
      store.commit("DELETED", item.key, item.object);
      expired++;
    }
  }
  return expired;
}
