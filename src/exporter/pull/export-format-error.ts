/** The store answered with something that is not the export format; the window is retried. */
export class ExportFormatError extends Error {
  override readonly name = "ExportFormatError";
}
