// Ownership of policies across replicas by rendezvous (highest random
// weight) hashing: each (member, key) pair gets a pseudo-random weight and
// the member with the highest weight owns the key. Every replica computes
// the same owner from the same member list with no coordination, and when a
// member joins or leaves only the keys it wins or held move (about 1/n of
// them), so a membership change causes no reconcile storm.
import { createHash } from "node:crypto";

/** The weight of `member` for `key`: 48 bits of SHA-256, well spread for similar names (pod-0, pod-1). */
export function rendezvousWeight(member: string, key: string): number {
  const digest = createHash("sha256").update(member).update("\0").update(key).digest();
  return digest.readUIntBE(0, 6);
}

/** The member that owns `key`; undefined when there is none. Ties (negligible) go to the smaller name. */
export function rendezvousOwner(key: string, members: readonly string[]): string | undefined {
  let owner: string | undefined;
  let best = -1;
  for (const member of members) {
    const weight = rendezvousWeight(member, key);
    if (weight > best || (weight === best && owner !== undefined && member < owner)) {
      best = weight;
      owner = member;
    }
  }
  return owner;
}
