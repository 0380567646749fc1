// Where the controller's Kubernetes API is and how to authenticate: from a
// kubeconfig file (the current or a named context) or from the in-cluster
// service account. Hand-written rather than taken from @kubernetes/client-node,
// whose loader comes with some twenty transitive packages (websockets, tar,
// OpenID) for features the controller does not use; this covers tokens, token
// files, client certificates, CA bundles, basic auth and exec credential
// plugins.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import type { KubeStatus } from "./client.js";

export interface TlsSettings {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
}

export interface ClusterConnection {
  /** Base URL every API path is appended to (may include a path prefix). */
  readonly server: string;
  readonly tls: TlsSettings;
  /** The Authorization header, computed per request (tokens rotate). */
  authorization(): string | undefined;
  /** The context's default namespace, if any. */
  readonly namespace?: string;
  /** Told each `Warning` header text an answer carries (kubectl prints them as `Warning: …`). */
  readonly onWarning?: (text: string) => void;
  /**
   * The API server when it runs in this process: it answers the writes it
   * can without HTTP (see apiserver/local.ts); everything else, and every
   * write it declines, goes to `server`.
   */
  readonly inProcess?: InProcessRequests;
}

/** One request to an API server in this process: the path below the server URL, as over HTTP. */
export interface InProcessRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly contentType: string | undefined;
}

export type InProcessAnswer =
  | {
      readonly ok: true;
      readonly code: number;
      readonly object: unknown;
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly code: number; readonly status: KubeStatus };

/** Answers a request in this process, or undefined: it goes over HTTP. */
export type InProcessRequests = (request: InProcessRequest) => Promise<InProcessAnswer | undefined>;

export class KubeconfigError extends Error {
  override readonly name = "KubeconfigError";
}

type Json = Record<string, unknown>;

const asRecord = (value: unknown): Json =>
  typeof value === "object" && value !== null ? (value as Json) : {};
const asString = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

function named(list: unknown, name: string, kind: string, source: string): Json {
  const entry = (Array.isArray(list) ? list : []).map(asRecord).find((item) => item["name"] === name);
  if (entry === undefined) throw new KubeconfigError(`${source}: no ${kind} named ${JSON.stringify(name)}`);
  return asRecord(entry[kind]);
}

/** Inline base64 data wins over a file path, as kubectl does; paths are relative to the kubeconfig. */
function material(entry: Json, field: string, base: string): string | undefined {
  const data = asString(entry[`${field}-data`]);
  if (data !== undefined) return Buffer.from(data, "base64").toString("utf8");
  const path = asString(entry[field]);
  if (path === undefined) return undefined;
  return readFileSync(isAbsolute(path) ? path : join(base, path), "utf8");
}

interface ExecToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

/** Runs an exec credential plugin (client.authentication.k8s.io) and returns its token. */
function execPlugin(exec: Json): () => string {
  const command = asString(exec["command"]);
  if (command === undefined) throw new KubeconfigError("exec credential plugin without a command");
  const args = (Array.isArray(exec["args"]) ? exec["args"] : []).filter(
    (a): a is string => typeof a === "string",
  );
  const env = { ...process.env };
  for (const item of Array.isArray(exec["env"]) ? exec["env"] : []) {
    const { name, value } = asRecord(item);
    if (typeof name === "string" && typeof value === "string") env[name] = value;
  }
  let cached: ExecToken | undefined;
  return () => {
    if (cached !== undefined && cached.expiresAtMs > Date.now() + 10_000) return cached.token;
    const output = execFileSync(command, args, { env, encoding: "utf8", timeout: 30_000 });
    const status = asRecord(asRecord(JSON.parse(output) as unknown)["status"]);
    const token = asString(status["token"]);
    if (token === undefined) throw new KubeconfigError(`exec plugin ${command} returned no token`);
    const expiry = asString(status["expirationTimestamp"]);
    cached = { token, expiresAtMs: expiry === undefined ? Infinity : Date.parse(expiry) };
    return token;
  };
}

function authorizationOf(user: Json, base: string): () => string | undefined {
  const token = asString(user["token"]);
  if (token !== undefined) return () => `Bearer ${token}`;
  const tokenFile = asString(user["tokenFile"]);
  if (tokenFile !== undefined) {
    const path = isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile);
    return () => `Bearer ${readFileSync(path, "utf8").trim()}`;
  }
  if (user["exec"] !== undefined) {
    const run = execPlugin(asRecord(user["exec"]));
    return () => `Bearer ${run()}`;
  }
  const username = asString(user["username"]);
  if (username !== undefined) {
    const basic = Buffer.from(`${username}:${asString(user["password"]) ?? ""}`).toString("base64");
    return () => `Basic ${basic}`;
  }
  return () => undefined;
}

/** Reads a kubeconfig: KUBECONFIG's first file, else ~/.kube/config, unless a path is given. */
export function loadKubeconfig(path?: string, contextName?: string): ClusterConnection {
  const file =
    path ?? process.env["KUBECONFIG"]?.split(":").find((p) => p !== "") ?? join(homedir(), ".kube", "config");
  let document: Json;
  try {
    document = asRecord(parse(readFileSync(file, "utf8")) as unknown);
  } catch (error) {
    throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(error as Error).message}`);
  }
  const name = contextName ?? asString(document["current-context"]);
  if (name === undefined) throw new KubeconfigError(`${file}: no current-context and no --context given`);
  const context = named(document["contexts"], name, "context", file);
  const cluster = named(document["clusters"], asString(context["cluster"]) ?? "", "cluster", file);
  const userName = asString(context["user"]);
  const user = userName === undefined ? {} : named(document["users"], userName, "user", file);
  const server = asString(cluster["server"]);
  if (server === undefined) throw new KubeconfigError(`${file}: cluster of context ${name} has no server`);
  const base = dirname(file);
  const ca = material(cluster, "certificate-authority", base);
  const cert = material(user, "client-certificate", base);
  const key = material(user, "client-key", base);
  const servername = asString(cluster["tls-server-name"]);
  const namespace = asString(context["namespace"]);
  return {
    server: server.replace(/\/+$/, ""),
    tls: {
      rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(servername === undefined ? {} : { servername }),
    },
    authorization: authorizationOf(user, base),
    ...(namespace === undefined ? {} : { namespace }),
  };
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The in-cluster service account, as every pod has it; undefined outside a cluster. */
export function inClusterConnection(
  env: NodeJS.ProcessEnv = process.env,
  dir: string = SERVICE_ACCOUNT_DIR,
): ClusterConnection | undefined {
  const host = env["KUBERNETES_SERVICE_HOST"];
  const port = env["KUBERNETES_SERVICE_PORT"];
  if (host === undefined || port === undefined) return undefined;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    tls: { ca: readFileSync(join(dir, "ca.crt"), "utf8"), rejectUnauthorized: true },
    // Projected tokens rotate: read the file on every request.
    authorization: () => `Bearer ${readFileSync(join(dir, "token"), "utf8").trim()}`,
    namespace: readFileSync(join(dir, "namespace"), "utf8").trim(),
  };
}
