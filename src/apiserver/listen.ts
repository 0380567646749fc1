// The --api-listen address: HOST:PORT, [IPv6]:PORT; and whether it is loopback.
import { isIP } from "node:net";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Loopback by default: an open (token-less) development server must not be reachable from elsewhere. */
export const DEFAULT_API_LISTEN = "127.0.0.1:6443";

export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):([0-9]{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (match === null || host === undefined || host === "" || !Number.isInteger(port) || port > 65535) {
    throw new Error(
      `invalid listen address ${JSON.stringify(text)}: expected HOST:PORT, e.g. ${DEFAULT_API_LISTEN}`,
    );
  }
  return { host, port };
}

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
