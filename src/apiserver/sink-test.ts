// The `sinktest` subresource of ExportPolicies (`telex test-sink`):
//
//   POST …/namespaces/{ns}/exportpolicies/{name}/sinktest
//   {"apiVersion": "telemetry.miloapis.com/v1alpha1", "kind": "ExportPolicySinkTest",
//    "spec": {"sink": "prometheus", "policy": {…an ExportPolicy…}}}
//
// answers 201 with the same object and a `status`: whether the endpoint
// accepted one harmless request (an empty WriteRequest), and the outcome and
// timing of each phase — Auth, DNS, TCP, TLS, HTTP — with a fix for the
// common failures. Without `spec.policy` the stored policy is tested; with
// it, that policy, which need not exist yet (as a dry run: nothing is stored).
//
// Why on the server, as a subresource, and not from the person's machine:
// - the Secret stays here: its credentials are read and used server-side and
//   never sent to the client (the answer does not contain them);
// - the server's egress policy applies: an address a tenant's sink may not
//   reach is reported as Forbidden and never connected to, so the test is no
//   way to probe the platform's network either;
// - it tests the path a sink takes: the server's DNS, network and trusted CAs.
// Like any write that makes the server send a Secret's credentials to an
// endpoint of the caller's choosing, it needs what creating an ExportPolicy
// needs (verb `create` on `exportpolicies/sinktest`; project viewers have it
// not). A handful run at once per project, the test bounds its own time
// (25 s), and it is only served where sinks run (the exporter passes a
// SinkTester, as it does the `delivery` provider).
import {
  API_VERSION,
  KIND,
  basicAuthCredentials,
  createBasicAuthSecretCommand,
  fieldError,
  validateExportPolicy,
  type BasicAuthCredentials,
  type ExportPolicySink,
  type FieldError,
} from "../api/index.js";
import type { JsonObject } from "../store/index.js";
import type { RequestContext, ServerContext } from "./context.js";
import { bodyFormat, decodeBody, readBody, sendJson } from "./http-io.js";
import { isObject, objectAt, stringAt } from "./json.js";
import { exportPolicies, secrets } from "./resources.js";
import { ApiError, errors } from "./status.js";
import type { WriteTarget } from "./target.js";

export const SINK_TEST_SUBRESOURCE = "sinktest";
export const SINK_TEST_KIND = "ExportPolicySinkTest";

/** What the exporter is asked to test: an endpoint with resolved credentials. */
export interface SinkTestRequest {
  readonly endpoint: string;
  readonly credentials?: BasicAuthCredentials;
  /** `namespace/name` of the Secret the credentials come from. */
  readonly secret?: string;
}

export interface SinkTestPhaseStatus {
  /** Auth, DNS, TCP, TLS, HTTP. */
  readonly name: string;
  /** Succeeded, Failed, Forbidden (by the egress policy: nothing connected), Skipped. */
  readonly result: string;
  readonly durationMs?: number;
  readonly message: string;
  readonly reason?: string;
  readonly fix?: string;
}

export interface SinkTestOutcome {
  readonly accepted: boolean;
  readonly phases: readonly SinkTestPhaseStatus[];
}

/** Sends the request the way the sinks would (src/exporter/sinktest). */
export type SinkTester = (request: SinkTestRequest) => Promise<SinkTestOutcome>;

/** Sink tests running at once, per project and in all (each holds a connection for up to 25 s). */
const MAX_PER_PROJECT = 4;
const MAX_IN_ALL = 64;
const running = new WeakMap<ServerContext, Map<string, number>>();

export function sinkTestNotServed(): ApiError {
  return new ApiError(
    "NotFound",
    `${exportPolicies.plural}/${SINK_TEST_SUBRESOURCE} is not served by this API server: no sinks run in its process (test sinks against \`telex serve\` run all in one)`,
  );
}

function invalid(name: string, problems: readonly FieldError[]): ApiError {
  return errors.invalid(
    SINK_TEST_KIND,
    { resource: exportPolicies.plural, group: exportPolicies.group, name },
    problems,
  );
}

/** The policy a subresource request is about: the one in the body (named as in the URL), or the stored one. */
export function policyOf(
  ctx: RequestContext,
  target: WriteTarget,
  name: string,
  spec: JsonObject,
): JsonObject {
  const given = spec["policy"];
  if (given === undefined) return ctx.server.registry.get(target, name).object;
  if (!isObject(given))
    throw invalid(name, [
      fieldError.invalid(["spec", "policy"], typeof given, "must be an ExportPolicy object"),
    ]);
  const metadata = objectAt(given, "metadata");
  const givenName = stringAt(metadata, "name");
  if (givenName !== undefined && givenName !== name) {
    throw errors.badRequest(
      `the name of the policy (${givenName}) does not match the name on the URL (${name})`,
    );
  }
  const namespace = stringAt(metadata, "namespace");
  if (namespace !== undefined && namespace !== target.namespace) {
    throw errors.badRequest(
      `the namespace of the policy (${namespace}) does not match the namespace on the URL (${target.namespace ?? ""})`,
    );
  }
  return { ...given, metadata: { ...metadata, name, namespace: target.namespace ?? "" } };
}

function chooseSink(
  name: string,
  sinks: readonly ExportPolicySink[],
  wanted: string | undefined,
): ExportPolicySink {
  const names = sinks.map((sink) => sink.name).join(", ");
  if (wanted === undefined) {
    const [only, ...others] = sinks;
    if (only !== undefined && others.length === 0) return only;
    throw invalid(name, [fieldError.required(["spec", "sink"], `the policy has sinks ${names}: name one`)]);
  }
  const found = sinks.find((sink) => sink.name === wanted);
  if (found === undefined) {
    throw invalid(name, [fieldError.notFound(["spec", "sink"], wanted, `the policy's sinks are ${names}`)]);
  }
  return found;
}

const NOT_SENT = "not reached: nothing is sent without the Secret's credentials";

/** The Auth phase, and the credentials when the Secret gives them. */
function credentialsOf(
  ctx: RequestContext,
  target: WriteTarget,
  secretName: string | undefined,
): { phase: SinkTestPhaseStatus; credentials?: BasicAuthCredentials; secret?: string } {
  if (secretName === undefined) {
    return {
      phase: {
        name: "Auth",
        result: "Skipped",
        message: "no credentials: the sink has no authentication.basicAuth.secretRef",
      },
    };
  }
  const namespace = target.namespace ?? "";
  const secret = `${namespace}/${secretName}`;
  const found = ctx.server.registry.find({ ...target, resource: secrets }, secretName);
  if (found === undefined) {
    return {
      phase: {
        name: "Auth",
        result: "Failed",
        message: `Secret ${secret} not found`,
        reason: "SecretNotFound",
        fix: `create it: ${createBasicAuthSecretCommand(secretName, namespace)}`,
      },
      secret,
    };
  }
  const resolved = basicAuthCredentials(found.object);
  if ("reason" in resolved) {
    return {
      phase: {
        name: "Auth",
        result: "Failed",
        message: `Secret ${secret}: ${resolved.message}`,
        reason: resolved.reason,
        fix: `a sink needs a kubernetes.io/basic-auth Secret with keys username and password: ${createBasicAuthSecretCommand(secretName, namespace)} (after deleting this one)`,
      },
      secret,
    };
  }
  return {
    phase: {
      name: "Auth",
      result: "Succeeded",
      message: `basic auth with the credentials of Secret ${secret}`,
    },
    credentials: resolved,
    secret,
  };
}

function take(server: ServerContext, project: string): () => void {
  let counts = running.get(server);
  if (counts === undefined) {
    counts = new Map();
    running.set(server, counts);
  }
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const mine = counts.get(project) ?? 0;
  if (mine >= MAX_PER_PROJECT || total >= MAX_IN_ALL) {
    throw new ApiError(
      "TooManyRequests",
      `too many sink tests are running${mine >= MAX_PER_PROJECT ? " in this project" : ""}; try again in a few seconds`,
      { retryAfterSeconds: 5 },
    );
  }
  counts.set(project, mine + 1);
  const held = counts;
  return () => {
    const left = (held.get(project) ?? 1) - 1;
    if (left <= 0) held.delete(project);
    else held.set(project, left);
  };
}

/** POST `…/exportpolicies/{name}/sinktest`: tests one sink of the given or stored policy. */
export async function handleSinkTest(
  ctx: RequestContext,
  tester: SinkTester,
  target: WriteTarget,
  name: string,
): Promise<void> {
  const body = decodeBody(
    await readBody(ctx.request, ctx.response, ctx.server.bodyBudget),
    bodyFormat(ctx.request.headers["content-type"]),
  );
  if (!isObject(body)) throw errors.badRequest(`expected an ${SINK_TEST_KIND} object`);
  const kind = stringAt(body, "kind");
  if (kind !== undefined && kind !== SINK_TEST_KIND) {
    throw errors.badRequest(`expected kind ${SINK_TEST_KIND}, not ${kind}`);
  }
  const spec = objectAt(body, "spec");
  const validation = validateExportPolicy(policyOf(ctx, target, name, spec));
  if (!validation.valid) {
    throw errors.invalid(
      KIND,
      { resource: exportPolicies.plural, group: exportPolicies.group, name },
      validation.errors,
    );
  }
  const sink = chooseSink(name, validation.object.spec.sinks, stringAt(spec, "sink"));
  const remoteWrite = sink.target.prometheusRemoteWrite;
  if (remoteWrite === undefined) {
    throw invalid(name, [
      fieldError.invalid(["spec", "sink"], sink.name, "the sink has no prometheusRemoteWrite target"),
    ]);
  }
  const auth = credentialsOf(ctx, target, remoteWrite.authentication?.basicAuth?.secretRef.name);
  let outcome: SinkTestOutcome;
  if (auth.phase.result === "Failed") {
    outcome = {
      accepted: false,
      phases: ["DNS", "TCP", "TLS", "HTTP"].map((phase) => ({
        name: phase,
        result: "Skipped",
        message: NOT_SENT,
      })),
    };
  } else {
    const release = take(ctx.server, target.project);
    try {
      outcome = await tester({
        endpoint: remoteWrite.endpoint,
        ...(auth.credentials === undefined ? {} : { credentials: auth.credentials }),
        ...(auth.secret === undefined ? {} : { secret: auth.secret }),
      });
    } finally {
      release();
    }
  }
  const [secretNamespace = "", secretName = ""] = (auth.secret ?? "").split("/");
  sendJson(
    ctx.response,
    201,
    {
      kind: SINK_TEST_KIND,
      apiVersion: API_VERSION,
      metadata: { name, namespace: target.namespace ?? "", creationTimestamp: null },
      spec: { sink: sink.name },
      status: {
        accepted: outcome.accepted,
        endpoint: remoteWrite.endpoint,
        ...(auth.secret === undefined ? {} : { secretRef: { namespace: secretNamespace, name: secretName } }),
        phases: [auth.phase, ...outcome.phases].map((phase) => ({ ...phase })),
      },
    },
    [],
    ctx.format === "yaml" ? "yaml" : "json",
  );
}
