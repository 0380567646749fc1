// An undici connector that enforces the egress policy on the address it
// actually connects to: it resolves the host itself, checks every address the
// name resolves to (one denied address denies the name, so a round-robin or
// rebinding answer cannot slip a denied one in later), and connects to the
// checked IP literals, one after the other until one answers. TLS still
// verifies the certificate for the original host name: undici derives SNI and
// the identity check from `host`, which is left untouched.
import { lookup as dnsLookup } from "node:dns/promises";
import { buildConnector } from "undici";
import { parseIp } from "./address.js";
import type { EgressPolicy } from "./policy.js";

/** Every address a name resolves to. */
export type LookupAll = (hostname: string) => Promise<readonly string[]>;

export const systemLookup: LookupAll = async (hostname) =>
  (await dnsLookup(hostname, { all: true })).map((entry) => entry.address);

/** A host's addresses: an IP literal as is (brackets dropped), a name looked up; [] when it does not resolve. */
export async function addressesOf(
  host: string,
  lookup: LookupAll = systemLookup,
): Promise<readonly string[]> {
  const literal = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (parseIp(literal) !== undefined) return [literal];
  try {
    return await lookup(literal);
  } catch {
    return [];
  }
}

/** A connection refused by the egress policy; never retried. */
export class EndpointForbiddenError extends Error {
  override readonly name = "EndpointForbiddenError";
  readonly code = "TELEX_ENDPOINT_FORBIDDEN";
}

export interface GuardedConnectorOptions {
  readonly policy: EgressPolicy;
  /** Bounds the lookup and the TCP/TLS handshake, each. */
  readonly timeoutMs: number;
  /** CAs for https peers; Node's bundled roots when absent. */
  readonly ca?: readonly string[];
  readonly lookup?: LookupAll;
}

/** The port undici connects to when the URL names none. */
function effectivePort(protocol: string, port: string): number {
  if (port !== "") return Number(port);
  return protocol === "https:" ? 443 : 80;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(Object.assign(new Error(`${what} timed out`), { code: "ETIMEDOUT" }));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

/** Resolves and checks a host; returns the addresses to connect to, in order, or throws. */
export async function resolveAllowed(
  policy: EgressPolicy,
  hostname: string,
  port: number,
  lookup: LookupAll,
): Promise<readonly string[]> {
  let candidates: readonly string[];
  if (parseIp(hostname) !== undefined) {
    candidates = [hostname];
  } else {
    const byName = policy.checkName(hostname);
    if (!byName.allowed) throw new EndpointForbiddenError(byName.message);
    candidates = await lookup(hostname);
  }
  if (candidates.length === 0)
    throw Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" });
  for (const address of candidates) {
    const verdict = policy.checkAddress(address, port);
    if (!verdict.allowed) {
      const via = address === hostname ? "" : `${hostname} → `;
      throw new EndpointForbiddenError(`${via}${verdict.message}`);
    }
  }
  return candidates;
}

export function guardedConnector(options: GuardedConnectorOptions): buildConnector.connector {
  const connect = buildConnector({
    timeout: options.timeoutMs,
    ...(options.ca === undefined ? {} : { ca: [...options.ca] }),
  });
  const lookup = options.lookup ?? systemLookup;
  return (connectOptions, callback) => {
    const port = effectivePort(connectOptions.protocol, connectOptions.port);
    withTimeout(
      resolveAllowed(options.policy, connectOptions.hostname, port, lookup),
      options.timeoutMs,
      `looking up ${connectOptions.hostname}`,
    ).then(
      (addresses) => {
        // Each checked address in turn (as net.connect would try them), until one answers.
        const attempt = (index: number): void => {
          // `host` keeps the original name: undici takes SNI and the certificate check from it.
          connect({ ...connectOptions, hostname: addresses[index] ?? "" }, (...result) => {
            if (result[0] !== null && index + 1 < addresses.length) attempt(index + 1);
            else callback(...result);
          });
        };
        attempt(0);
      },
      (error: unknown) => {
        callback(error instanceof Error ? error : new Error(String(error)), null);
      },
    );
  };
}
