// deploy/: each kustomization rendered by `kubectl kustomize` and checked the
// way a cluster and `telex serve` would take it: well-formed objects; the
// container's args parsed with serve's own flag definitions, then the real
// server started with them (paths moved under a temp dir); probes, ports and
// Services agree with the listen flags, and the probes' paths answer there
// (/livez for startup and liveness, /readyz for readiness); every file flag is
// mounted; the data directory is on a claim; several replicas only as a fleet,
// and a pushing fleet's replicas advertise their pod IP for the forward hop;
// RBAC grants exactly what src/controller/access.test.ts proves the replica
// calls: CONTROLLER_API_ACCESS (+ NAMESPACE_PROJECTS_ACCESS without --project)
// cluster-wide, and a fleet's FLEET_LEASE_ACCESS (+ PULL_POSITIONS_ACCESS in
// pull mode) in its lease namespace only.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { after, before, describe, it } from "node:test";
import { Readable } from "node:stream";
import { parse, parseAllDocuments } from "yaml";
import { isLoopback, parseListenAddress } from "./apiserver/index.js";
import { CRD_PATH } from "./api/crd.js";
import { SERVE_OPTIONS, run } from "./cli/commands/serve.js";
import {
  CONTROLLER_API_ACCESS,
  FLEET_LEASE_ACCESS,
  NAMESPACE_PROJECTS_ACCESS,
  PULL_POSITIONS_ACCESS,
  accessKey,
  type ApiAccess,
} from "./controller/access.js";
import { DEFAULT_MIN_FREE_DISK, DEFAULT_TOTAL_MAX_BYTES } from "./exporter/buffer/defaults.js";
import { INGEST_URL_ANNOTATION } from "./fleet/index.js";
import { PLATFORM_NAMESPACE } from "./kube/index.js";
import { DEFAULT_METRICS_LISTEN } from "./serve/index.js";
import { heapLimitWarning, recommendedHeapMiB } from "./util/index.js";
import { defaultReplicaName } from "./serve/replica.js";
import { kubectlPeer } from "../test-support/kubectl.js";
import { selfSignedCert } from "../test-support/self-signed-cert.js";
import { startTestApiServer, type TestApiServer } from "../test-support/telex-api.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
}
interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: Meta;
}
interface Port {
  readonly name?: string;
  readonly containerPort: number;
}
interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: string | number };
}
interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}
interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: string[];
  readonly env?: EnvVar[];
  readonly ports?: Port[];
  readonly startupProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly resources?: {
    readonly requests?: { readonly cpu?: string; readonly memory?: string };
    readonly limits?: { readonly cpu?: string; readonly memory?: string };
  };
  readonly volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  readonly securityContext?: {
    readonly allowPrivilegeEscalation?: boolean;
    readonly readOnlyRootFilesystem?: boolean;
    readonly privileged?: boolean;
    readonly capabilities?: { readonly drop?: string[]; readonly add?: string[] };
  };
}
interface PodSpec {
  readonly containers: Container[];
  readonly volumes?: { name: string; secret?: { secretName: string }; emptyDir?: object }[];
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly securityContext?: { readonly runAsNonRoot?: boolean; readonly runAsUser?: number };
}
interface StatefulSet extends K8sObject {
  readonly spec: {
    readonly replicas: number;
    readonly podManagementPolicy?: string;
    readonly serviceName: string;
    readonly selector: { readonly matchLabels: Record<string, string> };
    readonly template: { readonly metadata: Meta; readonly spec: PodSpec };
    readonly volumeClaimTemplates?: {
      metadata: Meta;
      spec: { resources: { requests: { storage: string } } };
    }[];
  };
}
interface Service extends K8sObject {
  readonly spec: {
    readonly clusterIP?: string;
    readonly selector: Record<string, string>;
    readonly ports: { name: string; port: number; targetPort: string | number }[];
  };
}
interface Rule {
  readonly apiGroups?: string[];
  readonly resources?: string[];
  readonly verbs: string[];
  readonly resourceNames?: string[];
  readonly nonResourceURLs?: string[];
}
interface Role extends K8sObject {
  readonly rules: Rule[];
}
interface Binding extends K8sObject {
  readonly roleRef: { readonly kind: string; readonly name: string };
  readonly subjects: { kind: string; name: string; namespace?: string }[];
}

const CLUSTER_SCOPED = new Set([
  "Namespace",
  "CustomResourceDefinition",
  "ClusterRole",
  "ClusterRoleBinding",
]);
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function render(dir: string): K8sObject[] {
  const text = execFileSync(kubectlPeer.requirePath(), ["kustomize", join(REPO, dir)], {
    encoding: "utf8",
    maxBuffer: 64 * 2 ** 20,
  });
  return parseAllDocuments(text).map((document) => {
    assert.equal(document.errors.length, 0, String(document.errors[0]));
    return document.toJSON() as K8sObject;
  });
}

function ofKind<T extends K8sObject>(objects: readonly K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Bytes of a Kubernetes quantity with a binary or decimal suffix (as storage requests use). */
function quantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  assert.ok(match, `quantity ${quantity}`);
  const units: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(match[1]) * (match[2] === undefined ? 1 : (units[match[2]] ?? NaN));
}

const FILE_FLAGS = ["tokens-file", "tls-cert-file", "tls-key-file", "ingest-token-file"] as const;

interface Rendered {
  readonly objects: K8sObject[];
  readonly set: StatefulSet;
  readonly container: Container;
  readonly flags: ReturnType<typeof serveFlags>;
}

function serveFlags(args: readonly string[]) {
  assert.equal(args[0], "serve", "the container runs `telex serve` (the image's entrypoint is telex)");
  // strict: a misspelled or unknown flag throws, as `telex serve` would exit 2.
  return parseArgs({ args: args.slice(1), options: SERVE_OPTIONS, strict: true, allowPositionals: false })
    .values;
}

/**
 * What the flags make of the pod: one of a fleet (a cluster's labelled
 * namespaces, no --project), pulling (--source-url) or taking pushes, and
 * where /healthz and /metrics answer (the ingest listener in push mode unless
 * --metrics-listen moves them; the metrics listener in pull mode).
 */
function replicaModeOf(flags: Rendered["flags"]) {
  const fleet = flags["in-cluster"] && flags.project === undefined;
  const pull = flags["source-url"] !== undefined;
  const health = flags["metrics-listen"] ?? (pull ? DEFAULT_METRICS_LISTEN : flags["ingest-listen"]);
  return { fleet, pull, health: parseListenAddress(health) };
}

/**
 * Where each probe points: kube-apiserver's convention (kubeadm's manifests).
 * Startup and liveness ask whether the process answers (/livez; /healthz is
 * its older name); readiness whether it can do its work now (/readyz's
 * checks), which a Service acts on and a restart would not fix.
 */
const PROBE_PATHS = [
  ["startupProbe", "/livez"],
  ["readinessProbe", "/readyz"],
  ["livenessProbe", "/livez"],
] as const;

/** `$(NAME)` in an arg: Kubernetes puts the container's env var NAME there (`$$` is a literal `$`). */
const ENV_REFERENCE = /\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g;

/**
 * An arg as Kubernetes expands it: a literal env value, or a downward-API
 * field (the pod's IP is 127.0.0.1 here, where the test runs the replica);
 * an undefined NAME stays as written, as Kubernetes leaves it.
 */
function expandEnv(arg: string, env: readonly EnvVar[] | undefined): string {
  return arg.replace(ENV_REFERENCE, (whole: string, name: string | undefined) => {
    if (name === undefined) return "$";
    const variable = env?.find((e) => e.name === name);
    if (variable?.value !== undefined) return variable.value;
    if (variable?.valueFrom?.fieldRef?.fieldPath === "status.podIP") return "127.0.0.1";
    return whole;
  });
}

/**
 * A fleet forwards series between replicas (a pulling one only the tenants'
 * delivery metrics), to the URL each publishes on its Lease: it must be one
 * the others reach, its pod's IP (the default, the host name, is the pod's
 * name, which other pods cannot resolve), on the ingest listener, where the
 * hop authenticates with the shared ingest token.
 */
function assertAdvertisesPodIp(container: Container, flags: Rendered["flags"], dir: string): void {
  const advertised = flags["advertise-url"];
  assert.ok(advertised !== undefined, `${dir}: a fleet sets --advertise-url`);
  const match = /^http:\/\/\$\(([A-Za-z_][A-Za-z0-9_]*)\):(\d+)$/.exec(advertised);
  assert.ok(match, `${dir}: --advertise-url=http://$(POD_IP):PORT, not ${advertised}`);
  const [, variable, port] = match;
  assert.equal(
    container.env?.find((e) => e.name === variable)?.valueFrom?.fieldRef?.fieldPath,
    "status.podIP",
    `${dir}: env ${String(variable)} from the downward API's status.podIP`,
  );
  assert.equal(
    Number(port),
    parseListenAddress(flags["ingest-listen"]).port,
    `${dir}: --advertise-url names the ingest port`,
  );
  assert.ok(flags["ingest-token-file"] !== undefined, `${dir}: the forward hop carries the ingest token`);
}

function inspect(objects: K8sObject[]): Rendered {
  const sets = ofKind<StatefulSet>(objects, "StatefulSet");
  assert.equal(sets.length, 1, "one StatefulSet");
  assert.equal(ofKind(objects, "Deployment").length, 0, "the buffer's claim needs a StatefulSet");
  const [set] = sets;
  assert.ok(set);
  const container = set.spec.template.spec.containers.find((c) => c.name === "telex");
  assert.ok(container, "a container named telex");
  return { objects, set, container, flags: serveFlags(container.args ?? []) };
}

interface ClusterStandIn {
  /** What a pod's kubeconfig names as the cluster's address. */
  readonly url: string;
  /** The replicas' Leases: their names and the ingest URL each advertises (push mode). */
  replicaLeases(): Promise<{ name: string; ingestUrl: string | undefined }[]>;
  close(): Promise<void>;
}

/**
 * One address serving what a cluster serves at one: ExportPolicies, Secrets,
 * Events and Namespaces from a project's control plane of the embedded API;
 * Leases and ConfigMaps from its platform plane, whose one namespace stands in
 * for any (the lease namespace a manifest names).
 */
async function startClusterStandIn(apiUrl: string, project: string): Promise<ClusterStandIn> {
  const api = new URL(apiUrl);
  const platform = /^\/(apis\/coordination\.k8s\.io\/|api\/v1\/(namespaces\/[^/]+\/)?configmaps)/;
  const server: Server = createServer((request, response) => {
    const url = request.url ?? "/";
    const path = platform.test(url)
      ? url.replace(/\/namespaces\/[^/]+\//, `/namespaces/${PLATFORM_NAMESPACE}/`)
      : `/apis/resourcemanager.miloapis.com/v1alpha1/projects/${project}/control-plane${url}`;
    const upstream = httpRequest(
      { host: api.hostname, port: api.port, method: request.method, path, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    replicaLeases: async () => {
      const response = await fetch(
        `${apiUrl}/apis/coordination.k8s.io/v1/namespaces/${PLATFORM_NAMESPACE}/leases`,
      );
      const list = (await response.json()) as {
        items: { metadata: { name: string; annotations?: Record<string, string> } }[];
      };
      return list.items.map(({ metadata }) => ({
        name: metadata.name,
        ingestUrl: metadata.annotations?.[INGEST_URL_ANNOTATION],
      }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function portNumber(container: Container, port: string | number): number {
  if (typeof port === "number") return port;
  const found = container.ports?.find((p) => p.name === port);
  assert.ok(found, `container port named ${port}`);
  return found.containerPort;
}

const FLEET = "deploy/overlays/fleet";
const FLEET_PULL = "deploy/overlays/fleet-pull";
const KUSTOMIZATIONS = [
  "deploy/base",
  "deploy/overlays/all-in-one",
  "deploy/overlays/cluster",
  FLEET,
  FLEET_PULL,
] as const;
/** The fleets and how their replicas get samples: the platform's main shape pushes. */
const FLEETS: ReadonlyMap<string, "push" | "pull"> = new Map([
  [FLEET, "push"],
  [FLEET_PULL, "pull"],
]);

describe("deploy/ kustomizations", { skip: kubectlPeer.skip }, () => {
  const rendered = new Map<string, K8sObject[]>();
  before(() => {
    for (const dir of KUSTOMIZATIONS) rendered.set(dir, render(dir));
  });
  // Inspected in each test, so a flag serve refuses fails every check by name.
  const each = (check: (r: Rendered, dir: string) => void | Promise<void>) => async () => {
    for (const dir of KUSTOMIZATIONS) {
      const objects = rendered.get(dir);
      assert.ok(objects, dir);
      await check(inspect(objects), dir);
    }
  };

  it(
    "renders well-formed objects: apiVersion, kind, a DNS name, unique, namespaced where they must be",
    each(({ objects }, dir) => {
      const seen = new Set<string>();
      for (const o of objects) {
        assert.match(o.apiVersion, /^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/, `${dir}: apiVersion`);
        assert.match(o.kind, /^[A-Z][A-Za-z]+$/, `${dir}: kind`);
        assert.match(o.metadata.name, DNS_SUBDOMAIN, `${dir}: ${o.kind} name`);
        const key = `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
        assert.ok(!seen.has(key), `${dir}: ${key} twice`);
        seen.add(key);
        if (dir !== "deploy/base" && !CLUSTER_SCOPED.has(o.kind)) {
          assert.equal(o.metadata.namespace, "telex", `${dir}: ${o.kind}/${o.metadata.name} namespace`);
        }
        if (CLUSTER_SCOPED.has(o.kind)) assert.equal(o.metadata.namespace, undefined, key);
      }
      if (dir !== "deploy/base") {
        assert.ok(
          ofKind(objects, "Namespace").some((n) => n.metadata.name === "telex"),
          `${dir}: its namespace`,
        );
      }
    }),
  );

  it(
    "runs one replica (several only as a fleet, which advertises its pod IP), probes /livez and /readyz on the listener the flags open",
    each(({ set, container, flags }, dir) => {
      const { fleet, pull, health } = replicaModeOf(flags);
      const mode = FLEETS.get(dir);
      assert.equal(fleet, mode !== undefined, `${dir}: --in-cluster without --project only in a fleet`);
      if (fleet) {
        assert.equal(pull ? "pull" : "push", mode, `${dir}: a ${String(mode)} fleet`);
        assert.ok(set.spec.replicas > 1, `${dir}: several replicas share the policies`);
        assert.equal(set.spec.podManagementPolicy, "Parallel", `${dir}: peers start without waiting`);
        // Any replica forwards to the others what they own (pushes; in pull mode delivery
        // metrics): each must be reachable where it says.
        assertAdvertisesPodIp(container, flags, dir);
      } else {
        assert.equal(set.spec.replicas, 1, `${dir}: one replica (one SQLite store, one buffer)`);
      }
      // Kubernetes leaves $(NAME) as written when the container has no env var NAME.
      for (const arg of container.args ?? []) {
        for (const [, name] of arg.matchAll(ENV_REFERENCE)) {
          if (name === undefined) continue;
          assert.ok(
            container.env?.some((e) => e.name === name),
            `${dir}: ${arg}: env ${name} is defined`,
          );
        }
      }
      if (!fleet) assert.equal(flags["advertise-url"], undefined, `${dir}: --advertise-url only in a fleet`);
      assert.ok(selects(set.spec.selector.matchLabels, set.spec.template.metadata.labels), dir);
      assert.ok(!isLoopback(health.host), `${dir}: the probes reach the health listener from the kubelet`);
      for (const [kind, path] of PROBE_PATHS) {
        const probe = container[kind];
        assert.ok(probe?.httpGet, `${dir}: an httpGet ${kind}`);
        assert.equal(probe.httpGet.path, path, `${dir}: ${kind} path`);
        assert.equal(portNumber(container, probe.httpGet.port), health.port, `${dir}: ${kind} port`);
      }
      if (pull && !fleet) {
        // No ingest listener in pull mode outside a fleet: ingest flags would be ignored, an ingest
        // port would lead nowhere. A pulling fleet's replicas take each other's delivery metrics there.
        const ingestFlags = (container.args ?? []).filter((arg) => arg.startsWith("--ingest-"));
        assert.deepEqual(ingestFlags, [], `${dir}: no ingest flags in pull mode`);
        assert.equal(
          container.ports?.find((p) => p.name === "ingest"),
          undefined,
          `${dir}: no ingest port`,
        );
      } else {
        const ingest = parseListenAddress(flags["ingest-listen"]);
        assert.ok(!isLoopback(ingest.host), `${dir}: ingest reachable from outside the pod`);
        assert.equal(portNumber(container, "ingest"), ingest.port, `${dir}: containerPort ingest`);
        // Not a flag serve knows, but what its check would refuse: an open non-loopback ingest.
        assert.ok(flags["ingest-token-file"] !== undefined, `${dir}: the ingest needs a token`);
      }
      const apiListen = flags["api-listen"];
      const apiPort = container.ports?.find((p) => p.name === "api");
      if (apiListen === undefined || isLoopback(parseListenAddress(apiListen).host)) {
        assert.equal(apiPort, undefined, `${dir}: no api port for a loopback (or absent) API`);
      } else {
        assert.equal(apiPort?.containerPort, parseListenAddress(apiListen).port, `${dir}: api port`);
        assert.ok(flags["tokens-file"] !== undefined && flags["tls-cert-file"] !== undefined, dir);
      }
    }),
  );

  it(
    "has Services, a PDB and a ServiceMonitor that select the pod and name its ports",
    each(({ objects, set, container, flags }, dir) => {
      const { pull, health } = replicaModeOf(flags);
      const podLabels = set.spec.template.metadata.labels;
      const services = ofKind<Service>(objects, "Service");
      for (const service of services) {
        assert.ok(selects(service.spec.selector, podLabels), `${dir}: Service ${service.metadata.name}`);
        for (const port of service.spec.ports) portNumber(container, port.targetPort);
      }
      const governing = services.find((s) => s.metadata.name === set.spec.serviceName);
      assert.equal(governing?.spec.clusterIP, "None", `${dir}: the StatefulSet's headless Service`);
      const ingestService = services.find(
        (s) => s.spec.clusterIP !== "None" && s.spec.ports.some((p) => p.targetPort === "ingest"),
      );
      if (pull) assert.equal(ingestService, undefined, `${dir}: no ingest Service in pull mode`);
      else assert.ok(ingestService, `${dir}: a Service for ingest`);
      const apiPort = container.ports?.find((p) => p.name === "api");
      if (apiPort !== undefined) {
        assert.ok(
          services.some((s) => s.spec.ports.some((p) => p.targetPort === "api")),
          `${dir}: a Service for the API`,
        );
      }
      const pdbs = ofKind<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>(
        objects,
        "PodDisruptionBudget",
      );
      const [pdb] = pdbs;
      assert.ok(pdbs.length === 1 && pdb, `${dir}: a PodDisruptionBudget`);
      assert.ok(selects(pdb.spec.selector.matchLabels, podLabels), `${dir}: the PDB selects the pod`);
      // One pod at a time: a drain never stops more than one replica's share (and never blocks on one replica).
      assert.equal(
        (pdb.spec as { maxUnavailable?: number }).maxUnavailable,
        1,
        `${dir}: the PDB allows one disruption`,
      );
      for (const monitor of ofKind<
        K8sObject & {
          spec: {
            selector: { matchLabels: Record<string, string> };
            endpoints: { port: string; path: string }[];
          };
        }
      >(objects, "ServiceMonitor")) {
        const targets = services.filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels));
        const [scraped] = targets;
        assert.ok(targets.length === 1 && scraped, `${dir}: the ServiceMonitor scrapes one Service`);
        if (ingestService !== undefined) assert.equal(scraped, ingestService, `${dir}: the ingest Service`);
        for (const endpoint of monitor.spec.endpoints) {
          assert.equal(endpoint.path, "/metrics");
          const servicePort: Service["spec"]["ports"][number] | undefined = scraped.spec.ports.find(
            (p) => p.name === endpoint.port,
          );
          assert.ok(servicePort, `${dir}: Service port ${endpoint.port}`);
          assert.equal(
            portNumber(container, servicePort.targetPort),
            health.port,
            `${dir}: /metrics is where /healthz is`,
          );
        }
      }
      if (dir !== "deploy/base") assert.equal(ofKind(objects, "ServiceMonitor").length, 1, dir);
    }),
  );

  it(
    "mounts every file a flag names from a Secret, keeps --data-dir on a claim big enough for the buffer",
    each(({ set, container, flags }, dir) => {
      const mounts = container.volumeMounts ?? [];
      const volumes = set.spec.template.spec.volumes ?? [];
      const mountOf = (path: string) =>
        mounts.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
      for (const flag of FILE_FLAGS) {
        const path = flags[flag];
        if (path === undefined) continue;
        const mount = mountOf(path);
        assert.ok(mount, `${dir}: --${flag} ${path} is mounted`);
        assert.equal(mount.readOnly, true, `${dir}: --${flag} read-only`);
        assert.ok(volumes.find((v) => v.name === mount.name)?.secret, `${dir}: --${flag} from a Secret`);
      }
      // A Secret volume no flag reads would only keep the pod from starting until someone creates it.
      for (const volume of volumes.filter((v) => v.secret !== undefined)) {
        const mount = mounts.find((m) => m.name === volume.name);
        assert.ok(mount, `${dir}: Secret volume ${volume.name} is mounted`);
        assert.ok(
          FILE_FLAGS.some((flag) => mountOf(flags[flag] ?? "") === mount),
          `${dir}: a flag reads a file of Secret volume ${volume.name}`,
        );
      }
      const dataMount = mounts.find((m) => m.mountPath === posix.normalize(flags["data-dir"]));
      assert.ok(dataMount, `${dir}: --data-dir is a mount of its own`);
      const claim = set.spec.volumeClaimTemplates?.find((c) => c.metadata.name === dataMount.name);
      assert.ok(claim, `${dir}: --data-dir on a volumeClaimTemplate (the buffer survives restarts)`);
      const bufferCap = flags["buffer-max-bytes"] === undefined ? DEFAULT_TOTAL_MAX_BYTES : Number.NaN; // not set in deploy/
      const floor = flags["buffer-min-free-disk"] === undefined ? DEFAULT_MIN_FREE_DISK : undefined;
      assert.ok(floor !== undefined && "fraction" in floor, `${dir}: the default free-space floor`);
      assert.ok(
        quantityBytes(claim.spec.resources.requests.storage) * (1 - floor.fraction) > bufferCap,
        `${dir}: the claim holds the whole buffer and the free space it leaves`,
      );
    }),
  );

  it(
    "sizes the V8 heap to the container's memory limit, as serve's warning asks",
    each(({ container }, dir) => {
      const limit = container.resources?.limits?.memory;
      assert.ok(limit !== undefined, `${dir}: a memory limit`);
      const limitBytes = quantityBytes(limit);
      const options = container.env?.find((e) => e.name === "NODE_OPTIONS")?.value ?? "";
      const heap = /--max-old-space-size=(\d+)/.exec(options);
      assert.ok(heap, `${dir}: NODE_OPTIONS sets --max-old-space-size`);
      assert.equal(Number(heap[1]), recommendedHeapMiB(limitBytes), `${dir}: half the limit`);
      assert.equal(heapLimitWarning(Number(heap[1]) * 2 ** 20, limitBytes), undefined, `${dir}: no warning`);
    }),
  );

  it(
    "runs as non-root on a read-only root filesystem without privileges",
    each(({ set, container }, dir) => {
      assert.equal(set.spec.template.spec.securityContext?.runAsNonRoot, true, dir);
      assert.ok((set.spec.template.spec.securityContext.runAsUser ?? 0) > 0, dir);
      const sc = container.securityContext;
      assert.equal(sc?.readOnlyRootFilesystem, true, dir);
      assert.equal(sc.allowPrivilegeEscalation, false, dir);
      assert.notEqual(sc.privileged, true, dir);
      assert.deepEqual(sc.capabilities?.drop, ["ALL"], dir);
      assert.equal(sc.capabilities.add, undefined, dir);
      assert.match(container.image, /^[^:]+\/telex:[\w.-]+$/, `${dir}: a tagged image`);
    }),
  );

  it(
    "grants the ServiceAccount exactly what the replica calls: the controller's cluster-wide, a fleet's in its lease namespace",
    each(({ objects, set, flags }, dir) => {
      const pod = set.spec.template.spec;
      const bindings = [
        ...ofKind<Binding>(objects, "ClusterRoleBinding"),
        ...ofKind<Binding>(objects, "RoleBinding"),
      ];
      const roles = [...ofKind<Role>(objects, "ClusterRole"), ...ofKind<Role>(objects, "Role")];
      if (!flags["in-cluster"]) {
        assert.notEqual(pod.automountServiceAccountToken, true, `${dir}: no API token in the pod`);
        assert.equal(bindings.length + roles.length, 0, `${dir}: no RBAC without a cluster to call`);
        return;
      }
      assert.notEqual(pod.automountServiceAccountToken, false, `${dir}: --in-cluster reads the token`);
      const account = ofKind(objects, "ServiceAccount").find(
        (a) => a.metadata.name === pod.serviceAccountName,
      );
      assert.ok(account, `${dir}: the pod's ServiceAccount ${String(pod.serviceAccountName)}`);
      const bound = bindings.filter((b) =>
        b.subjects.some(
          (s) =>
            s.kind === "ServiceAccount" &&
            s.name === account.metadata.name &&
            s.namespace === account.metadata.namespace,
        ),
      );
      assert.ok(bound.length > 0, `${dir}: a binding for the ServiceAccount`);
      // Grants by where they apply: "" cluster-wide (a ClusterRoleBinding), else a RoleBinding's namespace.
      const granted = new Map<string, Map<string, ApiAccess>>();
      for (const binding of bound) {
        const where = binding.kind === "ClusterRoleBinding" ? "" : (binding.metadata.namespace ?? "");
        const role = roles.find(
          (r) =>
            r.kind === binding.roleRef.kind &&
            r.metadata.name === binding.roleRef.name &&
            (r.kind === "ClusterRole" || r.metadata.namespace === binding.metadata.namespace),
        );
        assert.ok(role, `${dir}: ${binding.roleRef.kind} ${binding.roleRef.name}`);
        const grants = granted.get(where) ?? new Map<string, ApiAccess>();
        granted.set(where, grants);
        for (const rule of role.rules) {
          assert.equal(rule.resourceNames, undefined, "no resourceNames");
          assert.equal(rule.nonResourceURLs, undefined, "no nonResourceURLs");
          for (const field of [rule.apiGroups ?? [], rule.resources ?? [], rule.verbs]) {
            assert.ok(!field.some((v) => v.includes("*")), `${dir}: no wildcard in ${JSON.stringify(rule)}`);
          }
          for (const group of rule.apiGroups ?? []) {
            for (const resource of rule.resources ?? []) {
              for (const verb of rule.verbs) {
                const access = { group, resource, verb };
                grants.set(accessKey(access), access);
              }
            }
          }
        }
      }
      const { fleet, pull } = replicaModeOf(flags);
      // The informers list and watch across namespaces: only a ClusterRoleBinding will do.
      const clusterWide = fleet
        ? [...CONTROLLER_API_ACCESS, ...NAMESPACE_PROJECTS_ACCESS]
        : CONTROLLER_API_ACCESS;
      const expected = new Map([["", clusterWide]]);
      if (fleet) {
        // --in-cluster's default lease namespace is the pod's own.
        const leaseNamespace = flags["lease-namespace"] ?? set.metadata.namespace ?? "";
        assert.ok(
          ofKind(objects, "Namespace").some((n) => n.metadata.name === leaseNamespace),
          `${dir}: the lease namespace ${leaseNamespace} is created with the rest`,
        );
        expected.set(
          leaseNamespace,
          pull ? [...FLEET_LEASE_ACCESS, ...PULL_POSITIONS_ACCESS] : FLEET_LEASE_ACCESS,
        );
      }
      const keys = (grants: Iterable<ApiAccess>) => [...grants].map(accessKey).sort();
      assert.deepEqual(
        [...granted.keys()].sort(),
        [...expected.keys()].sort(),
        `${dir}: grants cluster-wide${fleet ? " and in the lease namespace" : ""} only`,
      );
      for (const [where, access] of expected) {
        assert.deepEqual(
          keys(granted.get(where)?.values() ?? []),
          keys(access),
          `${dir}: RBAC ${where === "" ? "cluster-wide" : `in namespace ${where}`} = src/controller/access.ts`,
        );
      }
      const crds = ofKind(objects, "CustomResourceDefinition");
      assert.equal(crds.length, 1, `${dir}: the CRD`);
      assert.deepEqual(
        crds[0],
        parse(readFileSync(join(REPO, CRD_PATH), "utf8")),
        `${dir}: the generated CRD`,
      );
    }),
  );

  describe("telex serve starts with each manifest's args", () => {
    let scratch: string;
    let api: TestApiServer;
    let cluster: ClusterStandIn;
    before(async () => {
      scratch = mkdtempSync(join(tmpdir(), "telex-deploy-"));
      api = await startTestApiServer();
      cluster = await startClusterStandIn(api.api.url, "deploy-test");
    });
    after(async () => {
      await cluster.close();
      await api.close();
      rmSync(scratch, { recursive: true, force: true });
    });

    it(
      "and listens (paths under a temp dir, listeners on 127.0.0.1:0, --in-cluster as a kubeconfig)",
      each(async ({ container, flags }, dir) => {
        const root = join(scratch, dir.replaceAll("/", "_"));
        const token = "a-long-random-ingest-token-for-tests";
        const cert = selfSignedCert();
        const write = (path: string, text: string) => {
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, text);
        };
        const args = (container.args ?? []).flatMap((written): string[] => {
          // $(POD_IP) and the like, as the kubelet expands them.
          const arg = expandEnv(written, container.env);
          const [flag = "", value] = arg.split(/=(.*)/s, 2);
          if (flag === "--in-cluster") {
            const kubeconfig = join(root, "kubeconfig");
            write(
              kubeconfig,
              `apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: k, cluster: {server: "${cluster.url}"}}]\ncontexts: [{name: c, context: {cluster: k}}]\n`,
            );
            return ["--kubeconfig", kubeconfig];
          }
          if (value === undefined) return [arg];
          if (flag.endsWith("-listen")) return [`${flag}=127.0.0.1:0`];
          // Never read: no policy, no pull job. A loopback address spares a DNS lookup of the cluster's name.
          if (flag === "--source-url") return [`${flag}=http://127.0.0.1:8428`];
          if (!value.startsWith("/")) return [arg];
          const path = join(root, value);
          if (flag === "--ingest-token-file") write(path, `${token}\n`);
          if (flag === "--tls-cert-file") write(path, cert.certPem);
          if (flag === "--tls-key-file") write(path, cert.keyPem);
          if (flag === "--tokens-file") {
            write(path, `tokens:\n  - {token: "${token}", user: admin, projects: ["*"], role: admin}\n`);
          }
          return [`${flag}=${path}`];
        });
        let out = "";
        let err = "";
        let stop: (signal: string) => void = () => undefined;
        const stopped = new Promise<string>((resolve) => (stop = resolve));
        let ready: () => void = () => undefined;
        const listening = new Promise<void>((resolve) => (ready = resolve));
        const io = {
          stdout: {
            write: (text: string) => {
              out += text;
              // The last line of the start-up report, in push and pull mode alike.
              if (/^metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/m.test(out)) ready();
            },
          },
          stderr: { write: (text: string) => (err += text) },
          stdin: Readable.from([]),
        };
        const running = run(args.slice(1), io, stopped);
        await Promise.race([listening, running]);
        const { fleet, pull } = replicaModeOf(flags);
        const leases = fleet ? await cluster.replicaLeases() : [];
        // The probes' paths, on the listener that serves /metrics (the health listener): 200 once started.
        const probed: string[] = [];
        const healthUrl = /^metrics: (http:\/\/127\.0\.0\.1:\d+)\/metrics$/m.exec(out)?.[1];
        if (healthUrl !== undefined) {
          for (const [kind, path] of PROBE_PATHS) {
            // ?verbose: every check's verdict in the message if one fails.
            const url = new URL(container[kind]?.httpGet?.path ?? path, healthUrl);
            url.searchParams.set("verbose", "");
            const answer = await fetch(url);
            probed.push(`${kind} ${answer.status} ${(await answer.text()).trim().replaceAll("\n", "; ")}`);
          }
        }
        stop("SIGTERM");
        const code = await running;
        assert.equal(code, 0, `${dir}: telex ${args.join(" ")}\n${out}\n${err}`);
        if (pull) assert.match(out, /^pull: reading sources from http:\/\/127\.0\.0\.1:8428$/m, dir);
        else assert.match(out, /ingest: listening on http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write/, dir);
        assert.deepEqual(
          probed.map((line) => line.split(" ", 2).join(" ")),
          PROBE_PATHS.map(([kind]) => `${kind} 200`),
          `${dir}: the probes pass on the started replica\n${probed.join("\n")}`,
        );
        if (fleet) {
          // The advertised URL with $(POD_IP) expanded, as the kubelet would; none in pull mode.
          const written = flags["advertise-url"];
          assert.deepEqual(
            leases,
            [
              {
                name: defaultReplicaName(),
                ingestUrl: written === undefined ? undefined : expandEnv(written, container.env),
              },
            ],
            `${dir}: the replica held its Lease, named after the pod, with where it takes forwards`,
          );
          assert.deepEqual(await cluster.replicaLeases(), [], `${dir}: and released it on SIGTERM`);
        }
      }),
    );
  });
});
