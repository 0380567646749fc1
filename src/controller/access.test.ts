// CONTROLLER_API_ACCESS is exactly what the controller calls: a policy's whole
// life (start-up check, informers, finalizer, status, events, deletion)
// against a project's control plane of the embedded API in the cluster layout,
// with every request recorded and turned into RBAC attributes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Dispatcher } from "undici";
import type { ExportPolicy } from "../api/index.js";
import { Exporter } from "../exporter/exporter.js";
import { encodeWriteRequest } from "../remotewrite/index.js";
import { checkCluster } from "../serve/index.js";
import { startCountingReceiver, type CountingReceiver } from "../../test-support/counting-receiver.js";
import { eventuallyValue as eventually } from "../../test-support/eventually.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { startTestApiServer, type TestApiServer } from "../../test-support/telex-api.js";
import { Controller } from "./controller.js";
import { FINALIZER } from "./reconciler.js";
import {
  CONTROLLER_API_ACCESS,
  FLEET_API_ACCESS,
  FLEET_LEASE_ACCESS,
  NAMESPACE_PROJECTS_ACCESS,
  PULL_POSITIONS_ACCESS,
  accessKey,
  describeAccess,
  requestAccess,
  type ApiAccess,
} from "./access.js";
import {
  KubeApiError,
  KubeClient,
  PLATFORM_NAMESPACE,
  type ConfigMap,
  type RequestOptions,
  type WatchEvent,
  type ClusterConnection,
} from "../kube/index.js";
import { CONFIG_MAPS, LEASES, clusterLayout, platformPath } from "./layout.js";
import { ApiCursorStore, Membership } from "../fleet/index.js";
import { NamespaceProjects, PROJECT_LABEL, namespaceProjectsLayout } from "./namespace-projects.js";
import { systemClock } from "../util/index.js";
import { silentLogger } from "../util/index.js";

/** A client that notes the RBAC attributes of every request it sends. */
class RecordingClient extends KubeClient {
  readonly seen = new Map<string, ApiAccess & { readonly example: string }>();
  readonly paths = new Set<string>();

  private note(method: string, path: string, watch: boolean): void {
    const access = requestAccess(method, path, watch);
    this.seen.set(accessKey(access), { ...access, example: `${method} ${path}` });
    this.paths.add(path);
  }

  override request<T>(method: Dispatcher.HttpMethod, path: string, options?: RequestOptions): Promise<T> {
    this.note(method, path, false);
    return super.request<T>(method, path, options);
  }

  override watch<T>(path: string, options?: RequestOptions): AsyncGenerator<WatchEvent<T>> {
    this.note("GET", path, true);
    return super.watch<T>(path, options);
  }
}

const PROJECT = "access-p1";
const CONTROL_PLANE = `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${PROJECT}/control-plane`;
const POLICY = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";

describe("requestAccess", () => {
  it("derives group, resource and verb the way kube-apiserver does", () => {
    const cases: [string, string, boolean, string][] = [
      [
        "GET",
        "/apis/telemetry.miloapis.com/v1alpha1/exportpolicies?limit=1",
        false,
        "telemetry.miloapis.com|exportpolicies|list",
      ],
      [
        "GET",
        "/apis/telemetry.miloapis.com/v1alpha1/exportpolicies",
        true,
        "telemetry.miloapis.com|exportpolicies|watch",
      ],
      ["GET", "/api/v1/secrets?watch=true", false, "|secrets|watch"],
      ["GET", "/api/v1/namespaces/a/secrets/s", false, "|secrets|get"],
      ["PATCH", `${POLICY}/p/status`, false, "telemetry.miloapis.com|exportpolicies/status|patch"],
      ["POST", "/api/v1/namespaces/default/events", false, "|events|create"],
      ["PUT", `${POLICY}/p`, false, "telemetry.miloapis.com|exportpolicies|update"],
      ["DELETE", POLICY, false, "telemetry.miloapis.com|exportpolicies|deletecollection"],
    ];
    for (const [method, path, watch, key] of cases) {
      assert.equal(accessKey(requestAccess(method, path, watch)), key, `${method} ${path}`);
    }
    assert.throws(() => requestAccess("GET", "/healthz"), /not a Kubernetes resource path/);
  });

  it("names every grant in the start-up error message", () => {
    assert.equal(
      describeAccess(),
      "list,watch,patch exportpolicies.telemetry.miloapis.com; patch exportpolicies.telemetry.miloapis.com/status; list,watch secrets; create events",
    );
  });
});

/** The namespace and project a policy lives in, and what to call the API. */
interface PolicyPlace {
  readonly admin: KubeClient;
  readonly exporter: Exporter;
  readonly receiver: CountingReceiver;
  readonly namespace: string;
  readonly project: string;
}

/** A policy's whole life: Secret, policy, finalizer, Ready with its Event, deletion. */
async function liveAPolicy({ admin, exporter, receiver, namespace, project }: PolicyPlace): Promise<void> {
  const policies = `/apis/telemetry.miloapis.com/v1alpha1/namespaces/${namespace}/exportpolicies`;
  await admin.request("POST", `/api/v1/namespaces/${namespace}/secrets`, {
    body: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "creds", namespace },
      type: "kubernetes.io/basic-auth",
      stringData: { username: "u", password: "p" },
    },
  });
  await admin.request("POST", policies, {
    body: {
      apiVersion: "telemetry.miloapis.com/v1alpha1",
      kind: "ExportPolicy",
      metadata: { name: "gateways", namespace },
      spec: {
        sources: [{ name: "gw", metrics: { metricsql: '{resource_kind="Gateway"}' } }],
        sinks: [
          {
            name: "rw",
            sources: ["gw"],
            target: {
              prometheusRemoteWrite: {
                endpoint: receiver.writeUrl,
                authentication: { basicAuth: { secretRef: { name: "creds" } } },
                batch: { timeout: "100ms" },
              },
            },
          },
        ],
      },
    },
  });
  const get = () => admin.request<ExportPolicy>("GET", `${policies}/gateways`);
  await eventually(get, (p) => p.metadata.finalizers?.includes(FINALIZER) === true, "the finalizer");
  await eventually(
    async () => {
      exporter.ingest.apply(
        encodeWriteRequest([
          {
            labels: [
              { name: "__name__", value: "up" },
              { name: TENANT_LABEL, value: project },
              { name: "resource_kind", value: "Gateway" },
            ],
            samples: [{ value: 1, timestampMs: Date.now() }],
          },
        ]),
      );
      return get();
    },
    (p) => p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True",
    "Ready",
  );
  const events = await eventually(
    () => admin.request<{ items?: { reason?: string }[] }>("GET", `/api/v1/namespaces/${namespace}/events`),
    (list) => (list.items ?? []).some((e) => e.reason === "Ready"),
    "the Ready event",
  );
  assert.ok(events);
  await admin.request("DELETE", `${policies}/gateways`);
  await eventually(
    async () => {
      try {
        await get();
        return false;
      } catch (error) {
        if (error instanceof KubeApiError && error.statusCode === 404) return true;
        throw error;
      }
    },
    (gone) => gone,
    "the policy gone once its finalizer is removed",
  );
}

function assertCalledExactly(recorder: RecordingClient, access: readonly ApiAccess[]): void {
  const called = [...recorder.seen.values()];
  assert.deepEqual(
    called.map(accessKey).sort(),
    access.map(accessKey).sort(),
    `requests made:\n${called.map((a) => `  ${accessKey(a)}  (${a.example})`).join("\n")}`,
  );
}

for (const mode of ["--project", "labelled namespaces"] as const) {
  const access =
    mode === "--project" ? CONTROLLER_API_ACCESS : [...CONTROLLER_API_ACCESS, ...NAMESPACE_PROJECTS_ACCESS];
  describe(`what the controller asks of a cluster (${mode})`, () => {
    let server: TestApiServer;
    let receiver: CountingReceiver;
    let admin: KubeClient;
    let recorder: RecordingClient;
    let exporter: Exporter;
    let controller: Controller;
    const namespace = mode === "--project" ? "default" : "team-a";
    const project = mode === "--project" ? PROJECT : "access-fleet";

    before(async () => {
      [server, receiver] = await Promise.all([startTestApiServer(), startCountingReceiver()]);
      const connection: ClusterConnection = {
        server: `${server.api.url}${CONTROL_PLANE}`,
        tls: { rejectUnauthorized: true },
        authorization: () => undefined,
      };
      admin = new KubeClient(connection);
      recorder = new RecordingClient(connection);
      exporter = new Exporter({ tenantLabel: TENANT_LABEL });
      if (mode !== "--project") {
        await admin.request("POST", "/api/v1/namespaces", {
          body: {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: namespace, labels: { [PROJECT_LABEL]: project } },
          },
        });
      }
      const layout =
        mode === "--project"
          ? clusterLayout(PROJECT)
          : namespaceProjectsLayout(
              new NamespaceProjects({ client: recorder, clock: systemClock, logger: silentLogger }),
            );
      await checkCluster(recorder, layout, connection.server, access);
      controller = new Controller({
        client: recorder,
        layout,
        exporter,
        tenantLabel: TENANT_LABEL,
        statusRefreshMs: 100,
      });
      await controller.start();
    });

    after(async () => {
      await controller.stop();
      await exporter.close();
      await Promise.all([admin.close(), recorder.close()]);
      await Promise.all([server.close(), receiver.close()]);
    });

    it(
      mode === "--project"
        ? "is exactly CONTROLLER_API_ACCESS"
        : "is exactly CONTROLLER_API_ACCESS and NAMESPACE_PROJECTS_ACCESS",
      async () => {
        await liveAPolicy({ admin, exporter, receiver, namespace, project });
        assertCalledExactly(recorder, access);
      },
    );
  });
}

// FLEET_API_ACCESS is exactly what a fleet replica's Membership and pull
// positions call: a Lease taken, renewed and released, positions created,
// patched and read, a departed replica's positions deleted — against the
// embedded API's platform plane, which serves Leases and ConfigMaps as a
// cluster does, with every request recorded.
describe("what a fleet replica asks of the lease namespace", () => {
  let server: TestApiServer;
  let admin: KubeClient;
  let leaseRecorder: RecordingClient;
  let positionsRecorder: RecordingClient;

  before(async () => {
    server = await startTestApiServer();
    const connection: ClusterConnection = {
      server: server.api.url,
      tls: { rejectUnauthorized: true },
      authorization: () => undefined,
    };
    admin = new KubeClient(connection);
    leaseRecorder = new RecordingClient(connection);
    positionsRecorder = new RecordingClient(connection);
  });
  after(async () => {
    await Promise.all([admin.close(), leaseRecorder.close(), positionsRecorder.close()]);
    await server.close();
  });

  it("is exactly FLEET_LEASE_ACCESS and PULL_POSITIONS_ACCESS, each in the lease namespace", async () => {
    const configMapsPath = platformPath(CONFIG_MAPS, PLATFORM_NAMESPACE);
    const departed = new ApiCursorStore({
      client: admin,
      configMapsPath,
      identity: "replica-z",
      flushIntervalMs: 10,
    });
    await departed.start();
    const position = Date.now() - 60_000;
    await departed.save("policy/sink", position);
    await departed.close();

    const membership = new Membership({
      client: leaseRecorder,
      leasesPath: platformPath(LEASES, PLATFORM_NAMESPACE),
      identity: "replica-a",
      leaseDurationMs: 3_000,
      renewIntervalMs: 50,
    });
    await membership.start();
    const positions = new ApiCursorStore({
      client: positionsRecorder,
      configMapsPath,
      identity: "replica-a",
      flushIntervalMs: 10,
      liveMembers: () => membership.members,
    });
    await positions.start();
    try {
      await eventually(
        () => membership.stats.renewals,
        (renewals) => renewals >= 2,
        "a renewal after the Lease was created",
      );
      // The first flush creates this replica's ConfigMap (its patch gets 404), the second patches it
      // and passes the departed replica's position.
      await positions.save("policy/sink", position);
      await positions.save("policy/sink", position + 30_000);
      const removed = await eventually(
        () => positions.removeDepartedPositions(),
        (names) => names.length > 0,
        "the departed replica's positions deleted",
      );
      assert.equal(removed.length, 1, "one position, one ConfigMap");
      assert.match(removed[0] ?? "", /^telex-pull-positions-replica-z-\d$/);
    } finally {
      await positions.close();
      await membership.stop();
    }
    const left = await admin.request<{ items: ConfigMap[] }>("GET", configMapsPath);
    assert.ok(
      left.items.every((item) => !item.metadata.name.startsWith("telex-pull-positions-replica-z-")),
      "replica-z's positions are gone",
    );

    assertCalledExactly(leaseRecorder, FLEET_LEASE_ACCESS);
    assertCalledExactly(positionsRecorder, PULL_POSITIONS_ACCESS);
    // Together, what a Role in the lease namespace grants (deploy/overlays/fleet/rbac.yaml).
    assert.deepEqual(
      [...leaseRecorder.seen.keys(), ...positionsRecorder.seen.keys()].sort(),
      FLEET_API_ACCESS.map(accessKey).sort(),
    );
    for (const path of [...leaseRecorder.paths, ...positionsRecorder.paths])
      assert.match(
        path,
        new RegExp(`/namespaces/${PLATFORM_NAMESPACE}/`),
        "a Role in the lease namespace grants it",
      );
  });
});
