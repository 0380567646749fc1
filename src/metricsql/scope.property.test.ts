// Property: a scoped selector selects exactly the unscoped selector's series
// that carry the project's tenant label, so it never leaks another project's
// series, whatever the user wrote.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Label, Labels, Selector } from "./ast.js";
import { MetricsqlError } from "./errors.js";
import { compileSelector } from "./matcher.js";
import type { SeriesMatcher } from "./matcher.js";
import { parse } from "./parser.js";
import { print } from "./printer.js";
import { scope } from "./scope.js";
import { TENANT_LABEL, generatePlatformSeries, labelVocabulary } from "../../test-support/platform-series.js";
import { Random } from "../../test-support/random.js";
import { randomSelector } from "../../test-support/selector-generator.js";

const SEED = 7_331;
const SELECTOR_COUNT = 1500;

const dataset = generatePlatformSeries(new Random(SEED));

/** Copies of real series whose tenant value is a near miss of `project`. */
function nearMisses(project: string, random: Random): Labels[] {
  const values = [
    project.toUpperCase(),
    `${project}\n`,
    ` ${project}`,
    project.slice(0, -1),
    `${project}0`,
    `${project}.*`,
    "",
  ];
  return values.map((value) => withTenant(random.pick(dataset.series), value));
}

function withTenant(labels: Labels, value: string): Labels {
  const rest = labels.filter((label) => label.name !== TENANT_LABEL);
  const tenant: Label[] = value === "" ? [] : [{ name: TENANT_LABEL, value }];
  return [...rest, ...tenant].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function tenantOf(labels: Labels): string {
  return labels.find((label) => label.name === TENANT_LABEL)?.value ?? "";
}

/** The selector as the API would hold it: printed and parsed back; undefined if not accepted. */
function accepted(selector: Selector): { selector: Selector; matcher: SeriesMatcher } | undefined {
  try {
    const parsed = parse(print(selector));
    return { selector: parsed, matcher: compileSelector(parsed) };
  } catch (error: unknown) {
    if (error instanceof MetricsqlError) return undefined;
    throw error;
  }
}

describe("scope + compileSelector", () => {
  it(`confines ${SELECTOR_COUNT} random selectors to their project`, () => {
    const random = new Random(SEED + 1);
    const vocabulary = labelVocabulary(dataset.series);
    let acceptedCount = 0;
    let scopedMatches = 0;
    for (let i = 0; i < SELECTOR_COUNT; i++) {
      const candidate = accepted(
        randomSelector(random, vocabulary, { excludeLabels: [TENANT_LABEL], metricNameChance: 0.5 }),
      );
      if (candidate === undefined) continue;
      acceptedCount++;
      const project = random.chance(0.2) ? "test-rdzjb8" : random.pick(dataset.projects);
      const scoped = compileSelector(scope(candidate.selector, { tenantLabel: TENANT_LABEL, project }));
      for (const labels of [...dataset.series, ...nearMisses(project, random)]) {
        const inProject = tenantOf(labels) === project;
        const expected: boolean = inProject && candidate.matcher.matches(labels);
        const actual = scoped.matches(labels);
        if (actual !== expected) {
          assert.fail(
            `${print(candidate.selector)} scoped to ${project}: ${actual ? "selects" : "misses"} ${JSON.stringify(labels)}`,
          );
        }
        if (actual) scopedMatches++;
      }
    }
    // Non-vacuous: most selectors were accepted and scoped selectors did select series.
    assert.ok(acceptedCount > SELECTOR_COUNT * 0.9, `only ${acceptedCount} accepted`);
    assert.ok(scopedMatches > 1000, `scoped selectors matched only ${scopedMatches} series`);
  });

  it("confines selectors that match everything, including absent labels", () => {
    const project = "test-rdzjb8";
    const random = new Random(SEED + 2);
    const everything = [
      '{__name__=~".*"}',
      '{absent_label=""}',
      '{resource_name!="x"}',
      '{a!~"x" or b=~".*"}',
    ];
    for (const text of everything) {
      const scoped = compileSelector(scope(parse(text), { tenantLabel: TENANT_LABEL, project }));
      const selected = [...dataset.series, ...nearMisses(project, random)].filter((labels) =>
        scoped.matches(labels),
      );
      assert.ok(selected.length > 0, text);
      assert.deepEqual(new Set(selected.map(tenantOf)), new Set([project]), text);
    }
  });
});
