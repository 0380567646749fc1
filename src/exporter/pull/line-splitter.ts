// Turns a byte stream into lines without holding more than one line (and one
// chunk) in memory. UTF-8 is decoded strictly: invalid bytes are an error,
// not replacement characters that would silently change label values.
import { ExportFormatError } from "./export-format-error.js";

export class LineSplitter {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  /** Text of the line being assembled, in pieces to avoid quadratic concatenation. */
  private pending: string[] = [];
  private pendingLength = 0;

  constructor(private readonly maxLineChars: number) {}

  /** The complete lines this chunk finishes, without their "\n". */
  push(chunk: Uint8Array): string[] {
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch {
      throw new ExportFormatError("the response is not valid UTF-8");
    }
    return this.split(text);
  }

  /** The last line when the stream does not end with "\n"; throws on a truncated UTF-8 sequence. */
  end(): string | undefined {
    let rest: string;
    try {
      rest = this.decoder.decode();
    } catch {
      throw new ExportFormatError("the response ends inside a UTF-8 sequence");
    }
    const lines = this.split(rest);
    if (lines.length > 0) throw new Error("unreachable: a flush without newline produced lines");
    if (this.pendingLength === 0) return undefined;
    const last = this.pending.join("");
    this.pending = [];
    this.pendingLength = 0;
    return last;
  }

  private split(text: string): string[] {
    const lines: string[] = [];
    let from = 0;
    for (;;) {
      const newline = text.indexOf("\n", from);
      if (newline === -1) break;
      this.append(text, from, newline);
      lines.push(this.pending.length === 1 ? (this.pending[0] ?? "") : this.pending.join(""));
      this.pending = [];
      this.pendingLength = 0;
      from = newline + 1;
    }
    if (from < text.length) this.append(text, from, text.length);
    return lines;
  }

  private append(text: string, from: number, to: number): void {
    this.pendingLength += to - from;
    if (this.pendingLength > this.maxLineChars) {
      throw new ExportFormatError(`a line is longer than ${this.maxLineChars} characters`);
    }
    this.pending.push(from === 0 && to === text.length ? text : text.slice(from, to));
  }
}
