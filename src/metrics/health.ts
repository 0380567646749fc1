// Health endpoints as kube-apiserver answers them: /livez (and /healthz, its
// older name) say the process is up, /readyz whether it can do its work now.
// Each runs a list of named checks: 200 "ok" when all pass; 503 when one
// fails, listing every check (`[+]name ok`, `[-]name failed: reason`) and a
// closing verdict (`readyz check failed`). `?verbose` lists them on success
// too, `?exclude=NAME` (repeatable) skips one, `/readyz/NAME` runs one alone.
// Checks run on every probe, so each is a few field reads, never a request.
import { silentLogger, type Logger } from "../util/index.js";

export interface HealthCheck {
  readonly name: string;
  /** Undefined when the check passes, else why not, in one line. */
  check(): string | undefined;
}

export interface HealthAnswer {
  readonly status: 200 | 404 | 503;
  readonly body: string;
}

export interface HealthChecks {
  /** What /readyz checks. */
  readonly readiness: readonly HealthCheck[];
  /** What /livez and /healthz check; `ping` alone by default. */
  readonly liveness?: readonly HealthCheck[];
  /** Told when /readyz (all of it) changes its verdict between two probes. */
  readonly logger?: Logger;
}

/** Passes while the process answers at all: liveness needs no more. */
export const PING: HealthCheck = { name: "ping", check: () => undefined };

/** A reason is one line of bounded length, whatever an error message holds. */
const MAX_REASON_CHARS = 300;

export class HealthEndpoints {
  private readonly endpoints: ReadonlyMap<string, readonly HealthCheck[]>;
  private readonly logger: Logger;
  private ready: boolean | undefined;

  constructor(checks: HealthChecks) {
    const liveness = checks.liveness ?? [PING];
    this.endpoints = new Map([
      ["livez", liveness],
      ["healthz", liveness],
      ["readyz", checks.readiness],
    ]);
    this.logger = checks.logger ?? silentLogger;
  }

  /** The answer to a GET of `url` (path and query), or undefined when it is no health endpoint. */
  answer(url: string): HealthAnswer | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url, "http://telex.invalid");
    } catch {
      return undefined;
    }
    const [, endpoint = "", name, ...rest] = parsed.pathname.split("/");
    const checks = this.endpoints.get(endpoint);
    if (checks === undefined || rest.length > 0) return undefined;
    if (name !== undefined && name !== "") return this.one(endpoint, checks, name);
    const verbose = parsed.searchParams.has("verbose");
    const excluded = new Set(parsed.searchParams.getAll("exclude"));
    let failed = false;
    let lines = "";
    for (const check of checks) {
      if (excluded.delete(check.name)) {
        lines += `[+]${check.name} excluded: ok\n`;
        continue;
      }
      const reason = run(check);
      if (reason !== undefined) failed = true;
      lines += reason === undefined ? `[+]${check.name} ok\n` : `[-]${check.name} failed: ${reason}\n`;
    }
    if (excluded.size > 0) {
      const names = [...excluded].map((n) => JSON.stringify(n)).join(", ");
      lines += `warn: some health checks cannot be excluded: no matches for ${names}\n`;
    }
    if (endpoint === "readyz" && parsed.searchParams.getAll("exclude").length === 0)
      this.noteReady(!failed, lines);
    if (failed) return { status: 503, body: `${lines}${endpoint} check failed\n` };
    return { status: 200, body: verbose ? `${lines}${endpoint} check passed\n` : "ok\n" };
  }

  private one(endpoint: string, checks: readonly HealthCheck[], name: string): HealthAnswer {
    const check = checks.find((c) => c.name === name);
    if (check === undefined) {
      const known = checks.map((c) => c.name).join(", ");
      return { status: 404, body: `no ${endpoint} check named ${JSON.stringify(name)}; checks: ${known}\n` };
    }
    const reason = run(check);
    if (reason === undefined) return { status: 200, body: "ok\n" };
    return { status: 503, body: `[-]${name} failed: ${reason}\n${endpoint} check failed\n` };
  }

  /** Logs a change of the whole readiness verdict, so the log says when and why a replica left. */
  private noteReady(ready: boolean, lines: string): void {
    const before = this.ready;
    this.ready = ready;
    if (before === ready || (before === undefined && ready)) return;
    if (ready) {
      this.logger.info("ready again: every readyz check passes");
      return;
    }
    const failed = lines
      .split("\n")
      .filter((line) => line.startsWith("[-]"))
      .map((line) => line.slice(3))
      .join("; ");
    this.logger.warn("not ready", { failed });
  }
}

function run(check: HealthCheck): string | undefined {
  let reason: string | undefined;
  try {
    reason = check.check();
  } catch (error: unknown) {
    reason = `the check threw: ${String(error)}`;
  }
  if (reason === undefined) return undefined;
  const line = reason.replace(/\s+/g, " ").trim() || "no reason given";
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 1)}…` : line;
}
