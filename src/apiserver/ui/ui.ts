// `/ui/`: the status page on the API listener. Its document, script and
// style sheet are static and hold no data, so they are served without a
// token, as the login page of any web console is; a browser cannot attach a
// bearer token to a navigation anyway. Everything the page shows it reads
// from the API with the token the user gives it, so it is authorized exactly
// as the API is: a project's token sees its projects and gets 403 for any
// other, whose name in /ui/projects/P/ buys nothing.
//
//   /ui/                 projects (across projects for platform tokens; else a form to name one)
//   /ui/projects/P/      project P: policies, sinks, rates, backlog, errors, events
//   /ui/app.js, app.css  the script and style sheet
import type { IncomingMessage, ServerResponse } from "node:http";
import { isProjectName } from "../paths.js";
import { ApiError, errors } from "../status.js";
import { UI_CSS, UI_HTML } from "./page.js";
import { UI_SCRIPT } from "./script.js";

export const UI_PREFIX = "/ui/";

/**
 * No inline script or style, no other origin, no framing: the page handles a
 * token, so a value that slipped into the DOM must never run, and the page
 * must not be framed by another site.
 */
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  // The files change with the server's version only, but a stale script would talk to a changed API.
  "Cache-Control": "no-cache",
} as const;

const ASSETS: ReadonlyMap<string, { readonly type: string; readonly body: Buffer }> = new Map([
  ["app.js", { type: "text/javascript; charset=utf-8", body: Buffer.from(UI_SCRIPT) }],
  ["app.css", { type: "text/css; charset=utf-8", body: Buffer.from(UI_CSS) }],
]);
const PAGE = { type: "text/html; charset=utf-8", body: Buffer.from(UI_HTML) };

/** Whether a path is the status page's: `/ui` or below `/ui/`. */
export function isUiPath(pathname: string): boolean {
  return pathname === "/ui" || pathname.startsWith(UI_PREFIX);
}

/** Serves a path isUiPath accepted; throws ApiError (404, 405) for what it does not serve. */
export function serveUi(request: IncomingMessage, response: ServerResponse, pathname: string): void {
  const method = request.method ?? "";
  if (method !== "GET" && method !== "HEAD") throw errors.methodNotAllowed(method, pathname);
  const parts = pathname.slice(UI_PREFIX.length).split("/");
  if (
    pathname === "/ui" ||
    (parts.length === 2 && parts[0] === "projects" && isProjectName(parts[1] ?? ""))
  ) {
    // The page's relative URLs and its route parsing want the trailing slash, as directory listings do.
    response.writeHead(301, { Location: `${pathname}/`, "Cache-Control": "no-cache" });
    response.end();
    return;
  }
  const asset = parts.length === 1 ? (pathname === UI_PREFIX ? PAGE : ASSETS.get(parts[0] ?? "")) : undefined;
  const project = parts.length === 3 && parts[0] === "projects" && parts[2] === "" ? parts[1] : undefined;
  const file = asset ?? (project !== undefined && isProjectName(project) ? PAGE : undefined);
  if (file === undefined) throw new ApiError("NotFound", `the status page has no ${pathname}`);
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    "Content-Type": file.type,
    "Content-Length": String(file.body.length),
  });
  response.end(method === "HEAD" ? undefined : file.body);
}
