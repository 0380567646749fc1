// The arguments `telex test-sink` and `telex preview` share: one policy, from
// a manifest (-f FILE, optionally naming it) or stored (POLICY), and -o json|yaml.
import { UsageError } from "./io.js";

export interface PolicyArgs {
  /** The named policy ("" when a file's only policy is meant). */
  readonly policyName: string | undefined;
  readonly file: string | undefined;
  readonly output: "json" | "yaml" | undefined;
}

export function policyArgs(
  positionals: readonly string[],
  file: string | undefined,
  output: string | undefined,
): PolicyArgs {
  const [policyName, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`one policy at a time (got ${positionals.join(", ")})`);
  if (file === undefined && policyName === undefined) {
    throw new UsageError("name the policy: -f FILE (a manifest) or POLICY (a stored policy)");
  }
  if (output !== undefined && output !== "json" && output !== "yaml") {
    throw new UsageError(`unknown output format ${JSON.stringify(output)}: use json or yaml`);
  }
  return { policyName, file, output };
}
