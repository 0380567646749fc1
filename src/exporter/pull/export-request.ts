// Builds the `/api/v1/export` request for one window.
//
// VictoriaMetrics reads `start` and `end` as Unix seconds with an optional
// fraction, and both bounds are inclusive (observed on v1.79: a sample at
// exactly `end` is returned). A half-open window [startMs, endMs) is therefore
// asked for as start = startMs, end = endMs − 1.
//
// The bounds carry a quarter millisecond extra (`1700000000.123` is sent as
// `1700000000.12325`): v1.79 converts with int64(float64(secs) × 1000), which
// truncates, and for some values the float product lands just below the
// integer (1093083007.337 → …336.9999 → …336), so the window would slip by a
// millisecond, duplicating or losing a sample. Current releases parse the
// decimal exactly and round to the nearest millisecond; .25 ms is far above
// float error and below the rounding midpoint, so every version reads the
// intended millisecond.
import type { TimeWindow } from "./window-planner.js";

/**
 * Series longer than this are split over several lines by the store, which
 * bounds the size of one line (and so the parser's memory) whatever the
 * window length.
 */
export const MAX_SAMPLES_PER_LINE = 10_000;

/** `/api/v1/export` under the base URL (single-node root or vmselect's `/select/<accountID>/prometheus`). */
export function exportUrl(baseUrl: string): URL {
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/api/v1/export`;
  return url;
}

/**
 * The form body: the selector(s) (one `match[]` each: the store answers the
 * union, each series once), the window as inclusive bounds, and the
 * line-length cap.
 */
export function exportForm(selector: string | readonly string[], window: TimeWindow): string {
  if (window.endMs <= window.startMs) {
    throw new RangeError(`empty export window [${window.startMs}, ${window.endMs})`);
  }
  const form = new URLSearchParams();
  const selectors = typeof selector === "string" ? [selector] : selector;
  if (selectors.length === 0) throw new RangeError("export request without a selector");
  for (const one of selectors) form.append("match[]", one);
  form.set("start", formatBoundSeconds(window.startMs));
  form.set("end", formatBoundSeconds(window.endMs - 1));
  form.set("max_rows_per_line", String(MAX_SAMPLES_PER_LINE));
  return form.toString();
}

/** An integer millisecond as Unix seconds that every VictoriaMetrics version reads back as exactly that millisecond. */
export function formatBoundSeconds(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new RangeError(`export bound must be a non-negative integer ms, got ${ms}`);
  const seconds = Math.floor(ms / 1000);
  const millis = ms - seconds * 1000;
  return `${seconds}.${String(millis).padStart(3, "0")}25`;
}
