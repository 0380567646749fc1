// Pull mode's preview: the store is asked what the policy's pull jobs would
// read, with the same scoped selectors (each `or` branch its own `match[]`,
// as export-runner sends them) — Prometheus' HTTP API, which VictoriaMetrics
// and Prometheus both serve:
// - /api/v1/series for each source's series of the last 5 minutes (at most
//   PREVIEW_LIMITS.maxStoreSeries + 1 asked, so "more than the cap" is
//   known); every series returned is checked for the project's tenant label
//   again, as the pull emitter checks what it reads, so a misbehaving store
//   cannot show another project's series;
// - /api/v1/query `sum(count_over_time(SELECTOR[1m]))` for samples per minute
//   in export mode (every sample is read); in federate mode a job reads the
//   latest sample of each series once per pull interval, so a sink gets
//   series × 60 s / interval a minute, and the store is not asked.
// A sink's job reads the union of its sources once, so its series are the
// union of theirs; its samples are summed per distinct selector branch (a
// series matching two different branches counts twice — the upper bound).
import type { Dispatcher } from "undici";
import { print } from "../../metricsql/index.js";
import { requestStore, storePool } from "../pull/http-failure.js";
import { PullError } from "../pull/pull-error.js";
import type { PreviewPlan } from "./push.js";
import {
  PREVIEW_LIMITS,
  SmallestStrings,
  formatSeries,
  roundRate,
  type PolicyPreview,
  type SourcePreview,
} from "./report.js";

/** Answers larger than this are refused: 10,001 series of 1 KB labels fit. */
const MAX_ANSWER_BYTES = 16 * 2 ** 20;
const REQUEST_TIMEOUT_MS = 10_000;

export interface PullPreviewOptions {
  /** The store's root, as --source-url (single-node root or vmselect's `/select/<account>/prometheus`). */
  readonly url: string;
  readonly tenantLabel: string;
  readonly nowMs: number;
  /** The pull jobs' mode: export reads every sample, federate the latest per interval. */
  readonly mode: "export" | "federate";
  readonly intervalMs: number;
}

/** Why the store could not answer: its message, for the caller's 502/504. */
export class StorePreviewError extends Error {
  override readonly name = "StorePreviewError";
  constructor(
    message: string,
    readonly timeout: boolean,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

async function readJson(pool: Dispatcher, path: string, form: URLSearchParams): Promise<Json> {
  let body: string;
  try {
    const response = await requestStore(
      pool,
      {
        method: "POST",
        path,
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: form.toString(),
      },
      AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    );
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ANSWER_BYTES) {
        response.body.destroy();
        throw new StorePreviewError(`the store's answer to ${path} exceeds ${MAX_ANSWER_BYTES} bytes`, false);
      }
      chunks.push(chunk as Buffer);
    }
    body = Buffer.concat(chunks).toString("utf8");
  } catch (error: unknown) {
    if (error instanceof StorePreviewError) throw error;
    if (error instanceof PullError)
      throw new StorePreviewError(`${path}: ${error.message}`, error.reason === "Timeout");
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    throw new StorePreviewError(
      `${path}: ${timedOut ? "no answer in time" : error instanceof Error ? error.message : String(error)}`,
      timedOut,
    );
  }
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Json;
  } catch {
    // Reported below with the start of the body.
  }
  throw new StorePreviewError(`${path}: not a JSON object: ${body.slice(0, 200)}`, false);
}

function apiPath(url: URL, endpoint: string): string {
  return `${url.pathname.replace(/\/+$/, "")}/api/v1/${endpoint}`;
}

/** Each branch of a scoped selector as one selector string, as the pull jobs send them. */
function branches(selector: PreviewPlan["sources"][number]["selector"]): string[] {
  return selector.groups.map((group) => print({ groups: [group] }));
}

export async function previewPull(plan: PreviewPlan, options: PullPreviewOptions): Promise<PolicyPreview> {
  const url = new URL(options.url);
  const pool = storePool(url.origin, REQUEST_TIMEOUT_MS, 2);
  const startSeconds = String(Math.floor(options.nowMs / 1000) - PREVIEW_LIMITS.recentMinutes * 60);
  const endSeconds = String(Math.floor(options.nowMs / 1000));
  let foreign = 0;

  /** The project's series matching any of the selectors, up to the cap (`more`: the store has others). */
  const seriesOf = async (selectors: readonly string[]): Promise<{ keys: string[]; more: boolean }> => {
    const form = new URLSearchParams();
    for (const selector of selectors) form.append("match[]", selector);
    form.set("start", startSeconds);
    form.set("end", endSeconds);
    form.set("limit", String(PREVIEW_LIMITS.maxStoreSeries + 1));
    const answer = await readJson(pool, apiPath(url, "series"), form);
    const data = answer["data"];
    if (answer["status"] !== "success" || !Array.isArray(data))
      throw new StorePreviewError(`/api/v1/series: ${JSON.stringify(answer).slice(0, 300)}`, false);
    const keys: string[] = [];
    for (const item of data) {
      if (typeof item !== "object" || item === null) continue;
      const labels = Object.entries(item as Record<string, unknown>).map(([name, value]) => ({
        name,
        value: String(value),
      }));
      if (labels.find((l) => l.name === options.tenantLabel)?.value !== plan.project) {
        foreign++;
        continue;
      }
      keys.push(formatSeries(labels));
    }
    // A store without `limit` (Prometheus before 2.49) returns everything: cut to the cap here.
    const more = data.length > PREVIEW_LIMITS.maxStoreSeries;
    return { keys: keys.slice(0, PREVIEW_LIMITS.maxStoreSeries), more };
  };

  const perMinuteOf = async (selector: string): Promise<number> => {
    if (options.mode === "federate") {
      const { keys } = await seriesOf([selector]);
      return (keys.length * 60_000) / options.intervalMs;
    }
    const form = new URLSearchParams();
    form.set("query", `sum(count_over_time(${selector}[1m]))`);
    form.set("time", endSeconds);
    const answer = await readJson(pool, apiPath(url, "query"), form);
    const data = answer["data"] as Json | undefined;
    if (answer["status"] !== "success" || typeof data !== "object")
      throw new StorePreviewError(`/api/v1/query: ${JSON.stringify(answer).slice(0, 300)}`, false);
    const result = data["result"];
    const first = Array.isArray(result) ? (result[0] as Json | undefined) : undefined;
    const value = Array.isArray(first?.["value"]) ? Number((first["value"] as unknown[])[1]) : 0;
    return Number.isFinite(value) ? value : 0;
  };

  try {
    const rates = new Map<string, number>();
    const rateOf = async (selector: string): Promise<number> => {
      let rate = rates.get(selector);
      if (rate === undefined) {
        rate = await perMinuteOf(selector);
        rates.set(selector, rate);
      }
      return rate;
    };
    const found = new Map<string, { keys: string[]; more: boolean }>();
    const sources: SourcePreview[] = [];
    for (const source of plan.sources) {
      const selectors = branches(source.selector);
      const result = await seriesOf(selectors);
      found.set(source.name, result);
      let perMinute = 0;
      for (const selector of selectors) perMinute += await rateOf(selector);
      const sample = new SmallestStrings(PREVIEW_LIMITS.sampleSeries);
      for (const key of result.keys) sample.offer(key);
      sources.push({
        name: source.name,
        series: result.keys.length,
        atLeast: result.more,
        samplesPerMinute: roundRate(perMinute),
        sample: sample.values,
        sinks: plan.sinks.filter((sink) => sink.sources.includes(source.name)).map((sink) => sink.name),
      });
    }
    const sinks = [];
    for (const sink of plan.sinks) {
      const union = new Set<string>();
      let more = false;
      const selectors = new Set<string>();
      for (const name of sink.sources) {
        const result = found.get(name);
        for (const key of result?.keys ?? []) union.add(key);
        more ||= result?.more ?? false;
        const source = plan.sources.find((s) => s.name === name);
        if (source !== undefined) for (const selector of branches(source.selector)) selectors.add(selector);
      }
      let perMinute = 0;
      for (const selector of selectors) perMinute += await rateOf(selector);
      sinks.push({
        name: sink.name,
        sources: sink.sources,
        series: union.size,
        atLeast: more,
        samplesPerMinute: roundRate(perMinute),
      });
    }
    const notes = [
      `series the store (${url.origin}) holds for the last ${PREVIEW_LIMITS.recentMinutes} minutes (VictoriaMetrics answers per day: series of today may be included); samples per minute from the store's last minute`,
    ];
    if (sources.some((s) => s.atLeast))
      notes.push(`counts stop at ${PREVIEW_LIMITS.maxStoreSeries} series per source`);
    if (foreign > 0)
      notes.push(
        `${foreign} series of other projects returned by the store were left out (as the pull jobs leave them out)`,
      );
    return {
      mode: "pull",
      selectors: plan.sources.map((source) => ({ source: source.name, scoped: print(source.selector) })),
      sources,
      sinks,
      notes,
    };
  } finally {
    await pool.close();
  }
}
