// Sends Remote Write request bodies over HTTP(S) with keep-alive connections
// of its own (one per lane, i.e. per shard of the sink, created on first use,
// so a slow endpoint holds only its own sockets and an idle sink one), a
// request timeout, and every result classified once into a
// DeliveryOutcome. Error bodies are read capped, redacted of the request's
// credentials and always drained. Every connection passes the egress policy;
// redirects are never followed (a 3xx is a rejection), so an endpoint cannot
// bounce a sink to an address the policy would refuse.
import type { Dispatcher } from "undici";
import { REMOTE_WRITE_HEADERS, classifyResponse } from "../../remotewrite/index.js";
import { EndpointForbiddenError, type EgressPolicy } from "../egress/index.js";
import type { Clock } from "../../util/index.js";
import { authorizationSecrets, redactorFor, type Redactor } from "../util/redact.js";
import type { DeliveryOutcome, Sender } from "./outcome.js";
import { processTrustedCertificates } from "./trust.js";
import { drainBody, errorText, keepAlivePool, transportFailure } from "../util/http.js";

export interface HttpSenderOptions {
  readonly endpoint: string;
  /** No answer (headers or body) within this time counts as a Timeout. */
  readonly requestTimeoutMs: number;
  /** Added to every request, e.g. Authorization (see auth.ts). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly clock: Clock;
  /** CAs for https endpoints; defaults to the process's trusted set (see trust.ts). */
  readonly ca?: readonly string[];
  /** Which addresses may be connected to; checked on every connection. */
  readonly egress: EgressPolicy;
}

export class HttpSender implements Sender {
  private readonly lanes: (Dispatcher | undefined)[] = [];
  private readonly origin: string;
  private readonly ca: readonly string[] | undefined;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly redact: Redactor;

  constructor(private readonly options: HttpSenderOptions) {
    const url = new URL(options.endpoint);
    this.path = `${url.pathname}${url.search}`;
    // Joined from its parts: URL's origin is a rope of pieces, and a sender keeps it for good.
    this.origin = [url.protocol, "//", url.host].join("");
    this.ca = url.protocol === "https:" ? (options.ca ?? processTrustedCertificates()) : undefined;
    this.headers = { ...REMOTE_WRITE_HEADERS, ...options.headers };
    this.redact = redactorFor(
      Object.entries(this.headers)
        .filter(([name]) => name.toLowerCase() === "authorization")
        .flatMap(([, value]) => authorizationSecrets(value)),
    );
  }

  /** Lanes with a connection: what a sink holds open. */
  get connections(): number {
    return this.lanes.filter((lane) => lane !== undefined).length;
  }

  async send(body: Uint8Array, signal: AbortSignal, lane = 0): Promise<DeliveryOutcome> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.client(lane).request({
        method: "POST",
        path: this.path,
        headers: this.headers,
        body,
        signal,
      });
    } catch (error) {
      return networkOutcome(error);
    }
    const { statusCode } = response;
    const retryAfter = headerValue(response.headers["retry-after"]);
    const verdict = classifyResponse(
      statusCode,
      retryAfter === undefined ? {} : { retryAfter },
      this.options.clock.now(),
    );
    if (verdict.kind === "ok") {
      await drainBody(response.body);
      return verdict;
    }
    if (statusCode >= 300 && statusCode < 400) {
      await drainBody(response.body);
      return { kind: "fatal", reason: "Rejected", message: `HTTP ${statusCode}: redirects are not followed` };
    }
    const message = `HTTP ${statusCode}${await errorText(response.body, this.redact)}`;
    if (verdict.kind === "retryable") {
      return verdict.retryAfterMs === undefined
        ? { kind: "retryable", reason: verdict.reason, message }
        : { kind: "retryable", reason: verdict.reason, message, retryAfterMs: verdict.retryAfterMs };
    }
    return { kind: "fatal", reason: verdict.reason, message };
  }

  /** Closes the connections of lanes from `first` on (the sink runs fewer shards now). */
  async closeLanes(first: number): Promise<void> {
    const closing = this.lanes.splice(first);
    await Promise.all(closing.flatMap((client) => (client === undefined ? [] : [client.destroy()])));
  }

  /** Closes every connection; in-flight requests are aborted by the caller's signal. */
  async close(): Promise<void> {
    await this.closeLanes(0);
  }

  private client(lane: number): Dispatcher {
    let client = this.lanes[lane];
    if (client === undefined) {
      // One request at a time per lane: a shard never has two in flight.
      client = keepAlivePool(this.origin, {
        requestTimeoutMs: this.options.requestTimeoutMs,
        connections: 1,
        egress: this.options.egress,
        ...(this.ca === undefined ? {} : { ca: this.ca }),
      });
      this.lanes[lane] = client;
    }
    return client;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Classifies a failure to get any response at all; a connection the egress policy refused is final. */
export function networkOutcome(error: unknown): DeliveryOutcome {
  if (error instanceof EndpointForbiddenError) {
    return { kind: "fatal", reason: "Forbidden", message: error.message };
  }
  const failure = transportFailure(error);
  return { kind: "retryable", reason: failure.reason, message: failure.message };
}
