// An in-process Telex API server on 127.0.0.1:0 with a throwaway data
// directory, and a small typed HTTP client for tests that speak to it raw.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { startApiServer, type ApiServer, type ApiServerOptions } from "../src/apiserver/index.js";
import { KubeClient } from "../src/kube/client.js";
import { selfSignedCert } from "./self-signed-cert.js";

export interface TestApiServer {
  readonly api: ApiServer;
  readonly dataDir: string;
  /** The certificate (PEM) when started with `tls: true`. */
  readonly caPem: string | undefined;
  /** Stops the server and removes its data. */
  close(): Promise<void>;
}

/** Starts a server; `selfSignedTls` serves https with a fresh certificate (needed for kubectl with tokens). */
export async function startTestApiServer(
  options: Partial<Omit<ApiServerOptions, "tls">> & { readonly selfSignedTls?: boolean } = {},
): Promise<TestApiServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "telex-api-")));
  let caPem: string | undefined;
  let tls: ApiServerOptions["tls"];
  if (options.selfSignedTls === true) {
    const cert = selfSignedCert();
    caPem = cert.certPem;
    tls = { certFile: join(dataDir, "tls.crt"), keyFile: join(dataDir, "tls.key") };
    await writeFile(tls.certFile, cert.certPem);
    await writeFile(tls.keyFile, cert.keyPem, { mode: 0o600 });
  }
  const { selfSignedTls: _ignored, ...serverOptions } = options;
  const api = await startApiServer({
    listen: "127.0.0.1:0",
    ...serverOptions,
    ...(tls === undefined ? {} : { tls }),
    dataDir,
  });
  return {
    api,
    dataDir,
    caPem,
    close: async () => {
      await api.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A server and a KubeClient to its root, for tests of what speaks to it through src/kube (Leases, ConfigMaps). */
export interface TestApiWithClient {
  readonly server: TestApiServer;
  readonly client: KubeClient;
  /** Closes the client, then the server. */
  close(): Promise<void>;
}

export async function startTestApiWithClient(
  options: Parameters<typeof startTestApiServer>[0] = { bookmarkIntervalMs: 100 },
): Promise<TestApiWithClient> {
  const server = await startTestApiServer(options);
  const client = new KubeClient({
    server: server.api.url,
    tls: { rejectUnauthorized: true },
    authorization: () => undefined,
  });
  return {
    server,
    client,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly text: string;
  /** The body parsed as JSON (throws when it is not). */
  json(): Record<string, unknown>;
}

export interface RequestOptions {
  readonly body?: unknown;
  /** Sent as is when a string, else JSON-encoded. */
  readonly contentType?: string;
  readonly token?: string;
  readonly accept?: string;
  /** PEM of a self-signed server certificate to trust. */
  readonly ca?: string;
}

/** One HTTP request to a project's control plane (path relative to it) or, with a leading `//`, to the root. */
export async function apiRequest(
  base: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers["Authorization"] = `Bearer ${options.token}`;
  if (options.accept !== undefined) headers["Accept"] = options.accept;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["Content-Type"] = options.contentType ?? "application/json";
  }
  const dispatcher = options.ca === undefined ? undefined : new Agent({ connect: { ca: options.ca } });
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    ...(dispatcher === undefined ? {} : { dispatcher }),
  });
  const text = await response.text();
  await dispatcher?.close();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

/** A valid ExportPolicy manifest for tests. */
export function examplePolicy(
  name: string,
  endpoint = "https://metrics.example.com/api/v1/write",
): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name },
    spec: {
      sources: [{ name: "gateways", metrics: { metricsql: '{service_name="networking.miloapis.com"}' } }],
      sinks: [{ name: "remote", sources: ["gateways"], target: { prometheusRemoteWrite: { endpoint } } }],
    },
  };
}
