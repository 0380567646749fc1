// Reading a Kubernetes watch stream in tests: JSON events, one per line.
import assert from "node:assert/strict";

type Json = Record<string, unknown>;

export interface WatchEvent {
  readonly type: string;
  readonly object: Json;
}

/** Reads a watch stream until `count` events arrived or the stream ended. */
export async function watchEvents(url: string, count: number, timeoutMs = 5000): Promise<WatchEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort();
  }, timeoutMs);
  const events: WatchEvent[] = [];
  try {
    const response = await fetch(url, { signal: controller.signal });
    assert.equal(response.status, 200);
    const reader = response.body?.getReader();
    assert.ok(reader !== undefined);
    const decoder = new TextDecoder();
    let buffered = "";
    while (events.length < count) {
      const chunk = (await reader.read()) as { done: boolean; value?: Uint8Array };
      if (chunk.done) break;
      buffered += decoder.decode(chunk.value, { stream: true });
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        events.push(JSON.parse(buffered.slice(0, newline)) as WatchEvent);
        buffered = buffered.slice(newline + 1);
      }
    }
    await reader.cancel();
  } catch (error: unknown) {
    if (!(error instanceof Error && error.name === "AbortError")) throw error;
  } finally {
    clearTimeout(timer);
  }
  return events;
}
