// Which policies this replica runs: those whose uid it wins by rendezvous
// hashing over the live members. Not a member (starting, or its Lease not
// renewed in time) means owning nothing.
import type { Membership } from "./membership.js";
import { rendezvousOwner } from "./rendezvous.js";

export class Ownership {
  constructor(private readonly membership: Membership) {}

  owns(uid: string): boolean {
    const members = this.membership.members;
    const self = this.membership.identity;
    return members.includes(self) && rendezvousOwner(uid, members) === self;
  }

  onChange(listener: () => void): void {
    this.membership.onChange(() => {
      listener();
    });
  }
}
