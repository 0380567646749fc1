// Node 20 sizes V8's heap from the machine's memory, not from the container's
// limit: on a 24 GiB node the old space may grow to 4 GiB before V8 collects
// in earnest, and a container limited to 512 MiB is killed long before. The
// heap limit is a flag (NODE_OPTIONS=--max-old-space-size=MB) that cannot be
// changed once the process runs, so `telex serve` warns when it does not fit
// the cgroup's limit and says what to set (README, "A 1 GiB backlog").
import { readFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";

const MIB = 2 ** 20;

/** cgroup v2, then v1: the memory limit of the process's cgroup. */
const CGROUP_LIMIT_FILES = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"];

/** cgroup v1 spells "no limit" as a number near 2⁶³. */
const NO_LIMIT_ABOVE = 2 ** 60;

/**
 * The memory limit of the container in bytes; undefined without one (or
 * when no cgroup file can be read, e.g. not on Linux).
 */
export function cgroupMemoryLimit(
  read: (path: string) => string = (path) => readFileSync(path, "utf8"),
): number | undefined {
  for (const path of CGROUP_LIMIT_FILES) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue;
    }
    if (text === "max") return undefined;
    const bytes = Number(text);
    if (!Number.isFinite(bytes) || bytes <= 0 || bytes >= NO_LIMIT_ABOVE) return undefined;
    return bytes;
  }
  return undefined;
}

/**
 * The old-space size (MiB) recommended for a container of `limitBytes`:
 * half of it. The rest is what the backlog benchmark measured beside the
 * heap: V8's young generation and code, array buffers (samples, request
 * bodies, read windows) and the allocator's own.
 */
export function recommendedHeapMiB(limitBytes: number): number {
  return Math.max(64, Math.floor(limitBytes / 2 / MIB));
}

/**
 * A warning when V8 may grow its heap past what the container allows (more
 * than three quarters of the limit); undefined when it fits or there is no limit.
 */
export function heapLimitWarning(
  heapLimitBytes: number = getHeapStatistics().heap_size_limit,
  limitBytes: number | undefined = cgroupMemoryLimit(),
): string | undefined {
  if (limitBytes === undefined || heapLimitBytes <= 0.75 * limitBytes) return undefined;
  return (
    `the V8 heap may grow to ${Math.round(heapLimitBytes / MIB)} MiB in a container limited to ` +
    `${Math.round(limitBytes / MIB)} MiB (Node does not size it from the cgroup): ` +
    `set NODE_OPTIONS=--max-old-space-size=${recommendedHeapMiB(limitBytes)}`
  );
}
