// A minimal structured logger: one line per event, human-readable message
// plus key=value fields. Components take a Logger so tests can capture or
// silence it. Callers must never pass credentials in fields or messages.

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

function formatFields(fields: LogFields | undefined): string {
  if (fields === undefined) return "";
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    out += ` ${key}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`;
  }
  return out;
}

/** Writes `time level message key=value…` lines to a stream (stderr by default). */
export function streamLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const log = (level: string, message: string, fields?: LogFields) => {
    write(`${new Date().toISOString()} ${level} ${message}${formatFields(fields)}\n`);
  };
  return {
    info: (message, fields) => {
      log("info", message, fields);
    },
    warn: (message, fields) => {
      log("warn", message, fields);
    },
    error: (message, fields) => {
      log("error", message, fields);
    },
  };
}

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
