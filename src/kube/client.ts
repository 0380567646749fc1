// A small typed REST client for the Kubernetes API: JSON requests, Status
// errors as exceptions with their reason, and watch streams as async
// iterables of events. One keep-alive pool per API server.
import { createRequire } from "node:module";
import type { Dispatcher, Pool } from "undici";
import type { ClusterConnection } from "./config.js";

/**
 * undici's Pool and its request(), without the package's index: that loads
 * fetch, WebSocket, caches and more (~110 ms), which every `telex get` would
 * pay for (the CLI answers in under 200 ms; `npm run bench -- cli`). undici 7
 * has no exports map, and its index takes both from these same files (it
 * adds request() to the Dispatcher prototype, which this module leaves alone).
 */
const requireUndici = createRequire(import.meta.url);
const PoolClass = requireUndici("undici/lib/dispatcher/pool.js") as typeof Pool;
const poolRequest = requireUndici("undici/lib/api/api-request.js") as Pool["request"];

/** A Kubernetes Status, as API errors carry it. */
export interface KubeStatus {
  readonly kind?: string;
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
}

export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  constructor(
    readonly statusCode: number,
    readonly status: KubeStatus,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path}: ${statusCode} ${status.reason ?? ""}: ${status.message ?? ""}`.trim());
  }

  get reason(): string | undefined {
    return this.status.reason;
  }
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  /** Defaults to application/json when there is a body. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

/** Error bodies longer than this are cut: a Status is small. */
const MAX_ERROR_BODY = 64 * 1024;

export class KubeClient {
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(private readonly connection: ClusterConnection) {
    const url = new URL(connection.server);
    this.basePath = url.pathname.replace(/\/+$/, "");
    const { tls } = connection;
    this.pool = new PoolClass(url.origin, {
      connections: 8,
      keepAliveTimeout: 60_000,
      // Watches stay open for minutes with nothing to say between bookmarks.
      bodyTimeout: 0,
      headersTimeout: 30_000,
      connect: {
        rejectUnauthorized: tls.rejectUnauthorized,
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls.cert === undefined ? {} : { cert: tls.cert }),
        ...(tls.key === undefined ? {} : { key: tls.key }),
        ...(tls.servername === undefined ? {} : { servername: tls.servername }),
      },
    });
  }

  async request<T>(method: Dispatcher.HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const inProcess = this.connection.inProcess;
    if (inProcess !== undefined && options.body !== undefined) {
      // A copy, as JSON would have made: the server may keep parts of the body in what it stores.
      const answer = await inProcess({
        method,
        path,
        query: this.query(options),
        body: structuredClone(options.body),
        contentType: options.contentType ?? "application/json",
      });
      if (answer !== undefined) {
        if (!answer.ok) throw new KubeApiError(answer.code, answer.status, method, path);
        for (const text of answer.warnings) this.connection.onWarning?.(text);
        return answer.object as T;
      }
    }
    const response = await this.send(method, path, options);
    this.tellWarnings(response.headers["warning"]);
    const text = await response.body.text();
    if (response.statusCode >= 300) throw this.error(response.statusCode, text, method, path);
    return (text === "" ? {} : JSON.parse(text)) as T;
  }

  /**
   * Opens a watch; yields events until the server ends the stream or the
   * signal aborts. Throws KubeApiError when the server refuses the watch.
   * onOpen is called once the server has accepted it, before any event: a
   * quiet watch may send none for minutes.
   */
  async *watch<T>(
    path: string,
    options: RequestOptions & { readonly onOpen?: () => void } = {},
  ): AsyncGenerator<WatchEvent<T>> {
    const response = await this.send("GET", path, { ...options, query: { ...options.query, watch: true } });
    if (response.statusCode >= 300) {
      throw this.error(response.statusCode, await response.body.text(), "GET", path);
    }
    options.onOpen?.();
    let buffered = "";
    for await (const chunk of response.body) {
      buffered += (chunk as Buffer).toString("utf8");
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== "") yield JSON.parse(line) as WatchEvent<T>;
        newline = buffered.indexOf("\n");
      }
    }
    if (buffered.trim() !== "") yield JSON.parse(buffered) as WatchEvent<T>;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private query(options: RequestOptions): URLSearchParams {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) query.set(key, String(value));
    }
    return query;
  }

  private async send(method: Dispatcher.HttpMethod, path: string, options: RequestOptions) {
    const query = this.query(options);
    const search = query.size > 0 ? `?${query.toString()}` : "";
    const headers: Record<string, string> = { Accept: "application/json" };
    const authorization = this.connection.authorization();
    if (authorization !== undefined) headers["Authorization"] = authorization;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = options.contentType ?? "application/json";
      body = JSON.stringify(options.body);
    }
    return poolRequest.call(this.pool, {
      method,
      path: `${this.basePath}${path}${search}`,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  /** `299 - "text"` headers (RFC 7234, as kube-apiserver sends them), each told once. */
  private tellWarnings(header: string | string[] | undefined): void {
    const onWarning = this.connection.onWarning;
    if (onWarning === undefined || header === undefined) return;
    for (const value of Array.isArray(header) ? header : [header]) {
      const match = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(value);
      onWarning(match === null ? value : (match[1] ?? "").replace(/\\(.)/g, "$1"));
    }
  }

  private error(statusCode: number, text: string, method: string, path: string): KubeApiError {
    let status: KubeStatus = { message: text.slice(0, MAX_ERROR_BODY) };
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === "object" && parsed !== null) status = parsed;
    } catch {
      // Not JSON: keep the text as the message.
    }
    return new KubeApiError(statusCode, status, method, path);
  }
}
