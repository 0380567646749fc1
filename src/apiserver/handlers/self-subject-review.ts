// POST .../apis/authentication.k8s.io/v1/selfsubjectreviews: who the caller
// is, what `kubectl auth whoami` asks. Like kube-apiserver it answers every
// authenticated user, in every plane, about themselves only. Telex adds the
// projects and role of the token under `extra`, so a client (the status
// page's project list) can show a project's user their projects and nothing
// else without trying names.
import type { RequestContext } from "../context.js";
import { bodyFormat, decodeBody, readBody, sendJson } from "../http-io.js";

/** `userInfo.extra` keys: the projects the token grants ("*": every project) and its role. */
export const PROJECTS_EXTRA = "telex.miloapis.com/projects";
export const ROLE_EXTRA = "telex.miloapis.com/role";

export async function handleSelfSubjectReview(ctx: RequestContext): Promise<void> {
  // The body says nothing (kubectl sends an empty review), but it must be one that decodes.
  decodeBody(
    await readBody(ctx.request, ctx.response, ctx.server.bodyBudget),
    bodyFormat(ctx.request.headers["content-type"]),
  );
  const { principal } = ctx;
  const projects = principal.projects === "*" ? ["*"] : [...principal.projects].sort();
  sendJson(ctx.response, 201, {
    kind: "SelfSubjectReview",
    apiVersion: "authentication.k8s.io/v1",
    metadata: { creationTimestamp: null },
    status: {
      userInfo: {
        username: principal.user,
        groups: ["system:authenticated"],
        extra: { [PROJECTS_EXTRA]: projects, [ROLE_EXTRA]: [principal.role] },
      },
    },
  });
}
