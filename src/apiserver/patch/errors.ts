// A patch that cannot be applied to the object: 422, as Kubernetes answers.
export class PatchError extends Error {
  override readonly name = "PatchError";
}
