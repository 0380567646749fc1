// The client side of the control-plane benchmark (bench/controller.ts), in
// its own process as clients of a real server would be: it creates the
// policies through the API with 16 concurrent requests and watches them
// like `kubectl get -w`, printing one JSON line per milestone (synced,
// created, reconciled: every policy has a status, ready: every policy is
// Ready). In the server's process it took a good part of the one event loop
// being measured, and its informer's 10,000 objects counted in the server's memory.
import { KubeClient, Informer, type KubeObject } from "../src/kube/index.js";
import { systemClock, silentLogger } from "../src/util/index.js";

const [server = "", endpoint = "", totalText = "", projectsText = "", concurrencyText = ""] =
  process.argv.slice(2);
const total = Number(totalText);
const projects = Number(projectsText);
const concurrency = Number(concurrencyText);

function policy(index: number): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name: `policy-${index}` },
    spec: {
      sources: [
        {
          name: "gw",
          metrics: { metricsql: '{service_name="networking.miloapis.com", resource_kind="Gateway"}' },
        },
      ],
      sinks: [
        {
          name: "k",
          sources: ["gw"],
          target: { prometheusRemoteWrite: { endpoint, batch: { timeout: "1s" } } },
        },
      ],
    },
  };
}

const policiesPath = (project: number) =>
  `/apis/resourcemanager.miloapis.com/v1alpha1/projects/project-${project}/control-plane/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies`;
const ALL_POLICIES =
  "/apis/resourcemanager.miloapis.com/v1alpha1/projects/-/control-plane/apis/telemetry.miloapis.com/v1alpha1/exportpolicies";

interface PolicyStatus extends KubeObject {
  readonly status?: { readonly conditions?: readonly { type: string; status: string }[] };
}

const say = (step: string) => {
  console.log(JSON.stringify({ step }));
};

const client = new KubeClient({ server, tls: { rejectUnauthorized: true }, authorization: () => undefined });
const withStatus = new Set<string>();
const ready = new Set<string>();
let told = { reconciled: false, ready: false };
const check = () => {
  if (!told.reconciled && withStatus.size === total) {
    told = { ...told, reconciled: true };
    say("reconciled");
  }
  if (!told.ready && ready.size === total) {
    told = { ...told, ready: true };
    say("ready");
  }
};
const informer = new Informer<PolicyStatus>({
  client,
  path: ALL_POLICIES,
  keyOf: (p) => p.metadata.uid ?? "",
  clock: systemClock,
  logger: silentLogger,
  handlers: {
    onUpsert: (key, p) => {
      const conditions = p.status?.conditions ?? [];
      if (conditions.length > 0) withStatus.add(key);
      if (conditions.some((c) => c.type === "Ready" && c.status === "True")) ready.add(key);
      else ready.delete(key);
      check();
    },
    onDelete: () => undefined,
  },
});
informer.start();
await informer.waitForSync();
say("synced");
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      await client.request("POST", policiesPath(i % projects), { body: policy(i) });
    }
  }),
);
say("created");
process.on("SIGTERM", () => {
  void informer
    .stop()
    .then(() => client.close())
    .finally(() => process.exit(0));
});
