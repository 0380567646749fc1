// The tree's rules, checked. The shipped build (tsconfig.build.json, what the
// Dockerfile compiles) is src/ without its tests: no test support, bench or
// scripts, not even through an import. The lint rules of eslint.config.js
// that keep it so, and keep src/util and src/kube at the bottom of the tree,
// fire on probes: source text linted as if it were a file at a given path.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
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

// The repository's own eslint.config.js; only the import rules run, and
// without type information, so a probe needs no file on disk.
const IMPORT_RULES = new Set(["no-restricted-imports", "no-restricted-syntax"]);
const eslint = new ESLint({
  cwd: REPO,
  ruleFilter: ({ ruleId }) => IMPORT_RULES.has(ruleId),
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
});

/** `line:rule` of each import-rule error when `code` is linted as the file at `path`. */
async function importErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(REPO, path) });
  assert.ok(result, path);
  assert.deepEqual(
    result.messages.filter((m) => m.fatal === true).map((m) => m.message),
    [],
    `${path} parses`,
  );
  return result.messages
    .filter((m) => m.ruleId !== null && IMPORT_RULES.has(m.ruleId))
    .map((m) => `${m.line}:${m.ruleId ?? ""}`);
}

const IMPORTS_TEST_SUPPORT = (up: string) =>
  [
    `import { Random } from "${up}test-support/random.js";`,
    `import type { CountingReceiver } from "${up}test-support/counting-receiver.js";`,
    `export { ManualClock } from "${up}test-support/manual-clock.js";`,
    `export const load = () => import("${up}test-support/peers.js");`,
    `export type Peers = typeof import("${up}test-support/peers.js");`,
    `export const used: [typeof Random, CountingReceiver | undefined] = [Random, undefined];`,
  ].join("\n");

describe("the lint rule that keeps test code out of the product", () => {
  it("fails product code under src/ that imports test support, statically, as a type or dynamically", async () => {
    assert.deepEqual(await importErrors("src/exporter/sink/probe.ts", IMPORTS_TEST_SUPPORT("../../../")), [
      "1:no-restricted-imports",
      "2:no-restricted-imports",
      "3:no-restricted-imports",
      "4:no-restricted-syntax",
      "5:no-restricted-syntax",
    ]);
    assert.deepEqual(await importErrors("src/probe.ts", IMPORTS_TEST_SUPPORT("../")), [
      "1:no-restricted-imports",
      "2:no-restricted-imports",
      "3:no-restricted-imports",
      "4:no-restricted-syntax",
      "5:no-restricted-syntax",
    ]);
  });

  it("fails product code that imports a test file", async () => {
    assert.deepEqual(
      await importErrors("src/exporter/sink/probe.ts", `export { RECEIVED } from "./pipeline.test.js";`),
      ["1:no-restricted-imports"],
    );
  });

  it("lets tests, test support, bench and scripts import test support", async () => {
    assert.deepEqual(
      await importErrors("src/exporter/sink/probe.test.ts", IMPORTS_TEST_SUPPORT("../../../")),
      [],
    );
    assert.deepEqual(await importErrors("src/probe.test.ts", IMPORTS_TEST_SUPPORT("../")), []);
    assert.deepEqual(await importErrors("test-support/probe.ts", IMPORTS_TEST_SUPPORT("./")), []);
    assert.deepEqual(await importErrors("bench/probe.ts", IMPORTS_TEST_SUPPORT("../")), []);
    assert.deepEqual(await importErrors("scripts/probe.ts", IMPORTS_TEST_SUPPORT("../")), []);
  });

  it("lets product code import the product", async () => {
    const code = [
      `import { KubeClient } from "../../kube/index.js";`,
      `import { systemClock } from "../../util/index.js";`,
      `import { encodeWriteRequest } from "../../remotewrite/index.js";`,
      `export const used = [KubeClient, systemClock, encodeWriteRequest];`,
    ].join("\n");
    assert.deepEqual(await importErrors("src/exporter/sink/probe.ts", code), []);
  });
});

describe("the lint rules that keep src/util and src/kube at the bottom", () => {
  const importing = (paths: readonly string[]) =>
    [
      ...paths.map((path, i) => `import * as m${i} from "${path}";`),
      `export const used = [${paths.map((_, i) => `m${i}`).join(", ")}];`,
    ].join("\n");

  it("src/kube imports src/util and nothing else of src/", async () => {
    const code = importing([
      "../util/index.js",
      "./client.js",
      "../controller/access.js",
      "../api/index.js",
      "../exporter/exporter.js",
      "../cli/main.js",
      "../../bench/harness.js",
    ]);
    assert.deepEqual(await importErrors("src/kube/probe.ts", code), [
      "3:no-restricted-imports",
      "4:no-restricted-imports",
      "5:no-restricted-imports",
      "6:no-restricted-imports",
      "7:no-restricted-imports",
    ]);
  });

  it("src/util imports nothing of src/", async () => {
    const code = importing(["./clock.js", "../kube/index.js", "../exporter/exporter.js"]);
    assert.deepEqual(await importErrors("src/util/probe.ts", code), [
      "2:no-restricted-imports",
      "3:no-restricted-imports",
    ]);
  });

  it("keeps the test-code rules for their product files, and lets their tests use test support", async () => {
    const support = `import { Random } from "../../test-support/random.js";\nexport const used = Random;`;
    assert.deepEqual(await importErrors("src/kube/probe.ts", support), ["1:no-restricted-imports"]);
    assert.deepEqual(await importErrors("src/util/probe.ts", support), ["1:no-restricted-imports"]);
    assert.deepEqual(await importErrors("src/kube/probe.test.ts", support), []);
    assert.deepEqual(await importErrors("src/util/probe.test.ts", support), []);
    assert.deepEqual(
      await importErrors(
        "src/kube/probe.test.ts",
        `import { Controller } from "../controller/controller.js";\nexport const used = Controller;`,
      ),
      ["1:no-restricted-imports"],
    );
  });
});
