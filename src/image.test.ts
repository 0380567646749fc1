// The Dockerfile's structure, checked statically: building it (or running
// scripts/image-build-steps.sh, which carries its steps out on a clean clone
// where no Docker daemon answers) takes minutes because better-sqlite3
// compiles, too slow for every test run. What is checked here is what the
// manifests and `telex` rely on: multi-stage on Node 20 slim, native modules
// built, the shipped build compiled (src/ without tests) and dev dependencies
// pruned in the build stage and the result run there, a runtime stage that
// only copies, a numeric non-root user that is the
// manifests' runAsUser, the ports they use exposed, and an entrypoint that
// exists in what is copied.
import assert from "node:assert/strict";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parse } from "yaml";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions by stage: comments dropped, `\` continuations joined. */
function stages(text: string): Stage[] {
  const joined = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ");
  const result: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const line of joined.split("\n")) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const keyword = (match[1] ?? "").toUpperCase();
    const args = (match[2] ?? "").trim();
    if (keyword === "FROM") {
      const [image = "", as, name] = args.split(/\s+/);
      result.push({ from: image, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
      continue;
    }
    const stage = result.at(-1);
    assert.ok(stage, `${keyword} before FROM`);
    stage.instructions.push({ keyword, args });
  }
  return result;
}

const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");
const [build, runtime, ...more] = stages(dockerfile);
const runs = (stage: Stage | undefined) =>
  (stage?.instructions ?? []).filter((i) => i.keyword === "RUN").map((i) => i.args);

describe("Dockerfile", () => {
  it("has a build stage and a runtime stage, both Node 20 slim", () => {
    assert.ok(build && runtime, "two stages");
    assert.equal(more.length, 0, "two stages only");
    assert.equal(build.name, "build");
    for (const stage of [build, runtime]) assert.match(stage.from, /^node:20(-[a-z]+)?-slim$/, stage.from);
  });

  it("builds in the build stage: npm ci from the lockfile, native modules from source, tsc, prune, then runs the pruned tree", () => {
    const steps = runs(build).join(" && ");
    const order = [
      /npm ci\b/,
      /node-gyp rebuild|build-release/,
      /npm run build:release(?![-\w])/,
      /npm prune --omit=dev\b/,
      /node bin\/telex\.js --help/,
      /require\('better-sqlite3'\)/,
      /require\('snappy'\)/,
    ].map((pattern) => {
      const at = steps.search(pattern);
      assert.ok(at >= 0, `build stage runs ${String(pattern)}`);
      return at;
    });
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      "in this order",
    );
    assert.ok(
      build?.instructions.some((i) => i.keyword === "COPY" && /package-lock\.json/.test(i.args)),
      "the lockfile is copied",
    );
    assert.match(steps, /apt-get install[^&]*\bpython3\b[^&]*\bmake\b[^&]*\bg\+\+/, "node-gyp's toolchain");
  });

  it("compiles the shipped build only: src/ without tests, no test support, bench or scripts", () => {
    const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    // What tsconfig.build.json compiles is checked in src/layout.test.ts.
    assert.equal(manifest.scripts["build:release"], "tsc -p tsconfig.build.json");
    const copied = (build?.instructions ?? [])
      .filter((i) => i.keyword === "COPY")
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const path of ["src", "tsconfig.build.json"]) assert.ok(copied.includes(path), `${path} is copied`);
    for (const path of ["test-support", "bench", "scripts"]) {
      assert.ok(!copied.includes(path), `${path} is not copied`);
    }
  });

  it("only copies into the runtime stage, runs as a numeric non-root user that the manifests name", () => {
    for (const step of runs(runtime)) {
      assert.doesNotMatch(step, /\b(npm|apt-get|node-gyp)\b/, `runtime stage builds nothing: ${step}`);
    }
    const copies = (runtime?.instructions ?? []).filter((i) => i.keyword === "COPY");
    assert.ok(copies.length > 0);
    for (const copy of copies) assert.match(copy.args, /^--from=build\s/, copy.args);
    const user = runtime?.instructions.filter((i) => i.keyword === "USER").at(-1)?.args;
    assert.match(user ?? "", /^[1-9]\d*(:\d+)?$/, "a numeric non-root USER");
    const uid = Number((user ?? "").split(":")[0]);
    const statefulSet = parse(readFileSync(join(REPO, "deploy/base/statefulset.yaml"), "utf8")) as {
      spec: { template: { spec: { securityContext: { runAsUser: number; fsGroup: number } } } };
    };
    assert.equal(
      statefulSet.spec.template.spec.securityContext.runAsUser,
      uid,
      "runAsUser = the image's USER",
    );
    assert.match(runs(runtime).join(" "), new RegExp(`chown ${uid}:`), "the data directory belongs to it");
  });

  it("copies what the entrypoint needs and exposes the ingest and API ports", () => {
    const entrypoint = runtime?.instructions.find((i) => i.keyword === "ENTRYPOINT")?.args ?? "[]";
    const command = JSON.parse(entrypoint) as string[];
    assert.equal(command[0], "node");
    // node's own flags come first (the heap's sizes: src/serve/heap-flags.ts).
    const script = command.slice(1).find((argument) => !argument.startsWith("--")) ?? "";
    const copied = (runtime?.instructions ?? [])
      .filter((i) => i.keyword === "COPY")
      .map((i) => i.args.split(/\s+/).at(-1) ?? "");
    assert.ok(
      copied.some((dest) => script.startsWith(`${dest}/`)),
      `${script} is copied`,
    );
    // bin/telex.js imports ../dist/src/cli/main.js: dist/src must come along.
    assert.match(readFileSync(join(REPO, "bin/telex.js"), "utf8"), /\.\.\/dist\/src\/cli\/main\.js/);
    assert.ok(
      copied.some((dest) => dest.endsWith("/dist/src")),
      "dist/src is copied",
    );
    assert.ok(
      copied.some((dest) => dest.endsWith("/node_modules")),
      "node_modules is copied",
    );
    const exposed = (runtime?.instructions ?? [])
      .filter((i) => i.keyword === "EXPOSE")
      .flatMap((i) => i.args.split(/\s+/));
    assert.deepEqual(exposed.sort(), ["19291", "6443"]);
  });

  it("keeps the host's build products out of the context, and ships the script that runs its steps", () => {
    const ignored = readFileSync(join(REPO, ".dockerignore"), "utf8").split("\n");
    for (const path of ["node_modules", "dist", ".git"]) assert.ok(ignored.includes(path), path);
    const script = join(REPO, "scripts/image-build-steps.sh");
    accessSync(script, constants.X_OK);
    assert.match(readFileSync(script, "utf8"), /Dockerfile/);
  });
});
