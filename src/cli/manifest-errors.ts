// How the verbs that read manifests (apply, preview, test-sink) report what
// is wrong with them: a source that could not be read, and an object that is
// invalid, each error at its line and column in the file.
import { formatFieldError, type FieldError } from "../api/index.js";
import type { ManifestDocument, ManifestProblem } from "./manifests.js";

/** `error: SOURCE[:LINE:COLUMN]: MESSAGE`, with its newline. */
export function problemReport(problem: ManifestProblem): string {
  const at = problem.position ? `:${problem.position.line}:${problem.position.column}` : "";
  return `error: ${problem.source}${at}: ${problem.message}\n`;
}

/** `error: SOURCE: WHAT is invalid:`, then each error at its place in the source. */
export function invalidReport(
  document: ManifestDocument,
  what: string,
  errors: readonly FieldError[],
): string {
  const lines = [`error: ${document.source}: ${what} is invalid:\n`];
  for (const error of errors) {
    const at = document.locate(error.path);
    lines.push(`  ${document.source}:${at.line}:${at.column}: ${formatFieldError(error)}\n`);
  }
  return lines.join("");
}
