// Public face of the store module: durable objects and their change log.
export { ResourceExpiredError } from "./errors.js";
export { ObjectStore, StoreFailedError } from "./object-store.js";
export type { ListCursor, ObjectStoreOptions, StoreListener } from "./object-store.js";
export { DatabaseLockedError } from "./sqlite.js";
export type { Synchronous } from "./sqlite.js";
export { inScope } from "./types.js";
export type { ChangeType, JsonObject, ObjectKey, Scope, StoreEvent, StoredObject } from "./types.js";
