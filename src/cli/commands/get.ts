// `telex get exportpolicies|ep|secrets [NAME] [-o wide|yaml|json|name] [-w]`.
import { parseArgs } from "node:util";
import { yaml } from "../lazy-yaml.js";
import type { KubeObject, WatchEventType } from "../../kube/index.js";
import { CONNECTION_FLAGS, withConnection, type Connection } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import {
  StreamingTable,
  formatObjects,
  formatTable,
  parseOutput,
  tableHeader,
  tableRow,
  withoutManagedFields,
  type OutputFormat,
} from "../printers.js";
import { resourceNamed, type CliResource } from "../resources.js";

type Json = Record<string, unknown>;

const HELP = `Usage: telex get exportpolicies|ep|secrets [NAME] [-o wide|yaml|json|name] [-w] --project PROJECT
                 [--server URL] [--token TOKEN] [-n NAMESPACE]

  -w, --watch              after the current objects, print each change as it
                           happens (a deletion prints the object's last row)
  --output-watch-events    with -w, say which event each row is (ADDED,
                           MODIFIED, DELETED)
  --show-managed-fields    keep metadata.managedFields in -o yaml and -o json
`;

interface ListResult {
  readonly objects: Json[];
  /** Where a watch picks up so that it neither repeats nor misses a change. */
  readonly resourceVersion: string | undefined;
}

async function list(
  connection: Connection,
  resource: CliResource,
  name: string | undefined,
): Promise<ListResult> {
  const response = await connection.client.request<{
    items?: Json[];
    metadata?: { resourceVersion?: string };
  }>("GET", resource.collection(connection.namespace), {
    query: name === undefined ? {} : { fieldSelector: `metadata.name=${name}` },
  });
  const objects = response.items ?? [];
  if (name !== undefined && objects.length === 0) {
    // The server's own NotFound, worded as `get NAME` words it.
    const object = await connection.client.request<Json>("GET", resource.object(connection.namespace, name));
    const metadata = object["metadata"] as { resourceVersion?: string } | undefined;
    return { objects: [object], resourceVersion: metadata?.resourceVersion };
  }
  return { objects, resourceVersion: response.metadata?.resourceVersion };
}

/** Prints objects, and then watch events, the way `kubectl get -w` does for each format. */
class WatchPrinter {
  private readonly table: StreamingTable;
  private documents = 0;

  constructor(
    private readonly resource: CliResource,
    private readonly format: OutputFormat,
    private readonly events: boolean,
    private readonly showManagedFields: boolean,
  ) {
    const wide = format === "wide";
    this.table = new StreamingTable(
      [...(events ? ["EVENT"] : []), ...tableHeader(resource, wide)],
      events ? ["MODIFIED".length] : [],
    );
  }

  print(entries: readonly { readonly type: WatchEventType; readonly object: Json }[]): string {
    const format = this.format;
    if (format === "table" || format === "wide") {
      const now = Date.now();
      return this.table.print(
        entries.map(({ type, object }) => [
          ...(this.events ? [type] : []),
          ...tableRow(this.resource, object, format === "wide", now),
        ]),
      );
    }
    if (format === "name") {
      return formatObjects(
        this.resource,
        entries.map((e) => e.object),
        "name",
        { single: false },
      );
    }
    return entries
      .map(({ type, object }) => {
        const shown = this.showManagedFields ? object : withoutManagedFields(object);
        const value = this.events ? { type, object: shown } : shown;
        // kubectl separates YAML documents with ---; JSON objects simply follow one another.
        if (format === "json") return `${JSON.stringify(value, null, 4)}\n`;
        return `${this.documents++ > 0 ? "---\n" : ""}${yaml().stringify(value)}`;
      })
      .join("");
  }
}

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...CONNECTION_FLAGS,
      output: { type: "string", short: "o" },
      watch: { type: "boolean", short: "w", default: false },
      "output-watch-events": { type: "boolean", default: false },
      "show-managed-fields": { type: "boolean", default: false },
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
  const showManagedFields = values["show-managed-fields"];
  return withConnection(values, io.stderr, async (connection) => {
    const wide = format === "wide";
    if (!values.watch) {
      const objects =
        name === undefined
          ? (await list(connection, resource, undefined)).objects
          : [await connection.client.request<Json>("GET", resource.object(connection.namespace, name))];
      if (format !== "table" && format !== "wide") {
        io.stdout.write(
          formatObjects(resource, objects, format, { single: name !== undefined, showManagedFields }),
        );
      } else if (objects.length === 0) {
        io.stderr.write(`No resources found in ${connection.namespace} namespace.\n`);
      } else {
        const now = Date.now();
        io.stdout.write(
          `${formatTable([tableHeader(resource, wide), ...objects.map((o) => tableRow(resource, o, wide, now))])}\n`,
        );
      }
      return EXIT.ok;
    }
    const printer = new WatchPrinter(resource, format, values["output-watch-events"], showManagedFields);
    const { objects, resourceVersion } = await list(connection, resource, name);
    io.stdout.write(printer.print(objects.map((object) => ({ type: "ADDED", object }))));
    // From the list's resourceVersion: without one the server would replay every object as ADDED.
    for await (const event of connection.client.watch<KubeObject & Json>(
      resource.collection(connection.namespace),
      {
        query: {
          ...(resourceVersion === undefined ? {} : { resourceVersion }),
          ...(name === undefined ? {} : { fieldSelector: `metadata.name=${name}` }),
        },
      },
    )) {
      if (event.type === "BOOKMARK") continue;
      if (event.type === "ERROR") {
        const status = event.object as { message?: unknown };
        io.stderr.write(
          `error: the watch ended: ${typeof status.message === "string" ? status.message : "ERROR"}\n`,
        );
        return EXIT.failure;
      }
      io.stdout.write(printer.print([{ type: event.type, object: event.object }]));
    }
    return EXIT.ok;
  });
}
