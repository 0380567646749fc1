// `telex get exportpolicies|secrets [NAME] [-o wide|yaml|json|name] [-w]`.
import { parseArgs } from "node:util";
import type { KubeObject } from "../../kube/index.js";
import { CONNECTION_FLAGS, withConnection } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { formatObjects, formatTable, parseOutput, tableHeader, tableRow } from "../printers.js";
import { resourceNamed } from "../resources.js";

export const summary = "List ExportPolicies or Secrets, or show one; -w follows changes";

type Json = Record<string, unknown>;

const HELP = `Usage: telex get exportpolicies|secrets [NAME] [-o wide|yaml|json|name] [-w] --project PROJECT
                 [--server URL] [--token TOKEN] [-n NAMESPACE]
`;

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...CONNECTION_FLAGS,
      output: { type: "string", short: "o" },
      watch: { type: "boolean", short: "w", default: false },
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
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  const resource = resourceNamed(resourceName);
  let format;
  try {
    format = parseOutput(values.output);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return withConnection(values, io.stderr, async (connection) => {
    const wide = format === "wide";
    const objects =
      name === undefined
        ? ((
            await connection.client.request<{ items?: Json[] }>(
              "GET",
              resource.collection(connection.namespace),
            )
          ).items ?? [])
        : [await connection.client.request<Json>("GET", resource.object(connection.namespace, name))];
    if (format === "table" || format === "wide") {
      if (objects.length === 0 && !values.watch) {
        io.stderr.write(`No resources found in ${connection.namespace} namespace.\n`);
      } else {
        const now = Date.now();
        io.stdout.write(
          `${formatTable([tableHeader(resource, wide), ...objects.map((o) => tableRow(resource, o, wide, now))])}\n`,
        );
      }
    } else {
      io.stdout.write(formatObjects(resource, objects, format, name !== undefined));
    }
    if (values.watch) {
      const path = resource.collection(connection.namespace);
      for await (const event of connection.client.watch<KubeObject & Json>(path, {
        query: name === undefined ? {} : { fieldSelector: `metadata.name=${name}` },
      })) {
        if (event.type === "BOOKMARK" || event.type === "ERROR") continue;
        const object = event.object as Json;
        if (format === "table" || format === "wide") {
          io.stdout.write(
            `${formatTable([tableHeader(resource, wide), tableRow(resource, object, wide, Date.now())]).split("\n")[1] ?? ""}\n`,
          );
        } else {
          io.stdout.write(formatObjects(resource, [object], format, true));
        }
      }
    }
    return EXIT.ok;
  });
}
