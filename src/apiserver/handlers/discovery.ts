// GET of discovery, OpenAPI and version documents.
import { VERSION } from "../../util/index.js";
import type { RequestContext } from "../context.js";
import { apiGroup, apiGroupList, apiResourceList, apiVersions } from "../discovery.js";
import { sendJson } from "../http-io.js";
import type { Route } from "../paths.js";
import { errors } from "../status.js";

export function handleDiscovery(ctx: RequestContext, route: Route): void {
  const { response } = ctx;
  switch (route.kind) {
    case "version":
      sendJson(response, 200, {
        major: "1",
        minor: "32",
        gitVersion: `v1.32.0-telex.${VERSION}`,
        platform: `${process.platform}/${process.arch}`,
        goVersion: `node${process.versions.node}`,
      });
      return;
    case "apiVersions":
      sendJson(response, 200, apiVersions(ctx.server.serverAddress));
      return;
    case "apiGroups":
      sendJson(response, 200, apiGroupList(route.project));
      return;
    case "apiGroup": {
      const group = apiGroup(route.project, route.group);
      if (group === undefined) throw errors.notFound({ resource: "apigroups", group: "", name: route.group });
      sendJson(response, 200, group);
      return;
    }
    case "resourceList": {
      const list = apiResourceList(route.project, route.group, route.version, {
        delivery: ctx.server.delivery !== undefined,
        sinkTest: ctx.server.sinkTest !== undefined,
        preview: ctx.server.preview !== undefined,
      });
      if (list === undefined)
        throw errors.notFound({
          resource: "groupversions",
          group: "",
          name: `${route.group}/${route.version}`,
        });
      sendJson(response, 200, list);
      return;
    }
    case "openapiRoot":
      sendJson(response, 200, ctx.server.openapi.root(route.project));
      return;
    case "openapiGroupVersion": {
      const key = route.group === "" ? `api/${route.version}` : `apis/${route.group}/${route.version}`;
      const doc = ctx.server.openapi.groupVersion(route.project, key);
      if (doc === undefined) throw errors.notFound({ resource: "openapi", group: "", name: key });
      response.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(doc.json),
        // The URL carries the document's hash, so clients may keep it.
        "Cache-Control": "public, immutable",
        Etag: `"${doc.hash}"`,
      });
      response.end(doc.json);
      return;
    }
    default:
      throw errors.notFound({ resource: "", group: "", name: "" });
  }
}
