// What a replica's /readyz checks (src/metrics/health.ts answers it): each
// check reads state its component keeps anyway, so a probe costs nothing.
//   api               the controller's list/watch of the API it follows is not failing
//   informers-synced  the controller's caches hold a first complete list
//   buffer            push mode's durable buffer takes records and is not writing behind
//   membership        in a fleet: this replica's Lease is fresh (it runs its share)
//   source            pull mode: the metrics store answers (not every job's last read failed)
// A replica that fails one still runs; not ready tells a load balancer (and
// its operator) to send agents elsewhere for now.
import type { Controller } from "../controller/controller.js";
import type { DurableLog } from "../exporter/buffer/index.js";
import type { PullSource } from "../exporter/pull/index.js";
import type { Membership } from "../fleet/index.js";
import type { ExpositionWriter } from "../metrics/exposition.js";
import type { HealthCheck } from "../metrics/health.js";

export interface ReadinessParts {
  readonly controller: Pick<Controller, "apiFailure" | "unsyncedResources">;
  /** Push mode with the disk buffer. */
  readonly log?: Pick<DurableLog, "refusal" | "overloaded" | "pendingBytes"> | undefined;
  /** One of a fleet. */
  readonly membership?: Pick<Membership, "isMember" | "stats"> | undefined;
  /** Pull mode. */
  readonly pull?: Pick<PullSource, "storeFailure"> | undefined;
}

export function replicaReadiness({ controller, log, membership, pull }: ReadinessParts): HealthCheck[] {
  const checks: HealthCheck[] = [
    { name: "api", check: () => controller.apiFailure },
    {
      name: "informers-synced",
      check: () => {
        const unsynced = controller.unsyncedResources;
        return unsynced.length === 0 ? undefined : `not synced yet: ${unsynced.join(", ")}`;
      },
    },
  ];
  if (log !== undefined) {
    checks.push({
      name: "buffer",
      check: () => {
        if (log.refusal !== undefined) return log.refusal;
        if (log.overloaded)
          return `writing behind: ${log.pendingBytes} bytes not yet on disk; ingest answers 429 until they are`;
        return undefined;
      },
    });
  }
  if (membership !== undefined) {
    checks.push({
      name: "membership",
      check: () =>
        membership.isMember
          ? undefined
          : `this replica's Lease was not renewed within its duration, so it runs no policies (renewals failed so far: ${membership.stats.renewalFailures})`,
    });
  }
  if (pull !== undefined) checks.push({ name: "source", check: () => pull.storeFailure() });
  return checks;
}

/** Each /readyz check as a gauge, so alerts see which one fails (1) without probing. */
export function writeReadiness(writer: ExpositionWriter, checks: readonly HealthCheck[]): void {
  for (const check of checks) {
    writer.sample(
      "telex_readyz_check_failing",
      "1 while this /readyz check fails, 0 while it passes.",
      "gauge",
      { check: check.name },
      check.check() === undefined ? 0 : 1,
    );
  }
}
