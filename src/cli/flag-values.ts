// Values of command-line flags that several commands and flag groups share.
import { parseDuration } from "../api/index.js";
import { UsageError } from "./io.js";

export function durationFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new UsageError(`--${name}: ${JSON.stringify(text)} is not a positive duration such as 30s or 1m`);
  return ms;
}

const BYTE_UNITS: Readonly<Record<string, number>> = { "": 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };

export function bytesFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^([0-9]+)(|KiB|MiB|GiB)$/.exec(text);
  const bytes = match === null ? NaN : Number(match[1]) * (BYTE_UNITS[match[2] ?? ""] ?? NaN);
  if (!(bytes > 0) || !Number.isSafeInteger(bytes))
    throw new UsageError(
      `--${name}: ${JSON.stringify(text)} is not a positive size such as 67108864 or 64MiB`,
    );
  return bytes;
}

export function formatBytes(bytes: number): string {
  return bytes % 2 ** 20 === 0 ? `${bytes / 2 ** 20}MiB` : String(bytes);
}

/** A duration that may be 0 (e.g. "sync on every write"); undefined when the flag is absent. */
export function durationOrZeroFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^0+(ms|s|m|h)?$/.test(text)) return 0;
  return durationFlag(name, text);
}

/** A whole number in [min, max]; undefined when the flag is absent. */
export function integerFlag(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new UsageError(`--${name}: ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`);
  return value;
}
