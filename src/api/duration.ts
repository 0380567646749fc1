// Durations in Go's time.ParseDuration syntax, as Kubernetes APIs use them:
// "500ms", "5s", "1m30s", "1.5h". Units: ns, us (or µs), ms, s, m, h.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign
  μs: 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/y;

/** Milliseconds for a Go duration, or undefined when the text is not one. Signs are not accepted. */
export function parseDuration(text: string): number | undefined {
  if (text === "0") return 0;
  if (text === "") return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const match = PART.exec(text);
    if (match === null || match.index !== start) return undefined;
    const [, number = "", unit = ""] = match;
    const scale = UNIT_MS[unit];
    if (scale === undefined || number === "" || number === ".") return undefined;
    total += Number(number) * scale;
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Like parseDuration, but throws for invalid text; for values that validation already accepted. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new RangeError(`invalid duration ${JSON.stringify(text)}`);
  return ms;
}
