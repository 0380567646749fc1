// A replica's side of Leases through the controller's own client: create,
// renew with PUT and resourceVersion, lose a race with 409, list and watch the
// platform plane with an informer — against the embedded API's root.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PLATFORM_NAMESPACE as SERVED_NAMESPACE } from "../apiserver/index.js";
import { systemClock } from "../util/index.js";
import { silentLogger } from "../util/index.js";
import { eventuallyValue as eventually } from "../../test-support/eventually.js";
import { startTestApiWithClient, type TestApiWithClient } from "../../test-support/telex-api.js";
import { KubeApiError, type KubeClient } from "../kube/index.js";
import { Informer } from "../kube/index.js";
import { LEASES, platformPath } from "./layout.js";
import { PLATFORM_NAMESPACE, microTime, type Lease } from "../kube/index.js";

describe("Leases through KubeClient", () => {
  let api: TestApiWithClient;
  let client: KubeClient;

  before(async () => {
    api = await startTestApiWithClient();
    client = api.client;
  });
  after(async () => {
    await api.close();
  });

  it("names the namespace the server has and writes MicroTimes as kube does", () => {
    assert.equal(PLATFORM_NAMESPACE, SERVED_NAMESPACE);
    assert.equal(microTime(new Date(Date.UTC(2026, 11, 1, 10, 0, 0, 250))), "2026-12-01T10:00:00.250000Z");
    assert.equal(
      platformPath(LEASES, PLATFORM_NAMESPACE, "r"),
      "/apis/coordination.k8s.io/v1/namespaces/telex-system/leases/r",
    );
    assert.equal(platformPath(LEASES), "/apis/coordination.k8s.io/v1/leases");
  });

  it("creates and renews a Lease with PUT and resourceVersion; a stale renewal gets 409", async () => {
    const informer = new Informer<Lease>({
      client,
      path: platformPath(LEASES),
      keyOf: (lease) => `${lease.metadata.namespace ?? ""}/${lease.metadata.name}`,
      handlers: { onUpsert: () => undefined, onDelete: () => undefined },
      clock: systemClock,
      logger: silentLogger,
    });
    informer.start();
    await informer.waitForSync();
    try {
      const now = new Date();
      const created = await client.request<Lease>("POST", platformPath(LEASES, PLATFORM_NAMESPACE), {
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: "replica-a" },
          spec: {
            holderIdentity: "replica-a",
            leaseDurationSeconds: 15,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        },
      });
      const path = platformPath(LEASES, PLATFORM_NAMESPACE, "replica-a");
      const renewTime = microTime(new Date(now.getTime() + 10_000));
      const renewed = await client.request<Lease>("PUT", path, {
        body: { ...created, spec: { ...created.spec, renewTime } },
      });
      assert.equal(renewed.spec?.renewTime, renewTime);
      assert.notEqual(renewed.metadata.resourceVersion, created.metadata.resourceVersion);
      await assert.rejects(
        client.request("PUT", path, { body: { ...created, spec: { ...created.spec, holderIdentity: "b" } } }),
        (error: unknown) =>
          error instanceof KubeApiError && error.statusCode === 409 && error.reason === "Conflict",
      );
      const seen = await eventually(
        () => Promise.resolve(informer.get(`${PLATFORM_NAMESPACE}/replica-a`)),
        (lease) => lease?.spec?.renewTime === renewTime,
        "the informer to see the renewal",
      );
      assert.equal(seen?.spec?.holderIdentity, "replica-a");
    } finally {
      await informer.stop();
    }
  });
});
