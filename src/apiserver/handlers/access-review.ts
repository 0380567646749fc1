// POST .../apis/authorization.k8s.io/v1/selfsubjectaccessreviews: what
// `kubectl auth can-i` asks. Answers for the caller, within the project of the URL.
import { authorize, canAccessProject, rulesFor } from "../auth/authorizer.js";
import type { RequestContext } from "../context.js";
import { bodyFormat, decodeBody, readBody, sendJson } from "../http-io.js";
import { isObject, objectAt, stringAt } from "../json.js";
import { errors } from "../status.js";

export async function handleAccessReview(ctx: RequestContext, project: string | undefined): Promise<void> {
  const body = decodeBody(
    await readBody(ctx.request, ctx.response, ctx.server.bodyBudget),
    bodyFormat(ctx.request.headers["content-type"]),
  );
  if (!isObject(body)) throw errors.badRequest("expected a SelfSubjectAccessReview object");
  const spec = objectAt(body, "spec");
  const attributes = spec["resourceAttributes"];
  let status: Record<string, unknown>;
  if (isObject(attributes)) {
    const decision = authorize(ctx.principal, {
      project,
      verb: stringAt(attributes, "verb") ?? "",
      group: stringAt(attributes, "group") ?? "",
      resource: stringAt(attributes, "resource") ?? "",
      ...optional("subresource", stringAt(attributes, "subresource")),
      ...optional("namespace", stringAt(attributes, "namespace")),
      ...optional("name", stringAt(attributes, "name")),
    });
    // kubectl prints a denial's reason after "no"; like RBAC, give reasons for grants only.
    status = decision.allowed ? { allowed: true, reason: decision.reason } : { allowed: false };
  } else if (isObject(spec["nonResourceAttributes"])) {
    const verb = stringAt(objectAt(spec, "nonResourceAttributes"), "verb");
    status = {
      allowed: verb === "get",
      reason: "discovery documents are readable by every user of the project",
    };
  } else {
    throw errors.invalid(
      "SelfSubjectAccessReview",
      { resource: "selfsubjectaccessreviews", group: "authorization.k8s.io" },
      [
        {
          type: "Required",
          path: ["spec", "resourceAttributes"],
          detail: "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        },
      ],
    );
  }
  sendJson(ctx.response, 201, {
    kind: "SelfSubjectAccessReview",
    apiVersion: "authorization.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec,
    status,
  });
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/** The URLs every user of a project may read: discovery, OpenAPI, version. */
const DISCOVERY_URLS = [
  "/api",
  "/api/*",
  "/apis",
  "/apis/*",
  "/openapi/*",
  "/version",
  "/healthz",
  "/readyz",
  "/livez",
];

/** POST .../selfsubjectrulesreviews: what `kubectl auth can-i --list` shows. */
export async function handleRulesReview(ctx: RequestContext, project: string | undefined): Promise<void> {
  const body = decodeBody(
    await readBody(ctx.request, ctx.response, ctx.server.bodyBudget),
    bodyFormat(ctx.request.headers["content-type"]),
  );
  const spec = isObject(body) ? objectAt(body, "spec") : {};
  const accessible = canAccessProject(ctx.principal, project);
  sendJson(ctx.response, 201, {
    kind: "SelfSubjectRulesReview",
    apiVersion: "authorization.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec,
    status: {
      resourceRules: rulesFor(ctx.principal, project),
      nonResourceRules: accessible ? [{ verbs: ["get"], nonResourceURLs: DISCOVERY_URLS }] : [],
      incomplete: false,
    },
  });
}
