// Errors the store reports to its callers.

/** A watch or continue token asked for history the event log no longer holds. */
export class ResourceExpiredError extends Error {
  override readonly name = "ResourceExpiredError";
  constructor(
    readonly requested: number,
    readonly oldest: number,
  ) {
    super(`too old resource version: ${requested} (${oldest})`);
  }
}
