// Random series selectors over a dataset's label vocabulary: every operator,
// empty values, absent labels, `or` groups, and regexes built from real values
// (literals, prefixes, alternations, `(?i)`) or drawn from a list of classes
// and repetitions, so both the matcher's fast paths and the RE2 engine run.
import type { LabelFilter, MatchOp, Selector } from "../src/metricsql/ast.js";
import { METRIC_NAME_LABEL } from "../src/metricsql/ast.js";
import type { Random } from "./random.js";

export interface SelectorGeneratorOptions {
  /** Labels never filtered on (e.g. the tenant label, which scoping adds). */
  readonly excludeLabels?: readonly string[];
  readonly maxGroups?: number;
  /** Probability that a group starts with a `__name__` equality. */
  readonly metricNameChance?: number;
}

const OPS: readonly MatchOp[] = ["=", "!=", "=~", "!~"];
const ABSENT_LABEL = "absent_label";
const UNKNOWN_VALUE = "no-such-value";

// Regexes that exercise RE2 features rather than fast paths.
const FEATURE_REGEXES = [
  "[a-z]+-[a-z0-9]+",
  "test-[a-z0-9]{6}",
  "test-[a-z0-9]{7,}",
  "[0-9]+",
  "\\d{3}",
  "[245]\\d\\d",
  "5..",
  "[^a-z]*",
  "\\w+",
  "\\pL+",
  "\\p{Lu}.*",
  "[[:upper:]][[:lower:]]+",
  "[A-Z][a-z]+",
  ".{3,10}",
  "(Gateway|HTTPProxy){1,2}",
  "(?i)gate(way)?",
  "(?i)[a-z]+",
  "(?i)https?",
  "^test-.*$",
  "(foo)?",
  "x*",
  "(?i)ready|pending",
  "[[:alpha:]_]+",
  "\\S+",
  "[^-]+",
  "[^-]+-[^-]+",
  "0\\.5|\\+Inf",
  ".*[Ff]rontend",
  ".*\\.com",
  "[a-z]+\\.[a-z]+\\.com",
  "(?s).*",
  "(?U)a.*",
  "\\Q+Inf\\E",
  "[\\d.]+",
  "\\x41.*",
  "caf\\x{e9}-gw",
  "caf\\pL-gw",
  "(?i)CAFÉ-GW",
  "(?i)d1-standard-\\d",
  "[[:digit:]]+",
  "1|10|100",
  ".*-.*-.*",
  "(?i)(api|web)-.*",
  "(?:prod|datum)-.*",
  "[a-z0-9]{4,6}",
  "(.*)(.*)",
  "(a|b)*c?",
  "e+",
  "networking\\..*",
  ".*miloapis\\.com",
  "(?i)COMPUTE\\.MILOAPIS\\.COM",
  "(?i).*proxy",
  "(?i)edge.*",
  "(?i)internal|default",
];

/** Escapes RE2 metacharacters so the text matches itself literally. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

export function randomSelector(
  random: Random,
  vocabulary: ReadonlyMap<string, readonly string[]>,
  options: SelectorGeneratorOptions = {},
): Selector {
  const excluded = new Set(options.excludeLabels ?? []);
  const labelNames = [...vocabulary.keys()].filter(
    (name) => name !== METRIC_NAME_LABEL && !excluded.has(name),
  );
  const metricNames = vocabulary.get(METRIC_NAME_LABEL) ?? [];
  const groupCount = random.chance(0.7) ? 1 : random.between(2, options.maxGroups ?? 3);
  const groups: LabelFilter[][] = [];
  for (let g = 0; g < groupCount; g++) {
    const group: LabelFilter[] = [];
    if (metricNames.length > 0 && random.chance(options.metricNameChance ?? 0.75)) {
      group.push({ label: METRIC_NAME_LABEL, op: "=", value: random.pick(metricNames) });
    }
    const filterCount = random.between(group.length === 0 ? 1 : 0, 3);
    for (let f = 0; f < filterCount; f++) {
      const label = random.chance(0.05) ? ABSENT_LABEL : random.pick(labelNames);
      group.push(randomFilter(random, label, vocabulary.get(label) ?? []));
    }
    groups.push(group);
  }
  return { groups };
}

function randomFilter(random: Random, label: string, values: readonly string[]): LabelFilter {
  const op = random.pick(OPS);
  const value = op === "=" || op === "!=" ? randomValue(random, values) : randomRegex(random, values);
  return { label, op, value };
}

function randomValue(random: Random, values: readonly string[]): string {
  const roll = random.next();
  if (values.length === 0 || roll < 0.15) return "";
  if (roll < 0.25) return UNKNOWN_VALUE;
  const value = random.pick(values);
  if (roll < 0.35) return random.chance(0.5) ? value.toUpperCase() : value.toLowerCase();
  return value;
}

/** A regex built from the label's values, or a feature regex. */
export function randomRegex(random: Random, values: readonly string[]): string {
  const value = values.length > 0 ? random.pick(values) : UNKNOWN_VALUE;
  const cut = random.between(0, value.length);
  const head = escapeRegex(value.slice(0, cut));
  const tail = escapeRegex(value.slice(cut));
  const alternation = (): string =>
    random
      .sample(values.length > 0 ? values : [UNKNOWN_VALUE], random.between(2, 4))
      .map(escapeRegex)
      .join("|");
  switch (random.int(14)) {
    case 0:
      return escapeRegex(value);
    case 1:
      return `${head}.*`;
    case 2:
      return `.*${tail}`;
    case 3:
      return `.*${escapeRegex(value.slice(cut, cut + 3))}.*`;
    case 4:
      return alternation();
    case 5:
      return `(${alternation()})${random.pick([".*", ".+", ""])}`;
    case 6:
      return `(?i)${escapeRegex(random.chance(0.5) ? value.toUpperCase() : value.toLowerCase())}`;
    case 7:
      return `(?i)${head.toLowerCase()}.*`;
    case 8:
      return random.pick([".*", ".+", "", `|${escapeRegex(value)}`, `${escapeRegex(value)}|`, `${head}.+`]);
    case 9:
      return `${head}${random.pick([".", "[a-z0-9]", "\\w", "[^x]", "\\d"])}${random.pick(["*", "+", "?", "{0,3}"])}`;
    case 10:
      return `(?:${head}|${tail})${random.pick(["", ".*", "?"])}`;
    default:
      return random.pick(FEATURE_REGEXES);
  }
}
