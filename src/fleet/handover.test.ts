// The handover gate through real Leases of the embedded API: a replica that
// starts running a policy waits while another live replica lists it as
// draining, or has not yet published that it acted on the same members; a
// replica that is gone is not waited for.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeClient } from "../kube/index.js";
import { PLATFORM_NAMESPACE } from "../kube/index.js";
import { LEASES, platformPath } from "../controller/layout.js";
import { eventually } from "../../test-support/eventually.js";
import { startTestApiWithClient, type TestApiWithClient } from "../../test-support/telex-api.js";
import { DRAINING_ANNOTATION, Handover, MEMBERS_VIEW_ANNOTATION, membersView } from "./handover.js";
import { Membership } from "./membership.js";

describe("Handover through Leases", () => {
  let api: TestApiWithClient;
  let client: KubeClient;
  const stops: (() => Promise<void>)[] = [];

  before(async () => {
    api = await startTestApiWithClient();
    client = api.client;
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await api.close();
  });

  async function replica(identity: string): Promise<{ membership: Membership; handover: Handover }> {
    const membership = new Membership({
      client,
      leasesPath: platformPath(LEASES, PLATFORM_NAMESPACE),
      identity,
      leaseDurationMs: 2_000,
      renewIntervalMs: 300,
    });
    await membership.start();
    const handover = new Handover({ membership, maxViewWaitMs: 60_000 });
    stops.push(() => membership.stop());
    return { membership, handover };
  }

  /** Whether the promise settled within a few renewals. */
  async function settledWithin(promise: Promise<void>, ms: number): Promise<boolean> {
    return Promise.race([
      promise.then(() => true),
      new Promise<boolean>((resolve) =>
        setTimeout(() => {
          resolve(false);
        }, ms),
      ),
    ]);
  }

  it("waits for a live replica's draining list and its view of the members, never for a gone one", async () => {
    const a = await replica("handover-a");
    const b = await replica("handover-b");
    await eventually(
      () => a.membership.members.length === 2 && b.membership.members.length === 2,
      "both see both",
    );
    a.handover.markDraining("uid-1");
    const never = new AbortController();

    // B has not acted on the members yet (not started): A waits for its view.
    a.handover.start();
    const aWaits = a.handover.whenSettled("uid-2", never.signal);
    assert.equal(await settledWithin(aWaits, 800), false, "A waits for B's view");
    b.handover.start();
    assert.equal(await settledWithin(aWaits, 5_000), true, "B published the same view");
    const view = membersView(["handover-a", "handover-b"]);
    assert.equal(b.membership.annotationsOf("handover-a")?.[MEMBERS_VIEW_ANNOTATION], view);

    // A drains uid-1: B holds that policy's samples, not another's.
    await eventually(
      () => b.membership.annotationsOf("handover-a")?.[DRAINING_ANNOTATION] === "uid-1",
      "A lists uid-1 on its Lease",
    );
    const uid1 = b.handover.whenSettled("uid-1", never.signal);
    assert.equal(await settledWithin(b.handover.whenSettled("uid-3", never.signal), 2_000), true);
    assert.equal(await settledWithin(uid1, 800), false, "B waits while A drains uid-1");
    assert.equal(b.handover.waiting, 1);
    a.handover.doneDraining("uid-1");
    assert.equal(await settledWithin(uid1, 5_000), true, "A delivered its backlog");
    assert.equal(b.handover.waiting, 0);

    // A drains again and is then gone: B stops waiting once A's Lease is.
    a.handover.markDraining("uid-4");
    await eventually(
      () => b.membership.annotationsOf("handover-a")?.[DRAINING_ANNOTATION] === "uid-4",
      "A lists uid-4",
    );
    const uid4 = b.handover.whenSettled("uid-4", never.signal);
    assert.equal(await settledWithin(uid4, 500), false);
    await a.membership.stop();
    assert.equal(await settledWithin(uid4, 5_000), true, "a replica that left is not waited for");

    // A waiter whose sink stopped is let go.
    const aborted = new AbortController();
    const c = await replica("handover-c");
    const waits = b.handover.whenSettled("uid-5", aborted.signal);
    aborted.abort();
    assert.equal(await settledWithin(waits, 1_000), true, "an aborted wait resolves");
    assert.equal(b.handover.waiting, 0);
    c.handover.start();
  });
});
