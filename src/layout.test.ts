// The tree's rules, checked. The shipped build (tsconfig.build.json, what the
// Dockerfile compiles) is src/ without its tests: no test support, bench or
// scripts, not even through an import.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

const compiled = new Map<string, string[]>();

/** Repository-relative paths of the files a tsconfig compiles, imports followed (node_modules left out). */
function compiledFiles(config: string): string[] {
  const known = compiled.get(config);
  if (known !== undefined) return known;
  const parsed = ts.getParsedCommandLineOfConfigFile(join(REPO, config), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
    },
  });
  assert.ok(parsed, config);
  assert.deepEqual(parsed.errors, [], config);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const files = program
    .getSourceFiles()
    .map((file) => relative(REPO, file.fileName).split(sep).join("/"))
    .filter((path) => !path.split("/").includes("node_modules"))
    .sort();
  compiled.set(config, files);
  return files;
}

function productFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(join(REPO, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) productFiles(path, out);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

describe("the shipped build", () => {
  it("compiles exactly the product: every file of src/ but its tests, nothing from elsewhere", () => {
    const shipped = compiledFiles("tsconfig.build.json");
    assert.deepEqual(
      shipped.filter((path) => !path.startsWith("src/") || path.endsWith(".test.ts")),
      [],
      "test files, test support, bench or scripts in the shipped build",
    );
    assert.deepEqual(shipped, productFiles("src").sort());
  });

  it("is a part of what `npm test` compiles, which has the tests, test support, bench and scripts too", () => {
    const all = new Set(compiledFiles("tsconfig.json"));
    for (const path of compiledFiles("tsconfig.build.json")) assert.ok(all.has(path), path);
    for (const path of [
      "src/layout.test.ts",
      "test-support/peers.ts",
      "test-support/peers.test.ts",
      "bench/index.ts",
      "scripts/run-tests.ts",
    ]) {
      assert.ok(all.has(path), path);
    }
  });
});
