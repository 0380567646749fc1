// Push mode across the replicas of a fleet. Any replica accepts ingest (one
// Service in front of all); series matching a policy another replica runs
// are sent on to that replica once, as a Remote Write request to its ingest
// listener's forward path, so that every sink runs in one place and each
// series' samples reach it in order. The owner answers only once the samples
// are in its durable buffer, and the agent's request is answered only once
// every part of it is durable where it will be sent from.
//
// The hop is authenticated with the ingest token every replica shares: the
// forward path grants nothing the public one does not (the owner routes the
// series with its own policies, scoped by the tenant label as always); it
// only forbids forwarding again, so no request travels in circles.
import { rendezvousOwner } from "./rendezvous.js";
import type { Membership } from "./membership.js";
import type { ExpositionWriter } from "../metrics/exposition.js";
import type { FleetForwarding } from "../exporter/exporter.js";
import { ForwardError } from "../exporter/ingest/processor.js";
import { FORWARD_PATH } from "../exporter/ingest/server.js";
import { silentLogger, systemClock, type Clock, type Logger } from "../util/index.js";

export const FORWARD_DEFAULTS = {
  /** One attempt: the owner writes to its buffer before it answers, which is quick unless it is overloaded. */
  attemptTimeoutMs: 10_000,
  /**
   * How long a request keeps trying before the agent is answered 503 (and
   * retries the whole request): room for a peer restarting, or the members'
   * views converging after a change; a killed peer's policies move only
   * when its Lease expires (15 s), which the agent's own retries bridge.
   */
  deadlineMs: 10_000,
  firstBackoffMs: 50,
  maxBackoffMs: 1_000,
} as const;

export const FORWARD_OUTCOMES = ["ok", "retried", "failed"] as const;
type ForwardOutcome = (typeof FORWARD_OUTCOMES)[number];

export interface ForwarderOptions {
  readonly membership: Membership;
  /** The ingest token (Bearer) every replica's ingest listener expects; none when ingest is open. */
  readonly token?: string;
  readonly attemptTimeoutMs?: number;
  readonly deadlineMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** An answer worth trying again: the peer is restarting, overloaded, or sees the fleet differently. */
function retryable(status: number): boolean {
  return status === 421 || status === 429 || status >= 500;
}

export class Forwarder implements FleetForwarding {
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Owner per policy uid under the current members; cleared when they change. */
  private owners = new Map<string, string | undefined>();
  private readonly requests: Record<ForwardOutcome, number> = { ok: 0, retried: 0, failed: 0 };
  private readonly peersFailing = new Set<string>();

  constructor(private readonly options: ForwarderOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    options.membership.onChange(() => {
      this.owners = new Map();
    });
  }

  ownerOf(uid: string): string | undefined {
    if (this.owners.has(uid)) return this.owners.get(uid);
    const members = this.options.membership.members;
    const owner = members.length === 0 ? undefined : rendezvousOwner(uid, members);
    this.owners.set(uid, owner);
    return owner;
  }

  /** Sends the request to the peer until it is durable there, or the deadline passes (ForwardError). */
  async send(peer: string, body: Uint8Array, samples: number): Promise<void> {
    const deadline = this.clock.now() + (this.options.deadlineMs ?? FORWARD_DEFAULTS.deadlineMs);
    let backoff: number = FORWARD_DEFAULTS.firstBackoffMs;
    for (;;) {
      const problem = await this.attempt(peer, body);
      if (problem === undefined) {
        this.requests.ok++;
        if (this.peersFailing.delete(peer)) this.logger.info("forwarding to a replica works again", { peer });
        return;
      }
      if (problem.final || this.clock.now() + backoff >= deadline) {
        this.requests.failed++;
        if (!this.peersFailing.has(peer)) {
          this.peersFailing.add(peer);
          this.logger.warn("could not forward samples to the replica running their policies", {
            peer,
            samples,
            error: problem.message,
          });
        }
        throw new ForwardError(`could not forward to replica ${peer}: ${problem.message}; retry`);
      }
      this.requests.retried++;
      await new Promise<void>((resolve) => {
        this.clock.setTimer(backoff, resolve);
      });
      backoff = Math.min(backoff * 2, FORWARD_DEFAULTS.maxBackoffMs);
    }
  }

  writeMetrics(writer: ExpositionWriter): void {
    for (const outcome of FORWARD_OUTCOMES) {
      writer.sample(
        "telex_fleet_forward_requests_total",
        "Requests forwarding samples to the replica that runs their policies, by outcome (retried: an attempt failed and was tried again).",
        "counter",
        { outcome },
        this.requests[outcome],
      );
    }
  }

  private async attempt(
    peer: string,
    body: Uint8Array,
  ): Promise<{ readonly message: string; readonly final: boolean } | undefined> {
    const base = this.options.membership.ingestUrlOf(peer);
    if (base === undefined) return { message: "it publishes no ingest URL on its Lease", final: false };
    const headers: Record<string, string> = {
      "Content-Type": "application/x-protobuf",
      "Content-Encoding": "snappy",
      "X-Prometheus-Remote-Write-Version": "0.1.0",
      "X-Telex-Forwarded-By": this.options.membership.identity,
    };
    if (this.options.token !== undefined) headers.Authorization = `Bearer ${this.options.token}`;
    try {
      const response = await fetch(new URL(FORWARD_PATH, base), {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(this.options.attemptTimeoutMs ?? FORWARD_DEFAULTS.attemptTimeoutMs),
      });
      const text = response.ok ? "" : (await response.text()).trim().slice(0, 300);
      if (response.ok) return undefined;
      return { message: `HTTP ${response.status}: ${text}`, final: !retryable(response.status) };
    } catch (error: unknown) {
      const cause = (error as { cause?: { code?: unknown } }).cause?.code;
      return { message: typeof cause === "string" ? cause : String(error), final: false };
    }
  }
}
