// Structured logging: one event per line, a message and fields. Components
// take a Logger so tests can capture or silence it, and a child logger binds
// the fields every line about one thing carries (project, policy, sink).
//
// Two formats (`telex serve --log-format`): `json`, written by pino (the
// ecosystem's logger: its serializers keep an error's type and stack, its
// redaction is a second line of defence), for log pipelines; and `text`,
// `time level message key=value…`, for people. Callers must never pass
// credentials in fields or messages; fields named like one are redacted in
// both formats anyway.
import pino, { type Logger as PinoLogger } from "pino";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** An Error keeps its type and stack (json: `{type, message, stack}`; text: `error=… stack=…`). */
export type LogValue = string | number | boolean | undefined | Error;
export type LogFields = Readonly<Record<string, LogValue>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose every line carries these fields too. */
  child(bindings: LogFields): Logger;
}

export interface LoggerOptions {
  readonly format?: LogFormat;
  /** Events below this level are not written (default info). */
  readonly level?: LogLevel;
  /** Where lines go (default: standard error). */
  readonly write?: (line: string) => void;
}

/** Field names whose values are never written, whatever a caller passes. */
const SECRET_FIELD = /^(authorization|password|passwd|token|secret|credentials?|cookie)$/i;
const REDACTED = "[redacted]";

/** An unknown thrown value as a log field: an Error as itself (its stack kept), anything else as text. */
export function errorField(error: unknown): LogValue {
  return error instanceof Error ? error : String(error);
}

/**
 * A child logger made at its first line, not before. A sink logs only when
 * something happens to it; a pino child made up front for each of 10,000
 * idle sinks held 7 MB (~700 bytes each), this holds its bindings.
 */
export function lazyChild(parent: Logger, bindings: LogFields): Logger {
  return new LazyChild(parent, bindings);
}

class LazyChild implements Logger {
  #made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: LogFields,
  ) {}

  private get made(): Logger {
    this.#made ??= this.parent.child(this.bindings);
    return this.#made;
  }

  debug(message: string, fields?: LogFields): void {
    this.made.debug(message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.made.info(message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.made.warn(message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.made.error(message, fields);
  }

  child(bindings: LogFields): Logger {
    return lazyChild(this.parent, { ...this.bindings, ...bindings });
  }
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return options.format === "json" ? jsonLogger(options) : streamLogger(options.write, options.level);
}

/** `time level message key=value…` lines, one per event (stderr by default). */
export function streamLogger(
  write: (line: string) => void = (line) => process.stderr.write(line),
  level: LogLevel = "info",
): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const make = (bound: string): Logger => {
    const log = (at: LogLevel, message: string, fields?: LogFields): void => {
      if (LOG_LEVELS.indexOf(at) < threshold) return;
      write(`${new Date().toISOString()} ${at} ${message}${bound}${formatFields(fields)}\n`);
    };
    return {
      debug: (message, fields) => {
        log("debug", message, fields);
      },
      info: (message, fields) => {
        log("info", message, fields);
      },
      warn: (message, fields) => {
        log("warn", message, fields);
      },
      error: (message, fields) => {
        log("error", message, fields);
      },
      child: (bindings) => make(`${bound}${formatFields(bindings)}`),
    };
  };
  return make("");
}

function formatFields(fields: LogFields | undefined): string {
  if (fields === undefined) return "";
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (SECRET_FIELD.test(key)) {
      out += ` ${key}=${REDACTED}`;
      continue;
    }
    if (value instanceof Error) {
      out += ` ${key}=${quote(value.message)}`;
      // The stack on the same line, escaped: one event stays one line.
      if (value.stack !== undefined) out += ` ${key}Stack=${JSON.stringify(value.stack)}`;
      continue;
    }
    out += ` ${key}=${quote(String(value))}`;
  }
  return out;
}

function quote(text: string): string {
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** pino, writing synchronously (an exit or a crash loses no line) with an ISO time and level names. */
function jsonLogger(options: LoggerOptions): Logger {
  const write = options.write;
  const destination =
    write === undefined
      ? pino.destination({ fd: 2, sync: true })
      : {
          write: (line: string) => {
            write(line);
          },
        };
  const root = pino(
    {
      level: options.level ?? "info",
      base: undefined,
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ["authorization", "password", "token", "secret", "credentials", "cookie"],
        censor: REDACTED,
      },
    },
    destination,
  );
  const wrap = (logger: PinoLogger): Logger => ({
    debug: (message, fields) => {
      logger.debug(serialize(fields), message);
    },
    info: (message, fields) => {
      logger.info(serialize(fields), message);
    },
    warn: (message, fields) => {
      logger.warn(serialize(fields), message);
    },
    error: (message, fields) => {
      logger.error(serialize(fields), message);
    },
    child: (bindings) => wrap(logger.child(serialize(bindings))),
  });
  return wrap(root);
}

/** Fields as pino takes them: undefined left out, every Error serialized with its stack. */
function serialize(fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (fields === undefined) return out;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[key] = value instanceof Error ? pino.stdSerializers.err(value) : value;
  }
  return out;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
