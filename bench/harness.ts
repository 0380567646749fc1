// Minimal benchmark harness: run a function repeatedly for a fixed wall time
// after a warm-up, and report operations per second.
import { performance } from "node:perf_hooks";

export interface BenchResult {
  readonly name: string;
  readonly opsPerSec: number;
  readonly unit: string;
  readonly note?: string;
}

export interface MeasureOptions {
  /** Work units done by one call of fn (e.g. samples per batch). */
  readonly unitsPerCall?: number;
  readonly unit?: string;
  readonly warmupMs?: number;
  readonly durationMs?: number;
}

export function measure(name: string, fn: () => unknown, options: MeasureOptions = {}): BenchResult {
  const unitsPerCall = options.unitsPerCall ?? 1;
  const warmupEnd = performance.now() + (options.warmupMs ?? 300);
  let sink: unknown;
  while (performance.now() < warmupEnd) sink = fn();
  const duration = options.durationMs ?? 1000;
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < duration) {
    for (let i = 0; i < 16; i++) sink = fn();
    calls += 16;
    now = performance.now();
  }
  blackhole = sink;
  return { name, opsPerSec: (calls * unitsPerCall * 1000) / (now - start), unit: options.unit ?? "ops/s" };
}

/** Keeps the last result reachable so the optimiser cannot drop the work. */
export let blackhole: unknown;

export function formatRate(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(1);
}

export function printResults(title: string, results: readonly BenchResult[]): void {
  console.log(`\n## ${title}`);
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(width)}  ${formatRate(r.opsPerSec).padStart(10)} ${r.unit}${r.note ? `  (${r.note})` : ""}`,
    );
  }
}
