// Deterministic property tests: seeded random input, fixed iteration counts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LabelFilter, MatchOp, Selector } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import { parse } from "./parser.js";
import { print } from "./printer.js";
import { scope } from "./scope.js";

const TENANT = "resourcemanager_datumapis_com_project_name";

/** mulberry32: small, fast, good enough to drive test input. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(limit: number): number {
    return Math.floor(this.next() * limit);
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}

// Heavy on the characters the grammar cares about, plus a few that it must refuse.
const SYNTAX_PIECES = [
  ...Array.from("{}()[],=!~\"'`\\#\n\t :._-+*/@$;0123456789abcxyzOR"),
  "or",
  "or ",
  "__name__",
  "offset",
  "sum",
  "rate(",
  "WITH (",
  "\\x",
  "\\u00",
  "\\U0001",
  "\\1",
  "é",
  "😀",
  "\ud800",
  "\udc00",
  "\u00a0",
  "\u2028",
  "\x00",
  "inf",
  TENANT,
];

const VALID_SEEDS = [
  "up",
  "{}",
  'up{job="api", code=~"5..", method!="GET", path!~"/health.*",}',
  '{a="1" or b!="2" or "my.metric", c=`raw\\n`}',
  "{'single'='it\\'s', \"q.l\"=\"\\x41\\u00e9\\U0001F600\\101\"}",
  'job:rate5m{instance="a:9090"} # comment\n',
  `{${TENANT}="p"}`,
  'met\\-ric{a\\.b="x" OR c="y"}',
];

/** Parses, and checks that any failure is a well-formed MetricsqlError. */
function parseOrExplain(text: string): Selector | MetricsqlError {
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof MetricsqlError)) {
      assert.fail(`parse(${JSON.stringify(text)}) threw ${String(error)}`);
    }
    assert.ok(error.code === "Syntax" || error.code === "Unsupported", `unexpected code ${error.code}`);
    assert.ok(!error.reason.startsWith("internal"), `parse(${JSON.stringify(text)}): ${error.reason}`);
    assert.ok(!error.reason.includes("\n"), "reasons are one line");
    const position = error.position ?? assert.fail("parse errors carry a position");
    assert.ok(position.offset >= 0 && position.offset <= text.length, "offset inside the text");
    assert.ok(position.line >= 1 && position.column >= 1);
    assert.match(error.excerpt(), /\n *\^$/);
    return error;
  }
}

/** A selector that parsed must survive printing, and scoping must reach every group. */
function checkParsed(text: string, selector: Selector): void {
  const printed = print(selector);
  assert.deepEqual(parse(printed), selector, `print(parse(${JSON.stringify(text)})) = ${printed}`);
  let scoped: Selector;
  try {
    scoped = scope(selector, { tenantLabel: TENANT, project: "p" });
  } catch (error) {
    assert.ok(error instanceof MetricsqlError && error.code === "TenantLabelFilter");
    return;
  }
  for (const group of scoped.groups) {
    assert.deepEqual(
      group.filter((filter) => filter.label === TENANT),
      [{ label: TENANT, op: "=", value: "p" }],
    );
  }
}

function mutate(random: Random, text: string): string {
  const chars = Array.from(text);
  const mutations = 1 + random.int(3);
  for (let i = 0; i < mutations; i++) {
    const at = random.int(chars.length + 1);
    switch (random.int(4)) {
      case 0:
        chars.splice(at, 1);
        break;
      case 1:
        chars.splice(at, 0, random.pick(SYNTAX_PIECES));
        break;
      case 2:
        chars.splice(at, 1, random.pick(SYNTAX_PIECES));
        break;
      default:
        chars.splice(at, 0, ...chars.slice(random.int(chars.length), random.int(chars.length)));
    }
  }
  return chars.join("");
}

const OPS: readonly MatchOp[] = ["=", "!=", "=~", "!~"];
const LABEL_NAMES = ["a", "job", "__name__", "my.label", "with space", 'q"uote', "é", "😀", "tab\tx", "or"];
const VALUE_PIECES = [
  ...Array.from("abc\"\\{}, =~!#'`\n\r\t\x00\x7f"),
  "\u0085",
  "\u200b",
  "\u202e",
  "\ufeff",
  "日本",
  "😀",
  "\u{e0001}",
  " or ",
  "",
];
const METRIC_NAMES = ["up", "job:rate5m", "my.metric", "inf", "_x9", "with", "a b"];

function randomFilter(random: Random): LabelFilter {
  let value = "";
  const pieces = random.int(6);
  for (let i = 0; i < pieces; i++) value += random.pick(VALUE_PIECES);
  return { label: random.pick(LABEL_NAMES), op: random.pick(OPS), value };
}

/** Any selector the parser can produce: one group may be empty only when it is the only one. */
function randomSelector(random: Random): Selector {
  const groupCount = 1 + random.int(3);
  const sharedName = random.chance(0.5) ? random.pick(METRIC_NAMES) : undefined;
  const groups: LabelFilter[][] = [];
  for (let g = 0; g < groupCount; g++) {
    const group: LabelFilter[] = [];
    if (sharedName !== undefined) group.push({ label: "__name__", op: "=", value: sharedName });
    const minimum = groupCount > 1 && sharedName === undefined ? 1 : 0;
    const filters = minimum + random.int(4);
    for (let i = 0; i < filters; i++) group.push(randomFilter(random));
    groups.push(group);
  }
  return { groups };
}

describe("parse: never throws anything but MetricsqlError", () => {
  it("on random syntax-heavy text", () => {
    const random = new Random(0x5eed);
    for (let i = 0; i < 3000; i++) {
      let text = "";
      const pieces = random.int(30);
      for (let j = 0; j < pieces; j++) text += random.pick(SYNTAX_PIECES);
      const result = parseOrExplain(text);
      if (!(result instanceof MetricsqlError)) checkParsed(text, result);
    }
  });

  it("on random bytes read as UTF-8 and as Latin-1", () => {
    const random = new Random(0xb17e5);
    const utf8 = new TextDecoder();
    const latin1 = new TextDecoder("latin1");
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: random.int(40) }, () => random.int(256));
      for (const text of [utf8.decode(bytes), latin1.decode(bytes)]) {
        const result = parseOrExplain(text);
        if (!(result instanceof MetricsqlError)) checkParsed(text, result);
      }
    }
  });

  it("on mutated valid selectors", () => {
    const random = new Random(0x3a7e);
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      const text = mutate(random, random.pick(VALID_SEEDS));
      const result = parseOrExplain(text);
      if (!(result instanceof MetricsqlError)) {
        accepted++;
        checkParsed(text, result);
      }
    }
    // Guard against a generator that only ever produces garbage.
    assert.ok(accepted > 200, `only ${accepted} mutants parsed`);
  });
});

describe("print∘parse is a fixed point", () => {
  it("on random selectors", () => {
    const random = new Random(0xf1ced);
    for (let i = 0; i < 3000; i++) {
      const selector = randomSelector(random);
      const printed = print(selector);
      const reparsed = parse(printed);
      assert.deepEqual(reparsed, selector, printed);
      assert.equal(print(reparsed), printed);
    }
  });
});
