// `telex delete exportpolicy|secret NAME`: deletes, and waits (like kubectl)
// until the object is gone — an ExportPolicy stays until the controller has
// torn its pipelines down and removed its finalizer.
import { parseArgs } from "node:util";
import { KubeApiError } from "../../kube/client.js";
import { CONNECTION_FLAGS, withConnection } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { resourceNamed } from "../resources.js";

const HELP = `Usage: telex delete exportpolicy|secret NAME [--wait=false] [--timeout 60s] --project PROJECT
                    [--server URL] [--token TOKEN] [-n NAMESPACE]
`;

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...CONNECTION_FLAGS,
      wait: { type: "string", default: "true" },
      timeout: { type: "string", default: "60" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const [resourceName, name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError("give one resource type and one NAME");
  const resource = resourceNamed(resourceName);
  const timeoutSeconds = Number(values.timeout.replace(/s$/, ""));
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
    throw new UsageError("--timeout takes seconds, e.g. 60s");
  return withConnection(values, io.stderr, async (connection) => {
    const path = resource.object(connection.namespace, name);
    await connection.client.request("DELETE", path);
    if (values.wait !== "false") {
      const deadline = Date.now() + timeoutSeconds * 1000;
      for (;;) {
        try {
          await connection.client.request("GET", path);
        } catch (error) {
          if (error instanceof KubeApiError && error.statusCode === 404) break;
          throw error;
        }
        if (Date.now() > deadline) {
          io.stderr.write(
            `error: ${resource.display} "${name}" still present after ${timeoutSeconds}s (finalizers pending)\n`,
          );
          return EXIT.failure;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    io.stdout.write(`${resource.display} "${name}" deleted\n`);
    return EXIT.ok;
  });
}
