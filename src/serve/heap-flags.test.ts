import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readFileSync } from "node:fs";
import { HEAP_FLAGS, heapFlagsHint } from "./heap-flags.js";

describe("the heap flags", () => {
  it("are asked for when node was started without them, and not when with them", () => {
    assert.match(heapFlagsHint([]) ?? "", /--min-semi-space-size=16 --initial-old-space-size=64:/);
    assert.match(heapFlagsHint(["--min-semi-space-size=16"]) ?? "", /without --initial-old-space-size=64:/);
    assert.equal(heapFlagsHint([...HEAP_FLAGS]), undefined);
    assert.equal(
      heapFlagsHint(["--min-semi-space-size=32", "--initial-old-space-size=128"]),
      undefined,
      "an operator's own sizes are kept",
    );
  });

  it("are what npm start and the image pass to node", () => {
    const root = new URL("../../../", import.meta.url);
    const scripts = (
      JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { scripts: Record<string, string> }
    ).scripts;
    assert.match(scripts["start"] ?? "", new RegExp(`node ${HEAP_FLAGS.join(" ")} bin/telex.js serve`));
    assert.match(scripts["demo"] ?? "", new RegExp(`node ${HEAP_FLAGS.join(" ")} bin/telex.js serve --demo`));
    assert.match(
      readFileSync(new URL("Dockerfile", root), "utf8"),
      new RegExp(`"node", ${HEAP_FLAGS.map((flag) => `"${flag}"`).join(", ")}, "/app/bin/telex.js"`),
    );
  });
});
