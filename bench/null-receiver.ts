// A Remote Write receiver that accepts everything and keeps nothing, run as
// its own process by benchmarks that open more connections than one process
// may hold files for. Prints `ready <url>`; on SIGTERM prints how many
// requests and connections it saw and exits.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

let requests = 0;
let connections = 0;
const server = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    requests++;
    response.writeHead(204).end();
  });
});
server.on("connection", () => {
  connections++;
});
server.keepAliveTimeout = 120_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  console.log(`ready http://127.0.0.1:${port}/api/v1/write`);
});
process.on("SIGTERM", () => {
  console.log(`requests ${requests} connections ${connections}`);
  process.exit(0);
});
