// What the API server's calls to replicas' internal endpoints share (fleet
// previews, delivery reports): a capped answer, the reading of a refusal,
// and how a replica that could not be asked is described.

/** A replica's answer that is not what was asked for (too large, not the expected JSON). */
export class ReplicaAnswerError extends Error {
  override readonly name = "ReplicaAnswerError";
}

/** The body, at most `limit` bytes; ReplicaAnswerError beyond (leaving the loop cancels the stream). */
export async function readCapped(response: Response, limit: number): Promise<string> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > limit) throw new ReplicaAnswerError(`its answer exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** JSON with the replicas' ingest token, when they have one. */
export function replicaHeaders(
  token: string | undefined,
  extra: Record<string, string> = {},
): Record<string, string> {
  const headers: Record<string, string> = { Accept: "application/json", ...extra };
  if (token !== undefined) headers["Authorization"] = `Bearer ${token}`;
  return headers;
}

/** Why a replica's HTTP answer is not the one asked for, with what to do about the usual ones. */
export function replicaRefusal(status: number, text: string, notServed: string): string {
  const body = text.trim().slice(0, 200);
  if (status === 401)
    return `refused the request (401 ${body}): give telex serve --api-only the replicas' --ingest-token-file`;
  if (status === 404) return notServed;
  return `answered HTTP ${status}: ${body}`;
}

/** A call that got no answer: timed out, or could not connect (by the system's error code when there is one). */
export function unanswered(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError")
    return `did not answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: unknown } }).cause?.code;
  const reason = typeof cause === "string" ? cause : error instanceof Error ? error.message : String(error);
  return `could not be asked (${reason})`;
}
