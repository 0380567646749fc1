// Shared strings for an informer's cache. Objects parsed from JSON hold their
// own copy of every string: 10,000 cached ExportPolicies held 10,000 copies of
// their apiVersion, kind, namespace, finalizer, creation times (a burst of
// creates shares a few seconds), condition reasons and messages. Interned,
// each is held once: measured, 1.8 → 1.2 KB per cached policy.

/** Strings longer than this are kept as they come: long ones are rarely shared. */
const MAX_INTERNED_LENGTH = 256;
/** Distinct strings held at most (≤ 256 chars each: ≤ ~10 MB); past it new ones are kept as they come. */
const MAX_INTERNED_STRINGS = 20_000;

/** Metadata fields unique to each object: interning them would only fill the table. */
const UNIQUE_METADATA = new Set(["name", "uid", "resourceVersion"]);

export class StringInterner {
  readonly #strings = new Map<string, string>();

  constructor(private readonly limit = MAX_INTERNED_STRINGS) {}

  /** Distinct strings held. */
  get size(): number {
    return this.#strings.size;
  }

  intern(value: string): string {
    if (value.length > MAX_INTERNED_LENGTH) return value;
    const held = this.#strings.get(value);
    if (held !== undefined) return held;
    if (this.#strings.size < this.limit) this.#strings.set(value, value);
    return value;
  }

  /**
   * Replaces, in place, the string values of a JSON object (not its keys:
   * JSON.parse shares those already) with the held ones. The object must be
   * the caller's own, e.g. fresh from JSON.parse.
   */
  internObject<T extends object>(object: T): T {
    this.#walk(object, false);
    return object;
  }

  #walk(node: object, isMetadata: boolean): void {
    if (Array.isArray(node)) {
      const items = node as unknown[];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (typeof item === "string") items[i] = this.intern(item);
        else if (typeof item === "object" && item !== null) this.#walk(item, false);
      }
      return;
    }
    const fields = node as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (typeof value === "string") {
        if (!(isMetadata && UNIQUE_METADATA.has(key))) fields[key] = this.intern(value);
      } else if (typeof value === "object" && value !== null) {
        this.#walk(value, key === "metadata" && !isMetadata);
      }
    }
  }
}
