// `telex serve`: the server side. Its parts (resource API, controller,
// exporter, ingest) are built by later issues; until then it says so plainly.
import { EXIT, type CommandIO } from "../io.js";

export const summary = "Run the Telex server (not built yet: resource API, controller, exporter)";

export function run(_args: readonly string[], io: CommandIO): number {
  io.stderr.write(
    "telex serve: the server side is not built yet (resource API, controller and exporter are planned work).\n" +
      "Available today: telex validate, telex explain.\n",
  );
  return EXIT.failure;
}
