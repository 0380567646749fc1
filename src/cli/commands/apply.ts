// `telex apply -f FILE|DIR|- [-R]`: creates or updates ExportPolicies and
// Secrets, printing `TYPE/NAME created|configured|unchanged` per object.
// Manifests are validated first; if any is invalid nothing is sent.
import { isDeepStrictEqual, parseArgs } from "node:util";
import { formatFieldError, validateObject } from "../../api/index.js";
import { KubeApiError } from "../../kube/index.js";
import { CONNECTION_FLAGS, withConnection } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { loadManifests } from "../manifests.js";
import { text } from "../printers.js";
import { resourceOfKind } from "../resources.js";

export const summary = "Create or update ExportPolicies and Secrets from manifests";

type Json = Record<string, unknown>;

const HELP = `Usage: telex apply -f FILE|DIR|- [-R] --project PROJECT [--server URL] [--token TOKEN] [-n NAMESPACE]

Validates every manifest first (nothing is sent if one is invalid), then
creates each object or updates it, printing created, configured or unchanged.
`;

/** The fields apply owns: what the user wrote, not what the server adds. */
function desiredFields(object: Json): Json {
  const metadata = (object["metadata"] ?? {}) as Json;
  const fields: Json = {
    metadata: { labels: metadata["labels"] ?? null, annotations: metadata["annotations"] ?? null },
  };
  for (const key of ["spec", "type", "data", "stringData", "immutable"]) {
    if (object[key] !== undefined) fields[key] = object[key];
  }
  return fields;
}

function unchanged(existing: Json, desired: Json): boolean {
  const meta = (existing["metadata"] ?? {}) as Json;
  const wanted = desiredFields(desired);
  const wantedMeta = wanted["metadata"] as Json;
  if (!isDeepStrictEqual(meta["labels"] ?? null, wantedMeta["labels"])) return false;
  if (!isDeepStrictEqual(meta["annotations"] ?? null, wantedMeta["annotations"])) return false;
  if (wanted["spec"] !== undefined && !isDeepStrictEqual(existing["spec"], wanted["spec"])) return false;
  if (wanted["type"] !== undefined && existing["type"] !== wanted["type"]) return false;
  const data = { ...((wanted["data"] ?? {}) as Json) };
  for (const [key, value] of Object.entries((wanted["stringData"] ?? {}) as Json)) {
    data[key] = Buffer.from(String(value)).toString("base64");
  }
  if (wanted["data"] !== undefined || wanted["stringData"] !== undefined) {
    if (!isDeepStrictEqual(existing["data"] ?? {}, data)) return false;
  }
  return true;
}

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      ...CONNECTION_FLAGS,
      filename: { type: "string", short: "f", multiple: true },
      recursive: { type: "boolean", short: "R", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const files = values.filename ?? [];
  if (files.length === 0) throw new UsageError("must give at least one -f FILE|DIR|-");
  return withConnection(values, io.stderr, async (connection) => {
    const entries = await loadManifests(files, { recursive: values.recursive, stdin: io.stdin });
    const objects: { object: Json; kind: "ExportPolicy" | "Secret" }[] = [];
    let invalid = false;
    for (const entry of entries) {
      if (entry.type === "problem") {
        io.stderr.write(
          `error: ${entry.source}${entry.position ? `:${entry.position.line}:${entry.position.column}` : ""}: ${entry.message}\n`,
        );
        invalid = true;
        continue;
      }
      const { kind, result } = validateObject(entry.object);
      if (!result.valid || kind === "unknown") {
        const name = ((entry.object as Json)["metadata"] as Json | undefined)?.["name"];
        io.stderr.write(
          `error: ${entry.source}: ${text((entry.object as Json)["kind"], "object")} ${JSON.stringify(name ?? "")} is invalid:\n`,
        );
        for (const error of result.errors) {
          const at = entry.locate(error.path);
          io.stderr.write(`  ${entry.source}:${at.line}:${at.column}: ${formatFieldError(error)}\n`);
        }
        invalid = true;
        continue;
      }
      // The defaulted object: compared with what the server stored, which is defaulted too.
      objects.push({ object: result.object, kind });
    }
    if (invalid) return EXIT.failure;
    for (const { object, kind } of objects) {
      const resource = resourceOfKind(kind);
      if (resource === undefined) continue;
      const metadata = object["metadata"] as Json;
      const name = text(metadata["name"]);
      const namespace =
        typeof metadata["namespace"] === "string" ? metadata["namespace"] : connection.namespace;
      const body = { ...object, metadata: { ...metadata, namespace } };
      let existing: Json | undefined;
      try {
        existing = await connection.client.request<Json>("GET", resource.object(namespace, name));
      } catch (error) {
        if (!(error instanceof KubeApiError && error.statusCode === 404)) throw error;
      }
      if (existing === undefined) {
        await connection.client.request("POST", resource.collection(namespace), { body });
        io.stdout.write(`${resource.display}/${name} created\n`);
      } else if (unchanged(existing, object)) {
        io.stdout.write(`${resource.display}/${name} unchanged\n`);
      } else {
        await connection.client.request("PATCH", resource.object(namespace, name), {
          contentType: "application/merge-patch+json",
          body: desiredFields(object),
        });
        io.stdout.write(`${resource.display}/${name} configured\n`);
      }
    }
    return EXIT.ok;
  });
}
