import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cgroupMemoryLimit, heapLimitWarning, recommendedHeapMiB } from "./heap-limit.js";

const MIB = 2 ** 20;

function files(contents: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = contents[path];
    if (text === undefined) throw new Error(`ENOENT: ${path}`);
    return text;
  };
}

describe("heap limit", () => {
  it("reads the container's memory limit from cgroup v2 or v1, and knows 'no limit' in both", () => {
    assert.equal(cgroupMemoryLimit(files({ "/sys/fs/cgroup/memory.max": "536870912\n" })), 512 * MIB);
    assert.equal(cgroupMemoryLimit(files({ "/sys/fs/cgroup/memory.max": "max\n" })), undefined);
    assert.equal(
      cgroupMemoryLimit(files({ "/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n" })),
      1024 * MIB,
    );
    assert.equal(
      cgroupMemoryLimit(files({ "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n" })),
      undefined,
    );
    assert.equal(cgroupMemoryLimit(files({})), undefined);
  });

  it("warns when the heap may outgrow the container, recommending half of its limit", () => {
    const warning = heapLimitWarning(4144 * MIB, 512 * MIB);
    assert.match(warning ?? "", /4144 MiB in a container limited to 512 MiB/);
    assert.match(warning ?? "", /NODE_OPTIONS=--max-old-space-size=256$/);
    assert.equal(heapLimitWarning(300 * MIB, 512 * MIB), undefined, "fits");
    assert.equal(heapLimitWarning(4144 * MIB, undefined), undefined, "no limit");
    assert.equal(recommendedHeapMiB(96 * MIB), 64, "never below 64 MiB");
  });
});
