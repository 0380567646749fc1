import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rendezvousOwner } from "./rendezvous.js";

const keys = Array.from({ length: 6000 }, (_, i) => `9d1c6c4e-0000-4000-8000-${String(i).padStart(12, "0")}`);

function shares(members: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(members.map((m) => [m, 0]));
  for (const key of keys) {
    const owner = rendezvousOwner(key, members) ?? "";
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

describe("rendezvousOwner", () => {
  it("has no owner without members, and the only member owns everything", () => {
    assert.equal(rendezvousOwner("a", []), undefined);
    assert.equal(rendezvousOwner("a", ["telex-0"]), "telex-0");
  });

  it("does not depend on the order of the member list", () => {
    for (const key of keys.slice(0, 200)) {
      assert.equal(rendezvousOwner(key, ["a", "b", "c"]), rendezvousOwner(key, ["c", "a", "b"]));
    }
  });

  it("spreads keys evenly over similar names (within 10% of a fair share)", () => {
    const members = ["telex-0", "telex-1", "telex-2"];
    for (const [member, count] of shares(members)) {
      assert.ok(Math.abs(count - keys.length / 3) < keys.length / 30, `${member}: ${count}`);
    }
  });

  it("moves only the leaving member's keys when one leaves, and only the newcomer's when one joins", () => {
    const three = ["telex-0", "telex-1", "telex-2"];
    const two = ["telex-0", "telex-2"];
    const four = [...three, "telex-3"];
    let movedOnLeave = 0;
    let movedOnJoin = 0;
    for (const key of keys) {
      const before = rendezvousOwner(key, three);
      const afterLeave = rendezvousOwner(key, two);
      if (before !== afterLeave) {
        assert.equal(before, "telex-1", "only the leaver's keys move");
        movedOnLeave++;
      }
      const afterJoin = rendezvousOwner(key, four);
      if (before !== afterJoin) {
        assert.equal(afterJoin, "telex-3", "keys move only to the newcomer");
        movedOnJoin++;
      }
    }
    assert.ok(Math.abs(movedOnLeave - keys.length / 3) < keys.length / 30, `left: ${movedOnLeave}`);
    assert.ok(Math.abs(movedOnJoin - keys.length / 4) < keys.length / 30, `joined: ${movedOnJoin}`);
  });
});
