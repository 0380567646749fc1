// `telex apply -f FILE|DIR|- [-R]`: creates or updates ExportPolicies and
// Secrets, printing `TYPE/NAME created|configured|unchanged` per object.
// Manifests are validated first; if any is invalid nothing is sent.
import { isDeepStrictEqual, parseArgs } from "node:util";
import { validateObject } from "../../api/index.js";
import { invalidReport, problemReport } from "../manifest-errors.js";
import { KubeApiError } from "../../kube/client.js";
import { CONNECTION_FLAGS, FIELD_MANAGER, withConnection } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { loadManifests } from "../manifests.js";
import { text } from "../printers.js";
import { resourceOfKind } from "../resources.js";

type Json = Record<string, unknown>;

const HELP = `Usage: telex apply -f FILE|DIR|- [-R] [--dry-run=server] --project PROJECT [--server URL] [--token TOKEN] [-n NAMESPACE]

Validates every manifest first (nothing is sent if one is invalid), then
creates each object or updates it, printing created, configured or unchanged.
Records the manifest in the kubectl.kubernetes.io/last-applied-configuration
annotation, as \`kubectl apply\` does, so either tool can apply next: labels,
annotations and Secret keys a previous apply set and the manifest no longer
has are removed; those others added are kept.

--dry-run=server sends every request as a dry run: the server validates and
answers as it would, stores nothing, and for each ExportPolicy warns with its
preview (see \`telex preview\`): how many series of the project each source
matches now, and what each sink would receive per minute.
`;

/** Where kubectl's client-side apply keeps the manifest it applied last, for its three-way merge. */
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

const record = (value: unknown): Json =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, inner]) => [key, sortedKeys(inner)]));
}

/**
 * The annotation kubectl apply would write for this manifest, byte for byte:
 * the manifest as written (not defaulted) with its namespace, without status
 * and without the annotation itself (leaving `annotations: {}` when it was the
 * only one), as Go's encoder prints it: sorted keys, <, > and & escaped, one
 * line and a newline. Byte equality is what lets a later `kubectl apply` of
 * the same file find nothing to change.
 */
export function lastAppliedConfiguration(manifest: Json, namespace: string): string {
  const { status: _status, ...object } = manifest;
  const metadata = record(object["metadata"]);
  const { [LAST_APPLIED]: _previous, ...annotations } = record(metadata["annotations"]);
  const applied = {
    ...object,
    metadata: { ...metadata, namespace: metadata["namespace"] ?? namespace, annotations },
  };
  const json = JSON.stringify(sortedKeys(applied)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `${json}\n`;
}

/** What the last apply (telex's or kubectl's) recorded, if it can be read. */
function previouslyApplied(existing: Json): Json {
  const annotation = record(record(existing["metadata"])["annotations"])[LAST_APPLIED];
  if (typeof annotation !== "string") return {};
  try {
    return record(JSON.parse(annotation));
  } catch {
    return {};
  }
}

/**
 * A map's merge patch, as kubectl apply computes it: the manifest's entries,
 * and null for those the previous apply set that the manifest no longer has.
 * Entries others added (kubectl label, a controller) are left alone.
 */
function mapPatch(wanted: Json, stored: Json, applied: Json): Json {
  const patch: Json = { ...wanted };
  for (const key of Object.keys(applied)) if (!(key in wanted) && key in stored) patch[key] = null;
  return patch;
}

const mapUnchanged = (patch: Json, stored: Json): boolean =>
  Object.entries(patch).every(([key, value]) =>
    value === null ? !(key in stored) : isDeepStrictEqual(stored[key], value),
  );

/** A Secret's entries as stored: stringData folded into data, base64-encoded. */
function secretData(object: Json): Json | undefined {
  if (object["data"] === undefined && object["stringData"] === undefined) return undefined;
  const data = { ...record(object["data"]) };
  for (const [key, value] of Object.entries(record(object["stringData"]))) {
    data[key] = Buffer.from(String(value)).toString("base64");
  }
  return data;
}

/**
 * The merge patch that makes the stored object what the manifest says:
 * labels, annotations (with the last-applied one), spec, and a Secret's
 * type, data and immutability. `desired` is the defaulted manifest, `manifest`
 * the one as written.
 */
function applyPatch(desired: Json, manifest: Json, existing: Json | undefined, namespace: string): Json {
  const metadata = record(desired["metadata"]);
  const stored = record(existing?.["metadata"]);
  const applied = existing === undefined ? {} : previouslyApplied(existing);
  const appliedMetadata = record(applied["metadata"]);
  const annotations = {
    ...record(metadata["annotations"]),
    [LAST_APPLIED]: lastAppliedConfiguration(manifest, namespace),
  };
  const labels = mapPatch(
    record(metadata["labels"]),
    record(stored["labels"]),
    record(appliedMetadata["labels"]),
  );
  const patch: Json = {
    metadata: {
      // No empty map: a merge patch would store `labels: {}` where there were none.
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      annotations: mapPatch(
        annotations,
        record(stored["annotations"]),
        record(appliedMetadata["annotations"]),
      ),
    },
  };
  for (const key of ["spec", "type", "immutable"]) {
    if (desired[key] !== undefined) patch[key] = desired[key];
  }
  const data = secretData(desired);
  if (data !== undefined) {
    const appliedKeys = { ...record(applied["data"]), ...record(applied["stringData"]) };
    patch["data"] = mapPatch(data, record(existing?.["data"]), appliedKeys);
  }
  return patch;
}

function unchanged(existing: Json, patch: Json): boolean {
  const metadata = record(patch["metadata"]);
  const stored = record(existing["metadata"]);
  if (!mapUnchanged(record(metadata["labels"]), record(stored["labels"]))) return false;
  if (!mapUnchanged(record(metadata["annotations"]), record(stored["annotations"]))) return false;
  for (const key of ["spec", "type", "immutable"]) {
    if (patch[key] !== undefined && !isDeepStrictEqual(existing[key], patch[key])) return false;
  }
  return patch["data"] === undefined || mapUnchanged(record(patch["data"]), record(existing["data"]));
}

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      ...CONNECTION_FLAGS,
      filename: { type: "string", short: "f", multiple: true },
      recursive: { type: "boolean", short: "R", default: false },
      "dry-run": { type: "string" },
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
  const dryRunFlag = values["dry-run"] ?? "none";
  if (dryRunFlag !== "none" && dryRunFlag !== "server") {
    throw new UsageError(
      `--dry-run=${dryRunFlag} is not supported: use --dry-run=server (the server checks and previews, storing nothing) or --dry-run=none`,
    );
  }
  const dryRun = dryRunFlag === "server";
  const done = (what: string) => (dryRun ? `${what} (server dry run)` : what);
  return withConnection(values, io.stderr, async (connection) => {
    const entries = await loadManifests(files, { recursive: values.recursive, stdin: io.stdin });
    const objects: { object: Json; manifest: Json; kind: "ExportPolicy" | "Secret" }[] = [];
    let invalid = false;
    for (const entry of entries) {
      if (entry.type === "problem") {
        io.stderr.write(problemReport(entry));
        invalid = true;
        continue;
      }
      const { kind, result } = validateObject(entry.object);
      if (!result.valid || kind === "unknown") {
        const name = ((entry.object as Json)["metadata"] as Json | undefined)?.["name"];
        io.stderr.write(
          invalidReport(
            entry,
            `${text((entry.object as Json)["kind"], "object")} ${JSON.stringify(name ?? "")}`,
            result.errors,
          ),
        );
        invalid = true;
        continue;
      }
      // The defaulted object: compared with what the server stored, which is defaulted too.
      objects.push({ object: result.object, manifest: entry.object as Json, kind });
    }
    if (invalid) return EXIT.failure;
    for (const { object, manifest, kind } of objects) {
      const resource = resourceOfKind(kind);
      if (resource === undefined) continue;
      const metadata = object["metadata"] as Json;
      const name = text(metadata["name"]);
      const namespace =
        typeof metadata["namespace"] === "string" ? metadata["namespace"] : connection.namespace;
      const query = { fieldManager: FIELD_MANAGER, ...(dryRun ? { dryRun: "All" } : {}) };
      let existing: Json | undefined;
      try {
        existing = await connection.client.request<Json>("GET", resource.object(namespace, name));
      } catch (error) {
        if (!(error instanceof KubeApiError && error.statusCode === 404)) throw error;
      }
      const patch = applyPatch(object, manifest, existing, namespace);
      if (existing === undefined) {
        const annotations = (patch["metadata"] as Json)["annotations"];
        const body = { ...object, metadata: { ...metadata, namespace, annotations } };
        await connection.client.request("POST", resource.collection(namespace), { query, body });
        io.stdout.write(`${resource.display}/${name} ${done("created")}\n`);
      } else if (unchanged(existing, patch)) {
        // A dry run still asks the server about an unchanged policy: its answer carries the preview.
        if (dryRun && kind === "ExportPolicy")
          await connection.client.request("PATCH", resource.object(namespace, name), {
            query,
            contentType: "application/merge-patch+json",
            body: {},
          });
        io.stdout.write(`${resource.display}/${name} ${done("unchanged")}\n`);
      } else {
        await connection.client.request("PATCH", resource.object(namespace, name), {
          query,
          contentType: "application/merge-patch+json",
          body: patch,
        });
        io.stdout.write(`${resource.display}/${name} ${done("configured")}\n`);
      }
    }
    return EXIT.ok;
  });
}
