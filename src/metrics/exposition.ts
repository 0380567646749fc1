// Prometheus text exposition format (0.0.4), written by hand: our counters
// are plain numbers kept on the hot path, and rendering them is a loop.

export type MetricType = "counter" | "gauge" | "histogram";

export type LabelSet = Readonly<Record<string, string>>;

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatLabels(labels: LabelSet): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Collects metric families and renders them in one pass, each family's lines together. */
export class ExpositionWriter {
  private readonly families = new Map<string, { help: string; type: MetricType; lines: string[] }>();

  private family(name: string, help: string, type: MetricType): string[] {
    let family = this.families.get(name);
    if (family === undefined) {
      family = { help, type, lines: [] };
      this.families.set(name, family);
    }
    return family.lines;
  }

  sample(name: string, help: string, type: "counter" | "gauge", labels: LabelSet, value: number): void {
    this.family(name, help, type).push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  }

  /** A histogram from cumulative bucket counts (the last one +Inf), their upper bounds, sum and count. */
  histogram(
    name: string,
    help: string,
    labels: LabelSet,
    bounds: readonly number[],
    cumulativeCounts: ArrayLike<number>,
    sum: number,
    count: number,
  ): void {
    const lines = this.family(name, help, "histogram");
    bounds.forEach((bound, i) => {
      lines.push(
        `${name}_bucket${formatLabels({ ...labels, le: formatValue(bound) })} ${cumulativeCounts[i] ?? 0}`,
      );
    });
    lines.push(`${name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${count}`);
    lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(sum)}`);
    lines.push(`${name}_count${formatLabels(labels)} ${count}`);
  }

  render(): string {
    let out = "";
    for (const [name, family] of this.families) {
      out += `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n`;
      for (const line of family.lines) out += `${line}\n`;
    }
    return out;
  }
}
