// Kubernetes conditions with apimachinery's rules: lastTransitionTime moves
// only when status changes; setCondition reports whether anything changed so
// callers can skip writing an unchanged status.
import type { Condition } from "../api/index.js";

export type ConditionStatus = Condition["status"];

export interface DesiredCondition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration: number;
}

/**
 * Returns the conditions with `desired` set, and whether that changed them.
 * An unchanged status keeps its lastTransitionTime.
 */
export function setCondition(
  conditions: readonly Condition[],
  desired: DesiredCondition,
  now: Date,
): { conditions: Condition[]; changed: boolean } {
  const existing = conditions.find((c) => c.type === desired.type);
  if (existing === undefined) {
    return {
      conditions: [...conditions, { ...desired, lastTransitionTime: formatTime(now) }],
      changed: true,
    };
  }
  const lastTransitionTime =
    existing.status === desired.status ? existing.lastTransitionTime : formatTime(now);
  const next: Condition = { ...desired, lastTransitionTime };
  const changed =
    existing.status !== next.status ||
    existing.reason !== next.reason ||
    existing.message !== next.message ||
    existing.observedGeneration !== next.observedGeneration ||
    existing.lastTransitionTime !== next.lastTransitionTime;
  return { conditions: conditions.map((c) => (c === existing ? next : c)), changed };
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** RFC 3339 in seconds, as Kubernetes writes metav1.Time. */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
