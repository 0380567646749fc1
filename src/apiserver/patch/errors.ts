// A patch that cannot be applied to the object: 422, as Kubernetes answers.
export class PatchError extends Error {
  override readonly name = "PatchError";
}

/** A patch past one of the limits on the work it may cause: 413, as Kubernetes answers too many operations. */
export class PatchTooLargeError extends Error {
  override readonly name = "PatchTooLargeError";
}
