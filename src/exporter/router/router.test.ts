import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileSelector, parse, scope } from "../../metricsql/index.js";
import { InvalidLabelsError, encodeLabels, type Label } from "../../remotewrite/index.js";
import type { SeriesRef } from "../series.js";
import { Router, SourceStats, type CompiledSource, type SampleTarget } from "./router.js";
import { SeriesCache, hashBytes, hashRange } from "./series-cache.js";

const TENANT = "tenant";

class Recorder implements SampleTarget {
  readonly pushed: [SeriesRef, number, number][] = [];
  push(series: SeriesRef, value: number, timestampMs: number): void {
    this.pushed.push([series, value, timestampMs]);
  }
}

function source(project: string, selector: string, ...targets: SampleTarget[]): CompiledSource {
  return {
    matcher: compileSelector(scope(parse(selector), { tenantLabel: TENANT, project })),
    targets,
    stats: new SourceStats(),
  };
}

const bytes = (labels: Record<string, string>) =>
  encodeLabels(Object.entries(labels).map(([name, value]): Label => ({ name, value })));

describe("Router", () => {
  it("routes a series to the sinks of its own project's matching sources only", () => {
    const router = new Router({ tenantLabel: TENANT, maxCachedSeries: 100 });
    const a = new Recorder();
    const b = new Recorder();
    router.setProject("p1", [source("p1", '{kind="Gateway"}', a)]);
    router.setProject("p2", [source("p2", "{}", b)]);
    const route = router.resolve(bytes({ __name__: "up", kind: "Gateway", tenant: "p1" }));
    assert.ok(typeof route === "object");
    assert.deepEqual(route.targets, [a]);
    assert.equal(router.resolve(bytes({ __name__: "up", kind: "Proxy", tenant: "p1" })), "not-selected");
    assert.equal(router.resolve(bytes({ __name__: "up", kind: "Gateway" })), "no-tenant");
    assert.equal(router.resolve(bytes({ __name__: "up", tenant: "p3" })), "not-selected");
  });

  it("hands out the ref of a cached series by its label bytes, without routing anything new", () => {
    const router = new Router({ tenantLabel: TENANT, maxCachedSeries: 100 });
    router.setProject("p1", [source("p1", "{}", new Recorder())]);
    const route = router.resolve(bytes({ __name__: "up", tenant: "p1" }));
    assert.ok(typeof route === "object");
    assert.equal(router.cachedSeries(bytes({ __name__: "up", tenant: "p1" })), route.series);
    const misses = router.cacheMisses;
    assert.equal(router.cachedSeries(bytes({ __name__: "down", tenant: "p1" })), undefined);
    assert.equal(router.resolve(bytes({ __name__: "up", tenant: "p2" })), "not-selected");
    assert.equal(
      router.cachedSeries(bytes({ __name__: "up", tenant: "p2" })),
      undefined,
      "not routed: no ref",
    );
    assert.equal(router.cacheMisses, misses + 1, "only resolve() counts");
  });

  it("sends a series matching two sources of one sink twice (no de-duplication)", () => {
    const router = new Router({ tenantLabel: TENANT, maxCachedSeries: 100 });
    const sink = new Recorder();
    router.setProject("p1", [source("p1", '{kind="Gateway"}', sink), source("p1", "up", sink)]);
    const route = router.resolve(bytes({ __name__: "up", kind: "Gateway", tenant: "p1" }));
    assert.ok(typeof route === "object");
    assert.deepEqual(route.targets, [sink, sink]);
    assert.equal(route.sources.length, 2);
  });

  it("answers from the cache, and recomputes only the changed project's series", () => {
    const router = new Router({ tenantLabel: TENANT, maxCachedSeries: 100 });
    const first = new Recorder();
    const second = new Recorder();
    router.setProject("p1", [source("p1", "{}", first)]);
    router.setProject("p2", [source("p2", "{}", first)]);
    const s1 = bytes({ __name__: "up", tenant: "p1" });
    const s2 = bytes({ __name__: "up", tenant: "p2" });
    router.resolve(s1);
    router.resolve(s2);
    assert.equal(router.cacheMisses, 2);
    router.resolve(Uint8Array.from(s1));
    assert.equal(router.cacheHits, 1, "same bytes in another buffer hit the cache");
    router.setProject("p1", [source("p1", "{}", second)]);
    const again = router.resolve(s1);
    assert.ok(typeof again === "object");
    assert.deepEqual(again.targets, [second], "new policy takes effect");
    router.resolve(s2);
    assert.equal(router.cacheMisses, 3, "p2's series stayed cached");
    router.setProject("p1", []);
    assert.equal(router.resolve(s1), "not-selected");
  });

  it("re-encodes unsorted or empty-valued labels, passes canonical bytes through", () => {
    const router = new Router({ tenantLabel: TENANT, maxCachedSeries: 100 });
    router.setProject("p1", [source("p1", "{}", new Recorder())]);
    const canonical = bytes({ __name__: "up", tenant: "p1" });
    const routed = router.resolve(canonical);
    assert.ok(typeof routed === "object");
    assert.deepEqual(routed.series.labelBytes, canonical);
    // Hand-built: tenant before __name__, plus an empty label.
    const unsorted = Buffer.concat([
      bytes({ tenant: "p1" }),
      bytes({ __name__: "up" }),
      labelField("empty", ""),
    ]);
    const fixed = router.resolve(unsorted);
    assert.ok(typeof fixed === "object");
    assert.deepEqual(fixed.series.labelBytes, canonical);
  });

  it("rejects invalid and repeated label names the first time a series is seen", () => {
    const router = new Router({ tenantLabel: TENANT, maxCachedSeries: 100 });
    assert.throws(() => router.resolve(labelField("bad-name", "x")), InvalidLabelsError);
    assert.throws(
      () => router.resolve(Buffer.concat([labelField("a", "1"), labelField("a", "2")])),
      InvalidLabelsError,
    );
  });
});

describe("Router label limits", () => {
  const limits = { maxLabels: 4, maxNameBytes: 8, maxValueBytes: 6, maxSeriesBytes: 60 };

  it("drops a series over a limit with its reason, every time, caching none of it", () => {
    const router = new Router({ tenantLabel: TENANT, labelLimits: limits });
    router.setProject("p1", [source("p1", "{}", new Recorder())]);
    const over: [string, Uint8Array][] = [
      ["too_many_labels", bytes({ __name__: "up", a: "1", b: "2", tenant: "p1", z: "3" })],
      ["label_name_too_long", bytes({ __name__: "up", abcdefghi: "1", tenant: "p1" })],
      // Six characters, seven bytes.
      ["label_value_too_long", bytes({ __name__: "up", v: "abcdeé", tenant: "p1" })],
      // Under every per-label limit; 63 bytes in all.
      ["labels_too_large", bytes({ __name__: "up", abcdefgh: "123456", b: "123456", tenant: "p1" })],
    ];
    for (const [reason, series] of over) {
      assert.equal(router.resolve(series), reason);
      assert.equal(router.resolve(series), reason, `${reason} again`);
    }
    assert.equal(router.cachedBytes, 0, "nothing cached");
    const atLimits = bytes({ __name__: "up", abcdefgh: "abcdé", tenant: "p1" });
    assert.equal(typeof router.resolve(atLimits), "object");
    assert.equal(router.cachedBytes, atLimits.length);
  });
});

describe("SeriesCache", () => {
  it("tells apart keys whose hashes collide", () => {
    const cache = new SeriesCache<string>(100);
    const a = Buffer.of(1, 2, 3);
    const b = Buffer.of(4, 5, 6);
    cache.set(a, 0, 3, 7, "a");
    cache.set(b, 0, 3, 7, "b");
    assert.equal(cache.get(a, 0, 3, 7)?.value, "a");
    assert.equal(cache.get(b, 0, 3, 7)?.value, "b");
    assert.equal(cache.get(a, 0, 2, 7), undefined);
  });

  it("finds a key wherever it lies in a request, and keeps its own copy", () => {
    const cache = new SeriesCache<string>(100);
    const request = Buffer.of(9, 9, 1, 2, 3, 9);
    const hash = hashRange(new DataView(request.buffer, request.byteOffset, request.length), request, 2, 5);
    assert.equal(hash, hashBytes(Uint8Array.of(1, 2, 3)));
    cache.set(request, 2, 5, hash, "series");
    request.fill(0);
    const elsewhere = Buffer.of(1, 2, 3);
    assert.equal(cache.get(elsewhere, 0, 3, hash)?.value, "series");
  });

  it("stays bounded, keeping entries in use", () => {
    const cache = new SeriesCache<number>(10);
    const hot = Buffer.of(255);
    cache.set(hot, 0, 1, hashBytes(hot), -1);
    for (let i = 0; i < 100; i++) {
      const key = Buffer.of(i, i);
      cache.set(key, 0, 2, hashBytes(key), i);
      assert.ok(cache.get(hot, 0, 1, hashBytes(hot)), `hot entry kept at ${i}`);
      assert.ok(cache.size <= 12, `size ${cache.size}`);
    }
    assert.equal(
      cache.get(Buffer.of(0, 0), 0, 2, hashBytes(Uint8Array.of(0, 0))),
      undefined,
      "cold entry evicted",
    );
  });

  it("stays within its key bytes, keeping entries in use", () => {
    const cache = new SeriesCache<number>(1_000_000, 1000);
    const hot = Buffer.alloc(100, 255);
    cache.set(hot, 0, 100, hashBytes(hot), -1);
    for (let i = 0; i < 100; i++) {
      const key = Buffer.alloc(100, i);
      cache.set(key, 0, 100, hashBytes(key), i);
      assert.ok(cache.get(hot, 0, 100, hashBytes(hot)), `hot entry kept at ${i}`);
      assert.ok(cache.keyBytes <= 1000 + 100, `key bytes ${cache.keyBytes}`);
    }
    assert.ok(cache.size <= 11, `size ${cache.size}`);
    const cold = Buffer.alloc(100, 0);
    assert.equal(cache.get(cold, 0, 100, hashBytes(cold)), undefined, "cold entry evicted");
  });

  it("follows the order series came in last time, never to another key or an evicted entry", () => {
    const cache = new SeriesCache<string>(4);
    const key = (n: number) => Buffer.of(n, n, n);
    const a = cache.set(key(1), 0, 3, hashBytes(key(1)), "a");
    const b = cache.set(key(2), 0, 3, hashBytes(key(2)), "b");
    a.next = b;
    assert.equal(cache.follow(a, key(2), 0, 3), b);
    assert.equal(cache.follow(a, key(3), 0, 3), undefined, "other bytes: look them up");
    assert.equal(cache.follow(b, key(2), 0, 3), undefined, "nothing followed b yet");
    // Four more entries push a and b out of both generations.
    for (let n = 10; n < 14; n++) cache.set(key(n), 0, 3, hashBytes(key(n)), String(n));
    assert.equal(cache.get(key(2), 0, 3, hashBytes(key(2))), undefined);
    assert.equal(cache.follow(a, key(2), 0, 3), undefined, "an evicted entry is not brought back");
    assert.equal(a.next, undefined, "evicted entries are unlinked");
  });

  it("routes series sent in a repeating order through follow, and changes of order through the hash", () => {
    const router = new Router({ tenantLabel: TENANT, maxCachedSeries: 100 });
    router.setProject("p1", [source("p1", '{kind="Gateway"}', new Recorder())]);
    const series = ["Gateway", "Proxy", "Gateway", "Other"].map((kind, i) =>
      bytes({ __name__: `m${i}`, kind, tenant: "p1" }),
    );
    const request = Buffer.concat(series);
    const ranges = series.map((_, i) => {
      const start = series.slice(0, i).reduce((sum, s) => sum + s.length, 0);
      return [start, start + (series[i]?.length ?? 0)] as const;
    });
    const kinds = (order: number[]) =>
      order.map((i) => {
        const [start, end] = ranges[i] ?? [0, 0];
        const route = router.resolve(request, start, end);
        return typeof route === "string" ? route : "routed";
      });
    assert.deepEqual(kinds([0, 1, 2, 3]), ["routed", "not-selected", "routed", "not-selected"]);
    assert.equal(router.cacheMisses, 4);
    assert.deepEqual(kinds([0, 1, 2, 3]), ["routed", "not-selected", "routed", "not-selected"]);
    assert.deepEqual(kinds([3, 2, 1, 0]), ["not-selected", "routed", "not-selected", "routed"]);
    assert.equal(router.cacheMisses, 4, "all hits, in either order");
  });

  it("hashes every byte", () => {
    const base = new Uint8Array(37).fill(9);
    const seen = new Set([hashBytes(base)]);
    for (let i = 0; i < base.length; i++) {
      const changed = base.slice();
      changed[i] = 10;
      seen.add(hashBytes(changed));
    }
    assert.equal(seen.size, 38);
  });
});

/** One TimeSeries `labels` field, written by hand (encodeLabels would refuse or fix it). */
function labelField(name: string, value: string): Uint8Array {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  const inner = Buffer.concat([Buffer.of(0x0a, n.length), n, Buffer.of(0x12, v.length), v]);
  return Buffer.concat([Buffer.of(0x0a, inner.length), inner]);
}
