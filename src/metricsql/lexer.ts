// Tokenizer for MetricsQL series selectors.
//
// It recognizes enough of MetricsQL (numbers, operators, brackets) to let the
// parser name what it found when a query is more than a selector. Identifier
// rules follow VictoriaMetrics' metricsql lexer; string literals follow Go's
// strconv.Unquote, which is what VictoriaMetrics uses to decode them.

import type { SourcePosition } from "./errors.js";
import { MetricsqlError } from "./errors.js";

export type TokenKind = "ident" | "string" | "number" | "punct" | "operator" | "eof";

export interface Token {
  readonly kind: TokenKind;
  /** The token exactly as written in the source. */
  readonly text: string;
  /** Identifier with escapes resolved, or a string literal's contents; `text` for other kinds. */
  readonly value: string;
  /** 0-based UTF-16 offset of the first character. */
  readonly start: number;
}

const PUNCTUATION = new Set(["{", "}", "(", ")", "[", "]", ",", "@"]);
const TWO_CHAR_OPERATORS = new Set(["==", "!=", "=~", "!~", ">=", "<="]);
const ONE_CHAR_OPERATORS = new Set(["=", "<", ">", "+", "-", "*", "/", "%", "^"]);
const WHITESPACE = new Set([" ", "\t", "\n", "\v", "\f", "\r"]);

// MetricsQL identifiers: a letter, `_` or `:` first, then also ASCII digits and `.`.
const IDENT_START = /^[\p{L}_:]$/u;
const IDENT_PART = /^[\p{L}_:0-9.]$/u;
// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const HEX_DIGITS = /^[0-9a-fA-F]+$/;
const OCTAL_DIGITS = /^[0-7]{3}$/;
const NUMBER_PART = /^[0-9a-zA-Z_.]$/;

const GO_SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
};

export function isPrintable(codePoint: number): boolean {
  return PRINTABLE.test(String.fromCodePoint(codePoint));
}

function isSurrogate(codePoint: number): boolean {
  return codePoint >= 0xd800 && codePoint <= 0xdfff;
}

export function positionAt(source: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = source.indexOf("\n"); i !== -1 && i < offset; i = source.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { offset, line, column: offset - lineStart + 1 };
}

/** `U+00A0`-style name for a character that would be invisible or confusing when quoted. */
function describeCodePoint(codePoint: number): string {
  if (isPrintable(codePoint) && codePoint !== 0x20) return JSON.stringify(String.fromCodePoint(codePoint));
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
}

export class Lexer {
  private offset = 0;
  /** Where the last real token ended; end of input is reported there, not after trailing blanks. */
  private lastTokenEnd = 0;

  constructor(readonly source: string) {}

  next(): Token {
    this.skipBlanksAndComments();
    const start = this.offset;
    const char = this.source[start];
    if (char === undefined) return { kind: "eof", text: "", value: "", start: this.lastTokenEnd };
    const token = this.scanToken(char, start);
    this.offset = start + token.text.length;
    this.lastTokenEnd = this.offset;
    return token;
  }

  syntaxError(reason: string, offset: number): MetricsqlError {
    return new MetricsqlError("Syntax", reason, positionAt(this.source, offset), this.source);
  }

  private skipBlanksAndComments(): void {
    for (;;) {
      const char = this.source[this.offset];
      if (char === undefined) return;
      if (WHITESPACE.has(char)) {
        this.offset++;
      } else if (char === "#") {
        const newline = this.source.indexOf("\n", this.offset);
        this.offset = newline === -1 ? this.source.length : newline;
      } else {
        return;
      }
    }
  }

  private scanToken(char: string, start: number): Token {
    if (PUNCTUATION.has(char)) return simpleToken("punct", char, start);
    if (char === '"' || char === "'" || char === "`") return this.scanString(char, start);
    if (char === "\\" || IDENT_START.test(this.codePointText(start))) return this.scanIdentifier(start);
    const pair = this.source.slice(start, start + 2);
    if (TWO_CHAR_OPERATORS.has(pair)) return simpleToken("operator", pair, start);
    if (ONE_CHAR_OPERATORS.has(char)) return simpleToken("operator", char, start);
    if (isDigit(char) || (char === "." && isDigit(this.source[start + 1]))) return this.scanNumber(start);
    const codePoint = this.source.codePointAt(start) ?? 0;
    throw this.syntaxError(`unexpected character ${describeCodePoint(codePoint)}`, start);
  }

  private codePointText(offset: number): string {
    const codePoint = this.source.codePointAt(offset);
    return codePoint === undefined ? "" : String.fromCodePoint(codePoint);
  }

  private scanIdentifier(start: number): Token {
    let i = start;
    // Joined once at the end: a value built with += is a rope of one string per character, and
    // compiled selectors keep their label names (a thousand policies kept 20,000 such ropes).
    const parts: string[] = [];
    let escaped = false;
    for (;;) {
      const char = this.codePointText(i);
      if (char === "") break;
      if ((i === start ? IDENT_START : IDENT_PART).test(char)) {
        parts.push(char);
        i += char.length;
        continue;
      }
      if (char !== "\\") break;
      const escape = decodeIdentifierEscape(this.source, i + 1);
      if (escape === undefined) {
        throw this.syntaxError(`invalid escape sequence ${describeEscape(this.source, i)} in identifier`, i);
      }
      parts.push(escape.char);
      escaped = true;
      i += 1 + escape.length;
    }
    const text = this.source.slice(start, i);
    return { kind: "ident", text, value: escaped ? parts.join("") : text, start };
  }

  // Numbers and durations (`42`, `1.5e3`, `0x1f`, `5m`) only ever end up in an
  // error message, so a loose scan that keeps them in one piece is enough.
  private scanNumber(start: number): Token {
    let i = start + 1;
    for (;;) {
      const char = this.source[i];
      if (char === undefined) break;
      const afterExponent = (char === "+" || char === "-") && /[eE]/.test(this.source[i - 1] ?? "");
      if (!NUMBER_PART.test(char) && !afterExponent) break;
      i++;
    }
    return simpleToken("number", this.source.slice(start, i), start);
  }

  private scanString(quote: string, start: number): Token {
    if (quote === "`") return this.scanRawString(start);
    const decoder = new StringValueBuilder((offset) =>
      this.syntaxError("byte escapes in string do not form valid UTF-8", offset),
    );
    let i = start + 1;
    for (;;) {
      const char = this.codePointText(i);
      if (char === "" || char === "\n") {
        const where = char === "" ? "before the end of input" : "before the end of the line";
        throw this.syntaxError(`unterminated string: no closing ${quote} ${where}`, start);
      }
      if (char === quote) break;
      if (char === "\\") {
        i = this.decodeStringEscape(quote, i, decoder);
        continue;
      }
      if (isSurrogate(char.codePointAt(0) ?? 0)) {
        throw this.syntaxError(
          `invalid character ${describeCodePoint(char.codePointAt(0) ?? 0)} in string`,
          i,
        );
      }
      decoder.addText(char);
      i += char.length;
    }
    const value = decoder.finish();
    return { kind: "string", text: this.source.slice(start, i + 1), value, start };
  }

  // Go raw strings: no escapes, may span lines; strconv.Unquote drops carriage returns.
  private scanRawString(start: number): Token {
    const end = this.source.indexOf("`", start + 1);
    if (end === -1)
      throw this.syntaxError("unterminated string: no closing ` before the end of input", start);
    const contents = this.source.slice(start + 1, end);
    for (let i = 0; i < contents.length; i++) {
      const codePoint = contents.codePointAt(i) ?? 0;
      if (isSurrogate(codePoint)) {
        throw this.syntaxError(`invalid character ${describeCodePoint(codePoint)} in string`, start + 1 + i);
      }
      if (codePoint > 0xffff) i++;
    }
    const value = contents.replaceAll("\r", "");
    return { kind: "string", text: this.source.slice(start, end + 1), value, start };
  }

  /** Decodes the Go escape sequence at `backslash`; returns the offset after it. */
  private decodeStringEscape(quote: string, backslash: number, decoder: StringValueBuilder): number {
    const letter = this.source[backslash + 1] ?? "";
    const invalid = (): MetricsqlError =>
      this.syntaxError(
        `invalid escape sequence ${describeEscape(this.source, backslash)} in string`,
        backslash,
      );
    const simple = GO_SIMPLE_ESCAPES[letter];
    if (simple !== undefined || letter === quote) {
      decoder.addText(simple ?? quote);
      return backslash + 2;
    }
    if (letter === "x") {
      const byte = parseHex(this.source.slice(backslash + 2, backslash + 4), 2);
      if (byte === undefined) throw invalid();
      decoder.addByte(byte, backslash);
      return backslash + 4;
    }
    const octal = this.source.slice(backslash + 1, backslash + 4);
    if (OCTAL_DIGITS.test(octal)) {
      const byte = parseInt(octal, 8);
      if (byte > 0xff) throw invalid();
      decoder.addByte(byte, backslash);
      return backslash + 4;
    }
    if (letter === "u" || letter === "U") {
      const digits = letter === "u" ? 4 : 8;
      const codePoint = parseHex(this.source.slice(backslash + 2, backslash + 2 + digits), digits);
      if (codePoint === undefined || codePoint > 0x10ffff || isSurrogate(codePoint)) throw invalid();
      decoder.addText(String.fromCodePoint(codePoint));
      return backslash + 2 + digits;
    }
    throw invalid();
  }
}

function simpleToken(kind: TokenKind, text: string, start: number): Token {
  return { kind, text, value: text, start };
}

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= "0" && char <= "9";
}

function parseHex(text: string, digits: number): number | undefined {
  if (text.length !== digits || !HEX_DIGITS.test(text)) return undefined;
  return parseInt(text, 16);
}

/** The escape sequence at `backslash` as it appears in the source, for error messages. */
function describeEscape(source: string, backslash: number): string {
  const next = source.codePointAt(backslash + 1);
  if (next === undefined) return "\\ at the end of input";
  if (next === 0x20 || !isPrintable(next)) return `\\ followed by ${describeCodePoint(next)}`;
  return `\\${String.fromCodePoint(next)}`;
}

/**
 * VictoriaMetrics' identifier escapes: `\xHH` and `\uHHHH` (also `\X`, `\U`,
 * always 4 digits) name a code point; a backslash before any other printable
 * character stands for that character (`metric\-name`, `\3xx`).
 */
function decodeIdentifierEscape(
  source: string,
  offset: number,
): { char: string; length: number } | undefined {
  const letter = source[offset];
  if (letter === "x" || letter === "X" || letter === "u" || letter === "U") {
    const digits = letter === "x" || letter === "X" ? 2 : 4;
    const codePoint = parseHex(source.slice(offset + 1, offset + 1 + digits), digits);
    if (codePoint === undefined || isSurrogate(codePoint)) return undefined;
    return { char: String.fromCodePoint(codePoint), length: 1 + digits };
  }
  const codePoint = source.codePointAt(offset);
  if (codePoint === undefined || !isPrintable(codePoint)) return undefined;
  const char = String.fromCodePoint(codePoint);
  return { char, length: char.length };
}

/**
 * Builds a string literal's value. Go's `\xHH` and octal escapes denote bytes,
 * not characters, so consecutive byte escapes are collected and must form
 * valid UTF-8 (`"\xc3\xa9"` is "é"); a value holding raw non-UTF-8 bytes has
 * no faithful JavaScript representation and is rejected.
 */
class StringValueBuilder {
  private static readonly utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  /** Joined in finish(): see scanIdentifier. */
  private readonly parts: string[] = [];
  private bytes: number[] = [];
  private bytesStart = 0;

  constructor(private readonly invalidUtf8: (offset: number) => MetricsqlError) {}

  addText(text: string): void {
    this.flushBytes();
    this.parts.push(text);
  }

  addByte(byte: number, offset: number): void {
    if (this.bytes.length === 0) this.bytesStart = offset;
    this.bytes.push(byte);
  }

  finish(): string {
    this.flushBytes();
    return this.parts.join("");
  }

  private flushBytes(): void {
    if (this.bytes.length === 0) return;
    let decoded: string;
    try {
      decoded = StringValueBuilder.utf8.decode(Uint8Array.from(this.bytes));
    } catch {
      throw this.invalidUtf8(this.bytesStart);
    }
    this.bytes = [];
    this.parts.push(decoded);
  }
}
