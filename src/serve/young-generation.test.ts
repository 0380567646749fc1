import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readFileSync } from "node:fs";
import { YOUNG_GENERATION_FLAG, youngGenerationHint } from "./young-generation.js";

describe("the young generation flag", () => {
  it("is asked for when node was started without it, and not when with it", () => {
    assert.match(youngGenerationHint([]) ?? "", /--min-semi-space-size=16/);
    assert.equal(youngGenerationHint(["--min-semi-space-size=16"]), undefined);
    assert.equal(
      youngGenerationHint(["--min-semi-space-size=32"]),
      undefined,
      "an operator's own size is kept",
    );
  });

  it("is what npm start and the image pass to node", () => {
    const root = new URL("../../../", import.meta.url);
    const scripts = (
      JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { scripts: Record<string, string> }
    ).scripts;
    assert.match(scripts["start"] ?? "", new RegExp(`node ${YOUNG_GENERATION_FLAG} bin/telex.js serve`));
    assert.match(
      readFileSync(new URL("Dockerfile", root), "utf8"),
      new RegExp(`"node", "${YOUNG_GENERATION_FLAG}"`),
    );
  });
});
