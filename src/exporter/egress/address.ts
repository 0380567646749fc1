// IP addresses and CIDR prefixes as numbers, so that every spelling of an
// address compares equal: IPv4-mapped IPv6 (::ffff:127.0.0.1, ::ffff:7f00:1)
// and NAT64 (64:ff9b::a9fe:a9fe) become the IPv4 address they carry, zone ids are dropped, and prefixes are
// matched with plain bit arithmetic. Host spellings such as `127.1`,
// `2852039166` or `0x7f.0.0.1` never get here: WHATWG URL parsing already
// turned them into dotted quads (src/exporter/egress/policy.test.ts checks it).
import { isIPv4, isIPv6 } from "node:net";

export interface IpAddress {
  readonly family: 4 | 6;
  /** 32 bits for IPv4, 128 for IPv6. */
  readonly bits: bigint;
}

export interface Cidr {
  readonly family: 4 | 6;
  readonly bits: bigint;
  /** Prefix length: 0–32 or 0–128. */
  readonly length: number;
}

const V4_MASK = 0xffff_ffffn;

function width(family: 4 | 6): bigint {
  return family === 4 ? 32n : 128n;
}

function parseV4(text: string): bigint {
  let bits = 0n;
  for (const part of text.split(".")) bits = (bits << 8n) | BigInt(Number(part));
  return bits;
}

function parseV6(text: string): bigint {
  let body = text;
  const lastColon = body.lastIndexOf(":");
  const suffix = body.slice(lastColon + 1);
  if (suffix.includes(".")) {
    // A trailing dotted quad (::ffff:127.0.0.1) is two 16-bit groups.
    const v4 = parseV4(suffix);
    body = `${body.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = "", rest] = body.split("::");
  const groups = (part: string): bigint[] =>
    part === "" ? [] : part.split(":").map((group) => BigInt(`0x${group}`));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => 0n);
  let bits = 0n;
  for (const group of [...left, ...zeros, ...right]) bits = (bits << 16n) | group;
  return bits;
}

/** NAT64's well-known prefix (RFC 6052): 64:ff9b::a.b.c.d reaches a.b.c.d through a translator. */
const NAT64_PREFIX = 0x0064_ff9bn << 96n;

/**
 * An IP literal, or undefined for anything else (a name). Accepts brackets
 * and zone ids; an IPv4-mapped IPv6 address (and a NAT64 one, which a
 * translator turns into the IPv4 address it carries) is returned as IPv4.
 */
export function parseIp(text: string): IpAddress | undefined {
  let literal = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const zone = literal.indexOf("%");
  if (zone !== -1) literal = literal.slice(0, zone);
  if (isIPv4(literal)) return { family: 4, bits: parseV4(literal) };
  if (!isIPv6(literal)) return undefined;
  const bits = parseV6(literal);
  if (bits >> 32n === 0xffffn || bits >> 32n === NAT64_PREFIX >> 32n)
    return { family: 4, bits: bits & V4_MASK };
  return { family: 6, bits };
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.bits >> shift) & 0xffn)).join(".");
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((ip.bits >> shift) & 0xffffn).toString(16));
  // Collapse the longest run of zero groups, as RFC 5952 asks.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (bestStart === -1) return groups.join(":");
  const head = groups.slice(0, bestStart).join(":");
  const tail = groups.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

export class CidrError extends Error {
  override readonly name = "CidrError";
}

/**
 * `ADDRESS/LENGTH`, or a bare address (a single-address prefix). Host bits
 * must be zero, so that `10.1.2.3/8` is refused rather than silently read as
 * 10.0.0.0/8. An IPv4-mapped IPv6 prefix (::ffff:0:0/96 and longer) becomes
 * the IPv4 prefix it covers.
 */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf("/");
  const address = parseIp(slash === -1 ? trimmed : trimmed.slice(0, slash));
  if (address === undefined)
    throw new CidrError(`${JSON.stringify(text)} is not an IP address or CIDR prefix`);
  const lengthText = slash === -1 ? undefined : trimmed.slice(slash + 1);
  if (lengthText !== undefined && !/^\d{1,3}$/.test(lengthText)) {
    throw new CidrError(`${JSON.stringify(text)}: the prefix length must be a number`);
  }
  const written = slash === -1 ? undefined : trimmed.slice(0, slash);
  const writtenAsV6 = written !== undefined && written.includes(":");
  let length = lengthText === undefined ? Number(width(address.family)) : Number(lengthText);
  if (address.family === 4 && writtenAsV6 && lengthText !== undefined) {
    // ::ffff:a.b.c.d/96+n is the IPv4 prefix a.b.c.d/n.
    if (length < 96)
      throw new CidrError(`${JSON.stringify(text)}: an IPv4-mapped prefix needs a length of 96 or more`);
    length -= 96;
  }
  if (length > Number(width(address.family))) {
    throw new CidrError(`${JSON.stringify(text)}: the prefix length is longer than the address`);
  }
  const hostBits = width(address.family) - BigInt(length);
  if ((address.bits & ((1n << hostBits) - 1n)) !== 0n) {
    throw new CidrError(`${JSON.stringify(text)} has bits set past its prefix length`);
  }
  return { family: address.family, bits: address.bits, length };
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const hostBits = width(cidr.family) - BigInt(cidr.length);
  return ip.bits >> hostBits === cidr.bits >> hostBits;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ family: cidr.family, bits: cidr.bits })}/${String(cidr.length)}`;
}
