// Compiles a Selector into a series predicate, once per config change; the
// predicate runs on the ingest hot path, so matches() allocates nothing
// (except inside the RE2 engine, which wraps each value it scans).
//
// Semantics are VictoriaMetrics' (and Prometheus'): an absent label has the
// value "", so `{a=""}` and `{a!~"x"}` match series without `a`, `{a!=""}`
// requires it, `{a=~".*"}` matches it missing; groups joined by `or` are a
// union; regexes are anchored RE2 (see regex.ts).
import type { LabelFilter, Labels, Selector } from "./ast.js";
import { compileRegex } from "./regex.js";
import type { RegexStrategy, ValueTest } from "./regex.js";

export interface SeriesMatcher {
  matches(labels: Labels): boolean;
}

interface CompiledFilter {
  readonly label: string;
  readonly test: ValueTest;
  /** Relative cost of test(); filters run cheapest first. */
  readonly cost: number;
}

/** Throws MetricsqlError "InvalidRegex" for a regex RE2 rejects. */
export function compileSelector(selector: Selector): SeriesMatcher {
  const groups = selector.groups.map(compileGroup);
  const [only] = groups;
  if (groups.length === 1 && only !== undefined) {
    return { matches: (labels) => matchesGroup(only, labels) };
  }
  return {
    matches(labels) {
      for (const group of groups) if (matchesGroup(group, labels)) return true;
      return false;
    },
  };
}

function matchesGroup(filters: readonly CompiledFilter[], labels: Labels): boolean {
  for (let i = 0; i < filters.length; i++) {
    const filter = filters[i];
    if (filter !== undefined && !filter.test(labelValue(labels, filter.label))) return false;
  }
  return true;
}

/** The label's value, or "" when the series lacks it. */
function labelValue(labels: Labels, name: string): string {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label !== undefined && label.name === name) return label.value;
  }
  return "";
}

function compileGroup(filters: readonly LabelFilter[]): CompiledFilter[] {
  // A group is a conjunction of pure predicates, so any order gives the same answer.
  return filters.map(sharedFilter).sort((a, b) => a.cost - b.cost);
}

/**
 * Compiled filters shared by equal filters: they are pure, and 10,000 policies
 * scoped to their projects repeat the same few (a regex's RE2 program is ~2
 * KiB; at 10,000 policies the copies held ~10 MB). Held weakly: a filter no
 * selector uses any more is collected, and its entry with it.
 */
const compiledFilters = new Map<string, WeakRef<CompiledFilter>>();
const forgetFilter = new FinalizationRegistry<string>((key) => {
  if (compiledFilters.get(key)?.deref() === undefined) compiledFilters.delete(key);
});

function sharedFilter(filter: LabelFilter): CompiledFilter {
  const key = `${filter.op}\u0000${filter.label}\u0000${filter.value}`;
  const held = compiledFilters.get(key)?.deref();
  if (held !== undefined) return held;
  const compiled = compileFilter(filter);
  compiledFilters.set(key, new WeakRef(compiled));
  forgetFilter.register(compiled, key);
  return compiled;
}

/** Distinct compiled filters alive now (for tests). */
export function sharedFilterCount(): number {
  let alive = 0;
  for (const ref of compiledFilters.values()) if (ref.deref() !== undefined) alive++;
  return alive;
}

const STRATEGY_COST: Readonly<Record<RegexStrategy, number>> = {
  literal: 1,
  "literal-set": 2,
  any: 2,
  "non-empty": 2,
  prefix: 3,
  "prefix-non-empty": 3,
  suffix: 3,
  contains: 4,
  engine: 10,
};

function compileFilter(filter: LabelFilter): CompiledFilter {
  const { label, value } = filter;
  switch (filter.op) {
    case "=":
      return { label, cost: 0, test: (actual) => actual === value };
    case "!=":
      return { label, cost: 0, test: (actual) => actual !== value };
    case "=~": {
      const regex = compileRegex(value);
      return { label, cost: STRATEGY_COST[regex.strategy], test: regex.test };
    }
    case "!~": {
      const regex = compileRegex(value);
      const test = regex.test;
      return { label, cost: STRATEGY_COST[regex.strategy], test: (actual) => !test(actual) };
    }
  }
}
