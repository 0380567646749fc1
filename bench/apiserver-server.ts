// The resource API alone, as a child process for bench/apiserver.ts: the
// server gets its own core and no other component's work (controller,
// exporter) is measured with it. Prints the same line as `telex serve`.
import { startApiServer } from "../src/apiserver/index.js";

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error("usage: apiserver-server.js DATA_DIR");
const api = await startApiServer({ listen: "127.0.0.1:0", dataDir });
process.stdout.write(`api: listening on ${api.url}\n`);
process.once("SIGTERM", () => {
  void api.stop().then(() => process.exit(0));
});
