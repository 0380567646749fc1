// deploy/: each kustomization rendered by `kubectl kustomize` and checked the
// way a cluster and `telex serve` would take it: well-formed objects; the
// container's args parsed with serve's own flag definitions, then the real
// server started with them (paths moved under a temp dir); probes, ports and
// Services agree with the listen flags; every file flag is mounted; the data
// directory is on a claim; RBAC grants exactly CONTROLLER_API_ACCESS, which
// src/controller/access.test.ts proves is what the controller calls.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
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
import { CONTROLLER_API_ACCESS, accessKey, type ApiAccess } from "./controller/access.js";
import { DEFAULT_TOTAL_MAX_BYTES } from "./exporter/buffer/defaults.js";
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
interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: string[];
  readonly ports?: Port[];
  readonly startupProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
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

function portNumber(container: Container, port: string | number): number {
  if (typeof port === "number") return port;
  const found = container.ports?.find((p) => p.name === port);
  assert.ok(found, `container port named ${port}`);
  return found.containerPort;
}

const KUSTOMIZATIONS = ["deploy/base", "deploy/overlays/all-in-one", "deploy/overlays/cluster"] as const;

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
    "runs one replica whose probes hit /healthz on the ingest listener the flags open",
    each(({ set, container, flags }, dir) => {
      assert.equal(set.spec.replicas, 1, `${dir}: one replica (one SQLite store, one buffer)`);
      assert.ok(selects(set.spec.selector.matchLabels, set.spec.template.metadata.labels), dir);
      const ingest = parseListenAddress(flags["ingest-listen"]);
      assert.ok(!isLoopback(ingest.host), `${dir}: ingest reachable from outside the pod`);
      assert.equal(portNumber(container, "ingest"), ingest.port, `${dir}: containerPort ingest`);
      for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
        assert.ok(probe?.httpGet, `${dir}: an httpGet probe`);
        assert.equal(probe.httpGet.path, "/healthz");
        assert.equal(portNumber(container, probe.httpGet.port), ingest.port, `${dir}: probe port`);
      }
      const apiListen = flags["api-listen"];
      const apiPort = container.ports?.find((p) => p.name === "api");
      if (apiListen === undefined || isLoopback(parseListenAddress(apiListen).host)) {
        assert.equal(apiPort, undefined, `${dir}: no api port for a loopback (or absent) API`);
      } else {
        assert.equal(apiPort?.containerPort, parseListenAddress(apiListen).port, `${dir}: api port`);
        assert.ok(flags["tokens-file"] !== undefined && flags["tls-cert-file"] !== undefined, dir);
      }
      // Not a flag serve knows, but what its check would refuse: an open non-loopback ingest.
      assert.ok(flags["ingest-token-file"] !== undefined, `${dir}: the ingest needs a token`);
    }),
  );

  it(
    "has Services, a PDB and a ServiceMonitor that select the pod and name its ports",
    each(({ objects, set, container }, dir) => {
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
      assert.ok(ingestService, `${dir}: a Service for ingest`);
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
      for (const monitor of ofKind<
        K8sObject & {
          spec: {
            selector: { matchLabels: Record<string, string> };
            endpoints: { port: string; path: string }[];
          };
        }
      >(objects, "ServiceMonitor")) {
        const targets = services.filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels));
        assert.deepEqual(
          targets.map((s) => s.metadata.name),
          [ingestService.metadata.name],
          `${dir}: the ServiceMonitor scrapes the ingest Service only`,
        );
        for (const endpoint of monitor.spec.endpoints) {
          assert.equal(endpoint.path, "/metrics");
          assert.ok(
            ingestService.spec.ports.some((p) => p.name === endpoint.port),
            endpoint.port,
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
      const dataMount = mounts.find((m) => m.mountPath === posix.normalize(flags["data-dir"]));
      assert.ok(dataMount, `${dir}: --data-dir is a mount of its own`);
      const claim = set.spec.volumeClaimTemplates?.find((c) => c.metadata.name === dataMount.name);
      assert.ok(claim, `${dir}: --data-dir on a volumeClaimTemplate (the buffer survives restarts)`);
      const bufferCap = flags["buffer-max-bytes"] === undefined ? DEFAULT_TOTAL_MAX_BYTES : Number.NaN; // not set in deploy/
      assert.ok(quantityBytes(claim.spec.resources.requests.storage) > bufferCap, `${dir}: claim size`);
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
    "grants the controller's ServiceAccount exactly CONTROLLER_API_ACCESS, cluster-wide, and nothing without --in-cluster",
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
      const granted = new Map<string, ApiAccess>();
      for (const binding of bound) {
        // The informers list and watch across namespaces: a RoleBinding would not do.
        assert.equal(binding.kind, "ClusterRoleBinding", binding.metadata.name);
        const role = roles.find(
          (r) => r.kind === binding.roleRef.kind && r.metadata.name === binding.roleRef.name,
        );
        assert.ok(role, `${dir}: ${binding.roleRef.kind} ${binding.roleRef.name}`);
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
                granted.set(accessKey(access), access);
              }
            }
          }
        }
      }
      assert.deepEqual(
        [...granted.keys()].sort(),
        CONTROLLER_API_ACCESS.map(accessKey).sort(),
        `${dir}: RBAC = CONTROLLER_API_ACCESS (src/controller/access.ts)`,
      );
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
    before(async () => {
      scratch = mkdtempSync(join(tmpdir(), "telex-deploy-"));
      api = await startTestApiServer();
    });
    after(async () => {
      await api.close();
      rmSync(scratch, { recursive: true, force: true });
    });

    it(
      "and listens (paths under a temp dir, listeners on 127.0.0.1:0, --in-cluster as a kubeconfig)",
      each(async ({ container }, dir) => {
        const root = join(scratch, dir.replaceAll("/", "_"));
        const token = "a-long-random-ingest-token-for-tests";
        const cert = selfSignedCert();
        const write = (path: string, text: string) => {
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, text);
        };
        const args = (container.args ?? []).flatMap((arg): string[] => {
          const [flag = "", value] = arg.split(/=(.*)/s, 2);
          if (flag === "--in-cluster") {
            const kubeconfig = join(root, "kubeconfig");
            const server = `${api.api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/deploy-test/control-plane`;
            write(
              kubeconfig,
              `apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: k, cluster: {server: "${server}"}}]\ncontexts: [{name: c, context: {cluster: k}}]\n`,
            );
            return ["--kubeconfig", kubeconfig];
          }
          if (value === undefined) return [arg];
          if (flag.endsWith("-listen")) return [`${flag}=127.0.0.1:0`];
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
        const io = {
          stdout: {
            write: (text: string) => {
              out += text;
              if (out.includes("ingest: listening on")) stop("SIGTERM");
            },
          },
          stderr: { write: (text: string) => (err += text) },
          stdin: Readable.from([]),
        };
        const code = await run(args.slice(1), io, stopped);
        assert.equal(code, 0, `${dir}: telex ${args.join(" ")}\n${out}\n${err}`);
        assert.match(out, /ingest: listening on http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write/, dir);
      }),
    );
  });
});
