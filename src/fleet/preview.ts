// `telex preview` in a push fleet, asked of `telex serve --api-only`: each
// replica holds only the series ingested through it (its route cache), so
// the API server asks every live replica (FleetView: their Leases give the
// ingest URLs) at PREVIEW_PATH on its ingest listener, with the ingest token
// the replicas share, and merges the answers (src/exporter/preview/merge.ts):
// series distinct across replicas, samples per minute summed, the smallest
// sample series. Each replica scopes the policy to the project itself, with
// its own tenant label, exactly as when it runs the policy.
//
// Bounded: all replicas are asked at once, each answer within
// FLEET_PREVIEW_DEFAULTS.timeoutMs and maxAnswerBytes; a replica that does not
// answer in time, refuses or cannot be reached is named in a note and the
// counts become "at least" — a preview never waits on a dead replica for
// longer than the timeout.
import type { ExportPolicy } from "../api/index.js";
import { PREVIEW_PATH } from "../exporter/ingest/server.js";
import {
  PREVIEW_LIMITS,
  PreviewAnswerError,
  SKETCH_SIZE,
  mergePushPreviews,
  parsePushPreviewParts,
  type PolicyPreview,
  type PushPreviewParts,
} from "../exporter/preview/index.js";
import {
  ReplicaAnswerError,
  readCapped,
  replicaHeaders,
  replicaRefusal,
  unanswered,
} from "./replica-call.js";
import type { FleetView, LiveReplica } from "./view.js";

export const FLEET_PREVIEW_DEFAULTS = {
  /** A replica examines at most 100,000 series (about 50 ms of CPU): 5 s leaves room for a busy one. */
  timeoutMs: 5_000,
  /**
   * An answer is at most 1,024 hashes per source and sink (40 of them: about
   * 0.7 MB) and 10 series of at most 8 KiB labels per source (1.6 MB): 4 MiB
   * is room, and the most one preview holds per replica.
   */
  maxAnswerBytes: 4 * 2 ** 20,
} as const;

export interface FleetPreviewOptions {
  readonly view: FleetView;
  /** The replicas' ingest token (their --ingest-token-file); none when their ingest is open. */
  readonly token?: string;
  readonly timeoutMs?: number;
  readonly maxAnswerBytes?: number;
}

/** No replica could answer: the reason, for a 503. */
export class FleetPreviewError extends Error {
  override readonly name = "FleetPreviewError";
}

type Asked =
  | { readonly ok: true; readonly parts: PushPreviewParts }
  | { readonly ok: false; readonly problem: string; readonly pullMode?: true };

const NOT_SERVED =
  "does not serve previews (404): a replica of an older Telex, or one whose ingest is open (no --ingest-token-file) on a non-loopback address, where it answers no preview";

async function ask(
  replica: LiveReplica & { readonly ingestUrl: string },
  body: string,
  plan: { readonly sources: readonly string[]; readonly sinks: readonly string[] },
  options: FleetPreviewOptions,
): Promise<Asked> {
  const timeoutMs = options.timeoutMs ?? FLEET_PREVIEW_DEFAULTS.timeoutMs;
  const headers = replicaHeaders(options.token, { "Content-Type": "application/json" });
  try {
    const response = await fetch(new URL(PREVIEW_PATH, replica.ingestUrl), {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await readCapped(response, options.maxAnswerBytes ?? FLEET_PREVIEW_DEFAULTS.maxAnswerBytes);
    // A pull-mode replica's listener takes its peers' delivery metrics only (409 there).
    if (response.status === 409)
      return { ok: false, problem: "reads a metrics store (pull mode)", pullMode: true };
    if (response.status !== 200)
      return { ok: false, problem: replicaRefusal(response.status, text, NOT_SERVED) };
    return { ok: true, parts: parsePushPreviewParts(JSON.parse(text) as unknown, plan) };
  } catch (error: unknown) {
    if (
      error instanceof ReplicaAnswerError ||
      error instanceof PreviewAnswerError ||
      error instanceof SyntaxError
    )
      return { ok: false, problem: `answered no preview: ${error.message}` };
    return { ok: false, problem: unanswered(error, timeoutMs) };
  }
}

/** The policy's push preview from every live replica's series, merged; FleetPreviewError when none answers. */
export async function previewFleet(
  request: { readonly project: string; readonly policy: ExportPolicy },
  options: FleetPreviewOptions,
): Promise<PolicyPreview> {
  const live = options.view.live();
  if (live.length === 0)
    throw new FleetPreviewError(
      "no replica of the fleet is live (no replica Lease was renewed within its duration): no series were ingested to preview",
    );
  const reachable = live.filter((r): r is LiveReplica & { ingestUrl: string } => r.ingestUrl !== undefined);
  const silent = live.filter((r) => r.ingestUrl === undefined).map((r) => r.name);
  const pullModeError = (names: readonly string[]) =>
    new FleetPreviewError(
      `the live replicas (${names.join(", ")}) read a metrics store (pull mode): no series are ingested through them; start telex serve --api-only with their --source-url (and --pull-mode, --tenant-label) to preview from it`,
    );
  if (reachable.length === 0) throw pullModeError(silent);
  const plan = {
    sources: request.policy.spec.sources.map((s) => s.name),
    sinks: request.policy.spec.sinks.map((s) => s.name),
  };
  const body = JSON.stringify({ project: request.project, policy: request.policy });
  const asked = await Promise.all(reachable.map((replica) => ask(replica, body, plan, options)));
  const answers: PushPreviewParts[] = [];
  const problems: string[] = silent.map((name) => `replica ${name} publishes no ingest URL (pull mode?)`);
  const pulling = [...silent];
  asked.forEach((outcome, i) => {
    const name = reachable[i]?.name ?? "?";
    if (outcome.ok) answers.push(outcome.parts);
    else {
      problems.push(`replica ${name} ${outcome.problem}`);
      if (outcome.pullMode === true) pulling.push(name);
    }
  });
  if (answers.length === 0 && pulling.length === live.length) throw pullModeError(pulling);
  if (answers.length === 0) throw new FleetPreviewError(`no replica answered: ${problems.join("; ")}`);
  const merged = mergePushPreviews(answers);
  const incomplete = problems.length > 0;
  const answered = reachable.filter((_, i) => asked[i]?.ok === true).map((r) => r.name);
  const notes = [
    `series whose samples reached the ingest of the fleet's replicas in the last ${PREVIEW_LIMITS.recentMinutes} minutes (${answered.length} of ${live.length} live replicas answered: ${answered.join(", ")}); a series ingested through several replicas counts once; samples per minute are summed over the replicas, each estimated from its series' last two minutes`,
  ];
  // The replicas' own notes after their first (which says what the figures rest on, as above), once each.
  for (const note of new Set(answers.flatMap((a) => a.notes.slice(1)))) notes.push(note);
  if (merged.estimated)
    notes.push(
      `a replica matched more than ${SKETCH_SIZE} series: distinct counts across replicas are estimated (within about 3 %)`,
    );
  for (const problem of problems)
    notes.push(`warning: ${problem}; the series ingested through it are missing: counts are lower bounds`);
  return {
    mode: "push",
    selectors: merged.selectors,
    sources: merged.sources.map((s) => ({ ...s, atLeast: s.atLeast || incomplete })),
    sinks: merged.sinks.map((s) => ({ ...s, atLeast: s.atLeast || incomplete })),
    notes,
  };
}
