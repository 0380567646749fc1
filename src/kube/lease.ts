// The Lease object (coordination.k8s.io/v1) as a client reads and writes it,
// and its MicroTime. Where Leases live: platformPath(LEASES, …) in layout.ts.
import type { KubeObject } from "./informer.js";

/** The embedded API's platform plane has this one namespace (a cluster may use any). */
export const PLATFORM_NAMESPACE = "telex-system";

export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  /** MicroTime: RFC 3339 with microseconds (see microTime). */
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  readonly spec?: LeaseSpec;
}

/** A MicroTime as kube-apiserver writes it: UTC, six fractional digits (ours has milliseconds). */
export function microTime(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000Z`;
}
