// How client commands reach a project's control plane: --server, --project,
// --token, --namespace, with defaults from a config file
// ($TELEX_CONFIG or ~/.config/telex/config.yaml: `server:`, `project:`,
// `token:`), and errors worded for a person.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { yaml } from "./lazy-yaml.js";
import { KubeApiError, KubeClient } from "../kube/client.js";
import { EXIT, UsageError } from "./io.js";

export const DEFAULT_SERVER = "http://127.0.0.1:6443";

/** How the CLI's writes are named in metadata.managedFields (else they would be `unknown`'s). */
export const FIELD_MANAGER = "telex";

/** parseArgs options every client command accepts. */
export const CONNECTION_FLAGS = {
  server: { type: "string" },
  project: { type: "string" },
  token: { type: "string" },
  namespace: { type: "string", short: "n" },
} as const;

export interface ConnectionFlags {
  readonly server?: string | undefined;
  readonly project?: string | undefined;
  readonly token?: string | undefined;
  readonly namespace?: string | undefined;
}

export interface Connection {
  readonly client: KubeClient;
  /** The project's control plane URL, for messages. */
  readonly url: string;
  readonly server: string;
  readonly project: string;
  readonly namespace: string;
}

interface ConfigFile {
  readonly server?: string;
  readonly project?: string;
  readonly token?: string;
}

function readConfig(): ConfigFile {
  const path = process.env["TELEX_CONFIG"] ?? join(homedir(), ".config", "telex", "config.yaml");
  try {
    // Read first: without a config file yaml is never loaded.
    const source = readFileSync(path, "utf8");
    const document = yaml().parse(source) as unknown;
    if (typeof document !== "object" || document === null) return {};
    const record = document as Record<string, unknown>;
    const text = (key: string) => (typeof record[key] === "string" ? record[key] : undefined);
    return {
      ...(text("server") === undefined ? {} : { server: text("server") }),
      ...(text("project") === undefined ? {} : { project: text("project") }),
      ...(text("token") === undefined ? {} : { token: text("token") }),
    };
  } catch {
    return {};
  }
}

/** Where a project's control plane is: the flags, else the config file, else the defaults. */
export interface Target {
  readonly server: string;
  readonly project: string;
  readonly token: string | undefined;
  /** The project's control plane URL, what kubectl's `--server` takes. */
  readonly url: string;
}

export function resolveTarget(flags: Omit<ConnectionFlags, "namespace">): Target {
  const config = readConfig();
  const project = flags.project ?? config.project;
  if (project === undefined)
    throw new UsageError("--project is required (or set project: in the config file)");
  const server = (flags.server ?? config.server ?? DEFAULT_SERVER).replace(/\/+$/, "");
  const token = flags.token ?? config.token;
  const url = `${server}/apis/resourcemanager.miloapis.com/v1alpha1/projects/${encodeURIComponent(project)}/control-plane`;
  return { server, project, token, url };
}

export function connect(flags: ConnectionFlags, onWarning?: (text: string) => void): Connection {
  const { server, project, token, url } = resolveTarget(flags);
  return {
    client: new KubeClient({
      server: url,
      tls: { rejectUnauthorized: true },
      authorization: () => (token === undefined ? undefined : `Bearer ${token}`),
      ...(onWarning === undefined ? {} : { onWarning }),
    }),
    url,
    server,
    project,
    namespace: flags.namespace ?? "default",
  };
}

/** A failed request as one or two lines a person can act on. */
export function explainFailure(error: unknown, connection: Connection): string {
  if (error instanceof KubeApiError) {
    if (error.statusCode === 401) {
      return `error: the server at ${connection.server} refused the credentials (401 Unauthorized): pass --token or set token: in the config file`;
    }
    if (error.statusCode === 403) {
      return `error: not allowed in project ${connection.project} (403 Forbidden): ${error.status.message ?? ""}`;
    }
    const causes = (error.status as { details?: { causes?: { field?: string; message?: string }[] } }).details
      ?.causes;
    if (causes !== undefined && causes.length > 0) {
      return `error: ${error.status.message ?? error.message}\n${causes.map((c) => `  ${c.field ?? ""}: ${c.message ?? ""}`).join("\n")}`;
    }
    return `error: ${error.status.message ?? error.message}`;
  }
  const code = (error as { code?: unknown }).code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return `error: cannot reach the Telex API at ${connection.server} (${code}).\nIs a server running? Start one with \`npm start\` or \`telex serve\`, or pass --server.`;
  }
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Connects, runs the command's requests, and turns any failure into a
 * message and exit status 1; the connection is always closed.
 */
export async function withConnection(
  flags: ConnectionFlags,
  stderr: { write(text: string): unknown },
  action: (connection: Connection) => Promise<number>,
): Promise<number> {
  // As kubectl: the server's warnings (unknown fields, unused sources…) on stderr.
  const connection = connect(flags, (text) => stderr.write(`Warning: ${text}\n`));
  try {
    return await action(connection);
  } catch (error) {
    stderr.write(`${explainFailure(error, connection)}\n`);
    return EXIT.failure;
  } finally {
    await connection.client.close();
  }
}
