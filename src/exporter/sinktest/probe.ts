// One harmless Remote Write request to a sink's endpoint, sent the way the
// sink would send it and timed phase by phase: DNS, TCP, TLS, HTTP (`telex
// test-sink`, served by the ExportPolicy `sinktest` subresource).
//
// Sent from the server, not from the person's machine: the request must
// take the sink's own path to mean anything — the server's DNS and network,
// its egress policy (a name is refused if any of its addresses is denied, and
// nothing denied is ever connected to, so a tenant cannot use the test to
// probe the platform's network), the CAs it trusts (src/exporter/sink/trust.ts)
// and the credentials of the Secret, which never leave the server.
//
// The request is an empty WriteRequest (no series): Prometheus and
// VictoriaMetrics answer it 204 and write nothing (tests check both). The
// headers are a sink's (src/remotewrite/protocol.ts), Authorization included.
//
// Why not the sink's HttpSender (undici): a pooled dispatcher connects,
// handshakes and sends in one step, so it cannot tell which step failed or
// how long each took. Here each phase runs on its own — dns.lookup, then
// net.connect to each allowed address in turn (as the egress connector
// does), then tls.connect over that socket with the original host name for
// SNI and the certificate check, then node:http over the same socket — and
// every result is reported in the words of src/exporter/sinktest/fixes.ts.
import { STATUS_CODES, request as httpRequest, type IncomingMessage } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";
import { REMOTE_WRITE_HEADERS, encodeWriteRequest, snappyCompress } from "../../remotewrite/index.js";
import { parseIp } from "../egress/address.js";
import { systemLookup, type EgressPolicy, type LookupAll } from "../egress/index.js";
import { basicAuthHeaders, type BasicAuth } from "../sink/auth.js";
import { processTrustedCertificates } from "../sink/trust.js";
import { authorizationSecrets, redactorFor, type Redactor } from "../util/redact.js";
import {
  EGRESS_FIX,
  dnsFailure,
  distinguishedName,
  handshakeFix,
  httpFix,
  tcpError,
  tcpFix,
  untrustedCertificate,
} from "./fixes.js";
import type { SinkTestPhase, SinkTestPhaseName, SinkTestReport } from "./report.js";

export interface SinkTestTimeouts {
  readonly lookupMs: number;
  /** For all of the name's addresses together. */
  readonly connectMs: number;
  readonly handshakeMs: number;
  /** Until the response's headers. */
  readonly responseMs: number;
}

/**
 * 25 s at most in all: under the 30 s a client (telex's, kubectl's) waits
 * for the API's answer. A sink itself waits 30 s for a response; a receiver
 * slower than 10 s on an empty request has a problem worth knowing anyway.
 */
export const SINK_TEST_TIMEOUTS: SinkTestTimeouts = {
  lookupMs: 5_000,
  connectMs: 5_000,
  handshakeMs: 5_000,
  responseMs: 10_000,
};

export interface SinkTestOptions {
  readonly endpoint: string;
  readonly credentials?: BasicAuth;
  /** `namespace/name` of the Secret the credentials come from: a 401 names it. */
  readonly secret?: string;
  /** The egress policy the sinks connect through. */
  readonly egress: EgressPolicy;
  /** CAs for https endpoints; the process's trusted set (as the sinks') when absent. */
  readonly ca?: readonly string[];
  readonly lookup?: LookupAll;
  readonly timeouts?: Partial<SinkTestTimeouts>;
}

const PHASES: readonly SinkTestPhaseName[] = ["DNS", "TCP", "TLS", "HTTP"];
/** What an error body may show: a short start of it, on one line. */
const BODY_CHARS = 300;
const BODY_READ_BYTES = 8 * 1024;

/** The WriteRequest with no series: a valid request that writes nothing. */
const EMPTY_WRITE_REQUEST = snappyCompress(encodeWriteRequest([]));

export async function testSink(options: SinkTestOptions): Promise<SinkTestReport> {
  const url = new URL(options.endpoint);
  const secure = url.protocol === "https:";
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const timeouts = { ...SINK_TEST_TIMEOUTS, ...options.timeouts };
  const phases: SinkTestPhase[] = [];
  const report = (accepted: boolean): SinkTestReport => ({
    accepted,
    phases: PHASES.map(
      (name) =>
        phases.find((phase) => phase.name === name) ?? { name, result: "Skipped", message: "not reached" },
    ),
  });

  const resolved = await lookupPhase(host, options, timeouts.lookupMs);
  phases.push(resolved.phase);
  if (resolved.addresses === undefined) return report(false);

  // The egress connector's rule, before any connection: one denied address denies the name.
  for (const address of resolved.addresses) {
    const verdict = options.egress.checkAddress(address, port);
    if (!verdict.allowed) {
      const via = address === host ? "" : `${host} → `;
      phases.push({
        name: "TCP",
        result: "Forbidden",
        message: `${via}${verdict.message}: not connected`,
        reason: "EndpointForbidden",
        fix: EGRESS_FIX,
      });
      return report(false);
    }
  }

  const connected = await connectPhase(resolved.addresses, port, timeouts.connectMs);
  phases.push(connected.phase);
  const tcp = connected.socket;
  if (tcp === undefined) return report(false);
  let socket: Socket = tcp;
  try {
    if (secure) {
      const ca = options.ca ?? processTrustedCertificates();
      const handshake = await tlsPhase(tcp, host, port, ca, timeouts.handshakeMs);
      phases.push(handshake.phase);
      if (handshake.socket === undefined) return report(false);
      socket = handshake.socket;
    } else {
      phases.push({
        name: "TLS",
        result: "Skipped",
        message:
          options.credentials === undefined
            ? "http:// endpoint: not encrypted"
            : "http:// endpoint: not encrypted, so the Secret's credentials cross the network readable",
      });
    }
    const answered = await httpPhase(socket, url, options, timeouts.responseMs);
    phases.push(answered.phase);
    return report(answered.accepted);
  } finally {
    socket.destroy();
    tcp.destroy();
  }
}

function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") return code;
  return error instanceof Error ? error.message : String(error);
}

function timeoutError(what: string): Error {
  return Object.assign(new Error(`${what} timed out`), { code: "ETIMEDOUT" });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(timeoutError(what));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${String(port)}` : `${address}:${String(port)}`;
}

async function lookupPhase(
  host: string,
  options: SinkTestOptions,
  timeoutMs: number,
): Promise<{ phase: SinkTestPhase; addresses?: readonly string[] }> {
  if (parseIp(host) !== undefined) {
    return {
      phase: { name: "DNS", result: "Skipped", message: `${host} is an IP address: nothing to look up` },
      addresses: [host],
    };
  }
  const byName = options.egress.checkName(host);
  if (!byName.allowed) {
    return {
      phase: {
        name: "DNS",
        result: "Forbidden",
        message: `${byName.message}: not looked up`,
        reason: "EndpointForbidden",
        fix: EGRESS_FIX,
      },
    };
  }
  const start = performance.now();
  try {
    const addresses = await withTimeout(
      (options.lookup ?? systemLookup)(host),
      timeoutMs,
      `looking up ${host}`,
    );
    if (addresses.length === 0)
      throw Object.assign(new Error(`${host} has no address`), { code: "ENOTFOUND" });
    return {
      phase: {
        name: "DNS",
        result: "Succeeded",
        durationMs: elapsed(start),
        message: `${host} → ${addresses.join(", ")}`,
      },
      addresses,
    };
  } catch (error) {
    const code = codeOf(error);
    const { message, fix } = dnsFailure(host, code);
    return {
      phase: { name: "DNS", result: "Failed", durationMs: elapsed(start), message, reason: code, fix },
    };
  }
}

function connectOnce(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutError(`connecting to ${hostPort(address, port)}`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      // Errors after the phase (a reset mid-request) reach whoever reads the socket next.
      socket.on("error", () => undefined);
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/** Each address in turn, as the egress connector tries them, within one deadline. */
async function connectPhase(
  addresses: readonly string[],
  port: number,
  timeoutMs: number,
): Promise<{ phase: SinkTestPhase; socket?: Socket }> {
  const start = performance.now();
  const failures: string[] = [];
  let lastCode = "ETIMEDOUT";
  for (const address of addresses) {
    const left = timeoutMs - (performance.now() - start);
    if (left <= 0) break;
    try {
      const socket = await connectOnce(address, port, left);
      const after = failures.length === 0 ? "" : ` (after ${failures.join("; ")})`;
      return {
        phase: {
          name: "TCP",
          result: "Succeeded",
          durationMs: elapsed(start),
          message: `connected to ${hostPort(address, port)}${after}`,
        },
        socket,
      };
    } catch (error) {
      lastCode = codeOf(error);
      failures.push(`${hostPort(address, port)}: ${tcpError(lastCode)}`);
    }
  }
  const target = addresses.length === 1 ? hostPort(addresses[0] ?? "", port) : `port ${String(port)}`;
  return {
    phase: {
      name: "TCP",
      result: "Failed",
      durationMs: elapsed(start),
      message: failures.length === 0 ? "no address answered in time" : failures.join("; "),
      reason: lastCode,
      fix: tcpFix(lastCode, target),
    },
  };
}

function authorizationCode(socket: TLSSocket): string {
  // Typed as an Error, but Node sets OpenSSL's code (or the identity check's) as a string.
  const raw: unknown = socket.authorizationError;
  if (typeof raw === "string") return raw;
  return raw === undefined || raw === null ? "UNKNOWN" : codeOf(raw);
}

function describeCertificate(cert: PeerCertificate | undefined): string {
  if (cert === undefined || Object.keys(cert).length === 0) return "none";
  return `${distinguishedName(cert.subject)} issued by ${distinguishedName(cert.issuer)}, valid until ${cert.valid_to}`;
}

function tlsPhase(
  socket: Socket,
  host: string,
  port: number,
  ca: readonly string[],
  timeoutMs: number,
): Promise<{ phase: SinkTestPhase; socket?: TLSSocket }> {
  const start = performance.now();
  return new Promise((resolve) => {
    // Not rejected during the handshake, so the certificate can be described; an
    // unverified connection is closed below before anything is sent over it.
    const secure = tlsConnect({
      socket,
      host,
      ...(parseIp(host) === undefined ? { servername: host } : {}),
      ca: [...ca],
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    const failed = (code: string, message: string, fix: string) => {
      secure.destroy();
      resolve({
        phase: { name: "TLS", result: "Failed", durationMs: elapsed(start), message, reason: code, fix },
      });
    };
    const timer = setTimeout(() => {
      failed(
        "ETIMEDOUT",
        `no TLS handshake within ${timeoutMs / 1000} s`,
        handshakeFix("ETIMEDOUT", hostPort(host, port)),
      );
    }, timeoutMs);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      secure.removeAllListeners("error");
      secure.on("error", () => undefined);
      const cert = secure.getPeerCertificate();
      const session = `${secure.getProtocol() ?? "TLS"} ${secure.getCipher().name}`;
      if (secure.authorized) {
        resolve({
          phase: {
            name: "TLS",
            result: "Succeeded",
            durationMs: elapsed(start),
            message: `${session}; certificate ${describeCertificate(cert)}; verified for ${host}`,
          },
          socket: secure,
        });
        return;
      }
      const code = authorizationCode(secure);
      const { reason, fix } = untrustedCertificate(code, host, cert);
      failed(
        code,
        `${session}; certificate ${describeCertificate(cert)}; not trusted: ${reason} (${code})`,
        fix,
      );
    });
    secure.once("error", (error: Error) => {
      clearTimeout(timer);
      const code = codeOf(error);
      failed(code, `handshake failed: ${error.message}`, handshakeFix(code, hostPort(host, port)));
    });
  });
}

async function readStart(response: IncomingMessage, redact: Redactor): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response) {
      const buffer = chunk as Buffer;
      chunks.push(buffer);
      size += buffer.length;
      if (size >= BODY_READ_BYTES) break;
    }
  } catch {
    // What arrived before the failure is still worth showing.
  }
  // Redacted before it is cut, so that a credential across the cut is still found whole.
  return redact(Buffer.concat(chunks).toString("utf8").replace(/\s+/g, " ")).slice(0, BODY_CHARS).trim();
}

function httpPhase(
  socket: Socket,
  url: URL,
  options: SinkTestOptions,
  timeoutMs: number,
): Promise<{ phase: SinkTestPhase; accepted: boolean }> {
  const auth = basicAuthHeaders(options.credentials);
  const redact = redactorFor(Object.values(auth).flatMap(authorizationSecrets));
  const start = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (phase: SinkTestPhase, accepted: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ phase, accepted });
    };
    const request = httpRequest({
      method: "POST",
      path: `${url.pathname}${url.search}`,
      headers: {
        ...REMOTE_WRITE_HEADERS,
        ...auth,
        Host: url.host,
        "Content-Length": String(EMPTY_WRITE_REQUEST.length),
      },
      // Over the socket the phases above opened and checked; no agent, no pool.
      createConnection: () => socket,
    });
    const timer = setTimeout(() => {
      request.destroy();
      finish(
        {
          name: "HTTP",
          result: "Failed",
          durationMs: elapsed(start),
          message: `no answer within ${timeoutMs / 1000} s`,
          reason: "ETIMEDOUT",
          fix: "the receiver accepts connections but does not answer (a sink waits 30 s): see its logs or load",
        },
        false,
      );
    }, timeoutMs);
    request.once("response", (response) => {
      const durationMs = elapsed(start);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      void readStart(response, redact).then((body) => {
        const accepted = status >= 200 && status < 300;
        const head = `${String(status)} ${STATUS_CODES[status] ?? ""}`.trim();
        const text = body === "" ? "" : `: ${body}`;
        const fix = httpFix(status, body, options.secret, location);
        finish(
          {
            name: "HTTP",
            result: accepted ? "Succeeded" : "Failed",
            durationMs,
            message: accepted
              ? `${head}${text}: accepted (the request held no samples: nothing was written)`
              : `${head}${text}`,
            reason: `HTTP${String(status)}`,
            ...(fix === undefined ? {} : { fix }),
          },
          accepted,
        );
      });
    });
    request.once("error", (error) => {
      const code = codeOf(error);
      finish(
        {
          name: "HTTP",
          result: "Failed",
          durationMs: elapsed(start),
          message: `no answer: ${error.message}`,
          reason: code,
          fix: "the endpoint closed the connection without an answer: check that it serves HTTP on this port (https:// for TLS)",
        },
        false,
      );
    });
    request.end(EMPTY_WRITE_REQUEST);
  });
}
