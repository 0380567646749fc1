// Label-value regexes with RE2 syntax and semantics, fully anchored
// (`^(?:re)$`), as Prometheus and VictoriaMetrics apply them.
//
// Engine: re2js (pure-JS port of RE2/J, i.e. Go's regexp/syntax + RE2's
// linear-time automata). Measured on this project's 2-core box, Node 20,
// anchored full matches of short label values, M matches/s (an earlier run on
// a busier machine gave about half of each figure, in the same order):
//
//   pattern                       re2js 2.10   re2 1.24 (native)   re2-wasm 1.0.2   V8 RegExp (unsafe)
//   foo.*                           11.3           1.2                0.65             66
//   (?i)gate(way)?                  13.9           1.2                0.71             63
//   [a-z]+-[0-9]+                   11.5           1.2                0.61             55
//   a|b|c                           13.1           1.2                0.78             75
//   envoy_.*_rq(_time_bucket)?       4.0           1.0                0.46             35
//   (a+)+$ on 30×a + "b"            0.1 ms         0.02 ms            0.14 ms          2^n: 0.8 s at 26×a
//   (a+)+$ on 100k×a + "b"          3.3 ms         0.2 ms             11 ms            —
//   npm install                     0.5 s, 0.9 MB  90 s node-gyp      0.7 s, 1.2 MB    —
//                                                  build, 96 MB
//
// re2js wins on short values (the native addon pays a UTF-16→UTF-8 copy and a
// N-API call per match; the WASM build pays a copy into linear memory), stays
// linear on the pathological case, and installs with no compiler. V8's own
// RegExp backtracks, which is the DoS hole this module exists to avoid. A
// regex whose DFA explodes, like `(a|b)*a(a|b){12}`, stays linear but runs on
// re2js' NFA: about 18 µs per 40-character value, memory bounded.
//
// Go vs JavaScript semantics, all handled by using the RE2 parser: `.` does
// not match `\n` unless `(?s)`; `(?i)` uses Unicode simple folding (so `k`
// also matches U+212A KELVIN SIGN); `\pL`, `\p{Greek}`, `[[:alpha:]]`, `\Q…\E`
// work; `\d`, `\w`, `\b` are ASCII-only; backreferences, lookaround, `\e`,
// possessive `a++` and repeat counts over 1000 are syntax errors.
//
// The pattern must be a regex on its own: `a)|(b` is rejected, although Go
// code that splices it into `^(?:…)$` would accept it.
import { RE2JS } from "re2js";
import { MetricsqlError } from "./errors.js";

/** Whether one label value (absent = "") matches. Must not allocate on the hot path. */
export type ValueTest = (value: string) => boolean;

/** How a pattern is matched; exposed so tests can check each fast path against the engine. */
export type RegexStrategy =
  | "literal"
  | "literal-set"
  | "prefix"
  | "prefix-non-empty"
  | "suffix"
  | "contains"
  | "any"
  | "non-empty"
  | "engine";

export interface CompiledRegex {
  readonly pattern: string;
  readonly strategy: RegexStrategy;
  readonly test: ValueTest;
}

/** Compiles an anchored RE2 pattern, using a string fast path when one is exactly equivalent. */
export function compileRegex(pattern: string): CompiledRegex {
  const fast = compileFastPath(pattern);
  if (fast !== undefined) return fast;
  return { pattern, strategy: "engine", test: compileEngine(pattern) };
}

/** The RE2 engine alone, without fast paths. Throws MetricsqlError "InvalidRegex". */
export function compileEngine(pattern: string): ValueTest {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (error: unknown) {
    // RE2JSSyntaxException for bad syntax; RangeError if the parser's own recursion overflows.
    const reason = error instanceof Error ? error.message : String(error);
    throw new MetricsqlError("InvalidRegex", `invalid regex ${JSON.stringify(pattern)}: ${reason}`);
  }
  return (value) => re.testExact(value);
}

const CASE_INSENSITIVE_FLAG = "(?i)";
const ANY = ".*";
const NON_EMPTY = ".+";

/**
 * Recognises `[(?i)] [.*] literals [.*|.+]` where literals is one literal or,
 * grouped, an alternation of literals. Anything else returns undefined and
 * goes to the engine. Every shape here has the same answer as RE2, including
 * for values that contain `\n`, which `.` does not match.
 */
function compileFastPath(pattern: string): CompiledRegex | undefined {
  const caseInsensitive = pattern.startsWith(CASE_INSENSITIVE_FLAG);
  let body = caseInsensitive ? pattern.slice(CASE_INSENSITIVE_FLAG.length) : pattern;
  if (body === ANY) return { pattern, strategy: "any", test: hasNoNewline };
  if (body === NON_EMPTY) return { pattern, strategy: "non-empty", test: isNonEmptyLine };

  const leadingAny = body.startsWith(ANY);
  if (leadingAny) body = body.slice(ANY.length);
  let trailing: "" | typeof ANY | typeof NON_EMPTY = "";
  if (body.endsWith(ANY) || body.endsWith(NON_EMPTY)) {
    // `a\.*` ends in an escaped dot, not a wildcard: count the backslashes before it.
    if (!isEscapedAt(body, body.length - 2)) {
      trailing = body.endsWith(ANY) ? ANY : NON_EMPTY;
      body = body.slice(0, -2);
    }
  }
  const wildcards = leadingAny || trailing !== "";
  const alternatives = parseLiteralAlternation(body, wildcards);
  if (alternatives === undefined) return undefined;
  if (caseInsensitive && !alternatives.every(isAscii)) return undefined;
  // A literal newline would be matched by the literal but not by a wildcard; leave that to RE2.
  if (wildcards && alternatives.some((alt) => alt.includes("\n"))) return undefined;

  if (!wildcards) {
    if (caseInsensitive) return { pattern, strategy: "literal", test: foldEqualsAny(lowerAll(alternatives)) };
    const [only] = alternatives;
    if (alternatives.length === 1 && only !== undefined) {
      return { pattern, strategy: "literal", test: (value) => value === only };
    }
    const set = new Set(alternatives);
    return { pattern, strategy: "literal-set", test: (value) => set.has(value) };
  }
  if (leadingAny && trailing === ANY) {
    if (caseInsensitive) return undefined;
    return { pattern, strategy: "contains", test: containsAny(alternatives) };
  }
  if (leadingAny && trailing === NON_EMPTY) return undefined;
  if (leadingAny) {
    return { pattern, strategy: "suffix", test: endsWithAny(alternatives, caseInsensitive) };
  }
  return {
    pattern,
    strategy: trailing === ANY ? "prefix" : "prefix-non-empty",
    test: startsWithAny(alternatives, caseInsensitive, trailing === NON_EMPTY),
  };
}

// RE2 (outside a class) treats these as operators; a fast-path literal has none of them unescaped.
const META_CHARS = new Set(["\\", ".", "+", "*", "?", "(", ")", "|", "[", "]", "{", "}", "^", "$"]);

/**
 * `foo`, `a|b|c`, `(?:a|b)` or `(a|b)` → the literal alternatives; undefined
 * for anything with a regex operator. With `wildcards` a top-level `|` is
 * refused: `.*a|b` means `(?:.*a)|b`.
 */
function parseLiteralAlternation(body: string, wildcards: boolean): string[] | undefined {
  let inner = body;
  if (body.startsWith("(?:") && body.endsWith(")")) inner = body.slice(3, -1);
  else if (body.startsWith("(") && body.endsWith(")") && !body.startsWith("(?")) inner = body.slice(1, -1);
  const grouped = inner !== body;
  const alternatives: string[] = [];
  let current = "";
  for (let i = 0; i < inner.length; i++) {
    const ch = inner.charAt(i);
    if (ch === "|") {
      if (wildcards && !grouped) return undefined;
      alternatives.push(current);
      current = "";
    } else if (ch === "\\") {
      // An escaped ASCII non-alphanumeric is that character, as in Go's regexp/syntax.
      const next = inner.charCodeAt(i + 1);
      if (Number.isNaN(next) || next >= 0x80 || isAsciiAlphanumeric(next)) return undefined;
      current += String.fromCharCode(next);
      i++;
    } else if (META_CHARS.has(ch)) {
      return undefined;
    } else {
      current += ch;
    }
  }
  alternatives.push(current);
  // `()` and `(?:)` groups of nothing are rare enough to leave to the engine.
  if (grouped && alternatives.length === 1 && alternatives[0] === "") return undefined;
  return alternatives;
}

function isEscapedAt(text: string, index: number): boolean {
  let backslashes = 0;
  for (let i = index - 1; i >= 0 && text.charCodeAt(i) === 0x5c; i--) backslashes++;
  return backslashes % 2 === 1;
}

function isAsciiAlphanumeric(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

function lowerAll(alternatives: readonly string[]): string[] {
  return alternatives.map((alt) => alt.toLowerCase());
}

function hasNoNewline(value: string): boolean {
  return !value.includes("\n");
}

function isNonEmptyLine(value: string): boolean {
  return value.length > 0 && !value.includes("\n");
}

// In the wildcard shapes below no alternative contains "\n" (see compileFastPath),
// so a value with a newline can only be matched by `.`, which RE2's `.` never does.

function containsAny(alternatives: readonly string[]): ValueTest {
  return (value) => {
    for (const alt of alternatives) if (value.includes(alt)) return !value.includes("\n");
    return false;
  };
}

function startsWithAny(
  alternatives: readonly string[],
  caseInsensitive: boolean,
  nonEmptyRest: boolean,
): ValueTest {
  const alts = caseInsensitive ? lowerAll(alternatives) : alternatives;
  return (value) => {
    for (const alt of alts) {
      if (nonEmptyRest && value.length <= alt.length) continue;
      if (caseInsensitive ? foldEqualsAt(value, 0, alt) : value.startsWith(alt)) return !value.includes("\n");
    }
    return false;
  };
}

function endsWithAny(alternatives: readonly string[], caseInsensitive: boolean): ValueTest {
  const alts = caseInsensitive ? lowerAll(alternatives) : alternatives;
  return (value) => {
    for (const alt of alts) {
      if (value.length < alt.length) continue;
      const found = caseInsensitive
        ? foldEqualsAt(value, value.length - alt.length, alt)
        : value.endsWith(alt);
      if (found) return !value.includes("\n");
    }
    return false;
  };
}

function foldEqualsAny(lowerAlternatives: readonly string[]): ValueTest {
  return (value) => {
    for (const alt of lowerAlternatives) {
      if (value.length === alt.length && foldEqualsAt(value, 0, alt)) return true;
    }
    return false;
  };
}

const KELVIN_SIGN = 0x212a;
const LONG_S = 0x17f;

/**
 * Whether value[offset…] case-folds to lowerAscii, by RE2's `(?i)` rules: the
 * only non-ASCII characters that fold to ASCII are K (U+212A, to k) and ſ
 * (U+017F, to s), both one UTF-16 unit, so lengths line up.
 */
function foldEqualsAt(value: string, offset: number, lowerAscii: string): boolean {
  if (offset < 0 || value.length - offset < lowerAscii.length) return false;
  for (let i = 0; i < lowerAscii.length; i++) {
    const want = lowerAscii.charCodeAt(i);
    const got = value.charCodeAt(offset + i);
    if (got === want) continue;
    if (want < 0x61 || want > 0x7a) return false;
    if (got === want - 0x20) continue;
    if ((want === 0x6b && got === KELVIN_SIGN) || (want === 0x73 && got === LONG_S)) continue;
    return false;
  }
  return true;
}
