// The error types the remotewrite module throws for bad input. Anything else
// escaping from it is a bug (or an error thrown by a caller's own visitor).

export type SnappyErrorCode =
  /** The declared uncompressed length exceeds the caller's limit; nothing was allocated. */
  | "TooLarge"
  /** Not a valid Snappy block. */
  | "Corrupt";

export class SnappyError extends Error {
  override readonly name = "SnappyError";
  readonly code: SnappyErrorCode;

  constructor(code: SnappyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A payload that is not a well-formed prometheus.WriteRequest. */
export class WriteRequestDecodeError extends Error {
  override readonly name = "WriteRequestDecodeError";
  /** The reason alone, without the offset. */
  readonly reason: string;
  /** Byte offset into the decoded payload where the problem was found. */
  readonly offset: number;

  constructor(reason: string, offset: number) {
    super(`malformed WriteRequest at byte ${offset}: ${reason}`);
    this.reason = reason;
    this.offset = offset;
  }
}

/** A label set that Remote Write cannot carry: empty or repeated names, unpaired surrogates, unsorted bytes. */
export class InvalidLabelsError extends Error {
  override readonly name = "InvalidLabelsError";
}
