export { Membership, MEMBERSHIP_DEFAULTS, REPLICA_LABEL, microTime } from "./membership.js";
export type { Lease, LeaseSpec, MembershipOptions } from "./membership.js";
export { Ownership } from "./ownership.js";
export { rendezvousOwner, rendezvousWeight } from "./rendezvous.js";
