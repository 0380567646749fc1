// coordination.k8s.io/v1 Lease, as kube-apiserver serves it: the schema, the
// validation of pkg/apis/coordination/validation (with its wording), and
// MicroTime normalisation. Leases live in the platform plane only: they are
// how replicas of `telex serve --join` say they are alive.
import { dnsSubdomainProblems, fieldError, type FieldError, type SchemaNode } from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import { isObject } from "./json.js";
import { metadataOf } from "./metadata.js";
import { objectHeader } from "./core-schemas.js";

export const LEASE_GROUP = "coordination.k8s.io";

const INT32_MAX = 2_147_483_647;

const microTime = (description: string): SchemaNode => ({
  type: "string",
  format: "date-time",
  description: `${description} A MicroTime: RFC 3339 with microseconds, e.g. 2006-01-02T15:04:05.000000Z.`,
});

/** The strategies kube-apiserver 1.32 accepts (coordinated leader election). */
const STRATEGIES = ["OldestEmulationVersion"] as const;

export const LeaseSchema: SchemaNode = {
  type: "object",
  description: "Lease defines a lease concept.",
  additionalProperties: false,
  properties: {
    ...objectHeader("coordination.k8s.io/v1"),
    spec: {
      type: "object",
      description: "spec contains the specification of the Lease.",
      additionalProperties: false,
      properties: {
        holderIdentity: {
          type: "string",
          description: "holderIdentity contains the identity of the holder of a current lease.",
        },
        leaseDurationSeconds: {
          type: "integer",
          maximum: INT32_MAX,
          description:
            "leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it. This is measured against the time of last observed renewTime.",
        },
        acquireTime: microTime("acquireTime is a time when the current lease was acquired."),
        renewTime: microTime(
          "renewTime is a time when the current holder of a lease has last updated the lease.",
        ),
        leaseTransitions: {
          type: "integer",
          minimum: 0,
          maximum: INT32_MAX,
          description: "leaseTransitions is the number of transitions of a lease between holders.",
        },
        strategy: {
          type: "string",
          enum: [...STRATEGIES],
          description:
            "Strategy indicates the strategy for picking the leader for coordinated leader election.",
        },
        preferredHolder: {
          type: "string",
          description:
            "PreferredHolder signals to a lease holder that the lease has a more optimal holder and should be given up. This field can only be set if Strategy is also set.",
        },
      },
    },
  },
};

/** RFC 3339 with an optional fraction of up to nanoseconds, as Go's time package reads it. */
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** A MicroTime in kube's canonical form (UTC, six fractional digits), or undefined when it is not a time. */
export function canonicalMicroTime(value: string): string | undefined {
  const match = RFC3339.exec(value);
  if (match === null) return undefined;
  const [, seconds = "", fraction = "", zone = ""] = match;
  const ms = Date.parse(`${seconds}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  // Offsets are whole minutes, so the fraction of a second is the same in UTC.
  return `${iso.slice(0, 19)}.${fraction.padEnd(6, "0").slice(0, 6)}Z`;
}

const MICRO_TIMES = ["acquireTime", "renewTime"] as const;

/** Problems the schema does not find, in kube-apiserver's words (ValidateLease). */
export function leaseProblems(lease: JsonObject): FieldError[] {
  const problems: FieldError[] = [];
  const name = metadataOf(lease).name ?? "";
  for (const problem of dnsSubdomainProblems(name))
    problems.push(fieldError.invalid(["metadata", "name"], name, problem));
  const spec = lease["spec"];
  if (!isObject(spec)) return problems;
  const duration = spec["leaseDurationSeconds"];
  if (typeof duration === "number" && duration <= 0)
    problems.push(fieldError.invalid(["spec", "leaseDurationSeconds"], duration, "must be greater than 0"));
  for (const field of MICRO_TIMES) {
    const value = spec[field];
    if (typeof value === "string" && canonicalMicroTime(value) === undefined) {
      problems.push(
        fieldError.invalid(
          ["spec", field],
          value,
          "must be an RFC 3339 time, e.g. 2006-01-02T15:04:05.000000Z",
        ),
      );
    }
  }
  const preferred = spec["preferredHolder"];
  const strategy = spec["strategy"];
  if (
    typeof preferred === "string" &&
    preferred !== "" &&
    (typeof strategy !== "string" || strategy === "")
  ) {
    problems.push(
      fieldError.forbidden(["spec", "preferredHolder"], "may only be specified if `strategy` is defined"),
    );
  }
  return problems;
}

/** Times stored and served the way kube-apiserver writes MicroTime (UTC, microseconds); `spec` always there. */
export function normalizeLease(lease: JsonObject): JsonObject {
  const spec = lease["spec"];
  if (!isObject(spec)) return { ...lease, spec: {} };
  const normalized: JsonObject = { ...spec };
  for (const field of MICRO_TIMES) {
    const value = spec[field];
    if (typeof value !== "string") continue;
    const canonical = canonicalMicroTime(value);
    if (canonical !== undefined) normalized[field] = canonical;
  }
  return { ...lease, spec: normalized };
}
