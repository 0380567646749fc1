// Reading counters out of a Prometheus text exposition (telex's and vmagent's /metrics).

/** Sum of every sample of the metric `name`, whatever its labels. */
export function sumMetric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const next = line.charAt(name.length);
    if (next !== "{" && next !== " ") continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** "name 12, other 3" for the non-zero entries; "0" when all are zero. */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const nonZero = Object.entries(counts).filter(([, n]) => n !== 0);
  if (nonZero.length === 0) return "0";
  return nonZero.map(([name, n]) => `${name} ${n.toLocaleString("en-US")}`).join(", ");
}

export function addCounts(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [name, n] of Object.entries(b)) out[name] = (out[name] ?? 0) + n;
  return out;
}
