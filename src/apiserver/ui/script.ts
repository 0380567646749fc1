// The status page's script, served as /ui/app.js. Plain browser JavaScript
// in a string: the page needs no build step, no framework and nothing from
// npm, and ships inside the compiled server (the image copies dist/src only).
// It reads nothing the API does not serve to the same token: who it is (a
// SelfSubjectReview), ExportPolicies (list, then watch), each policy's
// `delivery` subresource and Events, with
// the bearer token the user gave (kept in sessionStorage: this tab only).
// Every value from the API reaches the page as text nodes or SVG attributes,
// never as HTML, and the Content-Security-Policy allows no inline script.
//
// The script avoids backquotes and dollar-brace: it lives in a template string.
import { PROJECTS_EXTRA } from "../handlers/self-subject-review.js";
import { PROJECTS_PREFIX } from "../paths.js";

/** How often delivery counters and Events are read again (the policies are watched). */
export const UI_POLL_MS = 5000;
/** Events shown, newest first. */
export const UI_EVENTS_SHOWN = 20;
/** Delivery reads the page sends at once: well under the server's per-project bound (MAX_DELIVERY_READS_PER_PROJECT). */
export const UI_DELIVERY_READS_AT_ONCE = 6;

export const UI_SCRIPT = `"use strict";
(function () {
  var PROJECTS = ${JSON.stringify(PROJECTS_PREFIX)};
  var POLL_MS = ${UI_POLL_MS};
  var EVENTS_SHOWN = ${UI_EVENTS_SHOWN};
  var DELIVERY_READS_AT_ONCE = ${UI_DELIVERY_READS_AT_ONCE};
  var POLICIES = "/apis/telemetry.miloapis.com/v1alpha1";
  var PROJECT_ANNOTATION = "telex.miloapis.com/project";
  var REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
  var PROJECTS_EXTRA = ${JSON.stringify(PROJECTS_EXTRA)};
  var TOKEN_KEY = "telex.token";
  var SVG = "http://www.w3.org/2000/svg";
  var root = document.getElementById("app");
  var generation = 0;

  function ApiFailure(status, message) {
    this.status = status;
    this.message = message;
  }

  function takeTokenFromFragment() {
    var match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match === null) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function headers() {
    var result = { Accept: "application/json" };
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) result.Authorization = "Bearer " + token;
    return result;
  }

  async function failureOf(response) {
    var message = "HTTP " + response.status;
    try {
      var body = await response.json();
      if (body && typeof body.message === "string") message = body.message;
    } catch (ignored) {
      // Not a Status object: the status code says enough.
    }
    return new ApiFailure(response.status, message);
  }

  async function getJson(path, signal) {
    var response = await fetch(path, { headers: headers(), signal: signal, cache: "no-store" });
    if (!response.ok) throw await failureOf(response);
    return response.json();
  }

  function el(tag, attributes) {
    var node = document.createElement(tag);
    for (var key in attributes || {}) node.setAttribute(key, attributes[key]);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === undefined || child === null) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }

  function show() {
    root.replaceChildren();
    for (var i = 0; i < arguments.length; i++) append(root, arguments[i]);
  }

  function number(value) {
    return typeof value === "number" && isFinite(value) ? value : 0;
  }

  function thousands(value) {
    return Math.round(number(value)).toLocaleString("en-US");
  }

  function perSecond(value) {
    var v = number(value);
    return (v >= 100 ? Math.round(v).toLocaleString("en-US") : String(Math.round(v * 10) / 10)) + "/s";
  }

  function bytes(value) {
    var v = number(value);
    var units = ["B", "kB", "MB", "GB", "TB"];
    var unit = 0;
    while (v >= 1000 && unit < units.length - 1) { v /= 1000; unit++; }
    return (unit === 0 || v >= 10 ? Math.round(v) : Math.round(v * 10) / 10) + " " + units[unit];
  }

  function duration(seconds) {
    var s = Math.max(0, Math.round(number(seconds)));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
    return Math.floor(s / 86400) + "d" + Math.floor((s % 86400) / 3600) + "h";
  }

  function ago(time) {
    var ms = Date.parse(time);
    return isNaN(ms) ? "" : duration((Date.now() - ms) / 1000) + " ago";
  }

  function readyOf(conditions) {
    var list = Array.isArray(conditions) ? conditions : [];
    for (var i = 0; i < list.length; i++) if (list[i] && list[i].type === "Ready") return list[i];
    return { status: "Unknown", reason: "NotObserved", message: "the controller has not reported on it yet" };
  }

  function badge(condition) {
    var status = condition.status === "True" || condition.status === "False" ? condition.status : "Unknown";
    var label = status === "True" ? "Ready" : status === "False" ? "Not ready" : "Unknown";
    return el("span", { class: "badge", "data-status": status }, label);
  }

  function conditionText(condition) {
    return el("span", { class: "reason" },
      el("b", {}, condition.reason || ""), condition.message ? " — " + condition.message : "");
  }

  /** samples/s sent (and dropped, in red) over the kept minutes, as a small SVG. */
  function chart(history) {
    var width = 180, height = 40;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var sent = history && Array.isArray(history.samplesSentPerSecond) ? history.samplesSentPerSecond : [];
    var dropped = history && Array.isArray(history.samplesDroppedPerSecond) ? history.samplesDroppedPerSecond : [];
    var frame = document.createElementNS(SVG, "rect");
    frame.setAttribute("class", "frame");
    frame.setAttribute("x", "0.5");
    frame.setAttribute("y", "0.5");
    frame.setAttribute("width", String(width - 1));
    frame.setAttribute("height", String(height - 1));
    svg.appendChild(frame);
    var title = document.createElementNS(SVG, "title");
    if (sent.length === 0) {
      title.textContent = "no rate recorded yet: a point is added every interval";
      svg.appendChild(title);
      return svg;
    }
    // The server keeps 60 points (15 minutes at its default interval): the chart has room for them all.
    var points = Math.max(60, sent.length);
    var top = Math.max(1, Math.max.apply(null, sent.concat(dropped)));
    var line = function (values, cls) {
      var step = (width - 4) / Math.max(1, points - 1);
      var start = width - 2 - step * (values.length - 1);
      var coordinates = values.map(function (v, i) {
        return (start + i * step).toFixed(1) + "," + (height - 3 - (number(v) / top) * (height - 8)).toFixed(1);
      });
      var polyline = document.createElementNS(SVG, "polyline");
      polyline.setAttribute("class", cls);
      polyline.setAttribute("points", values.length === 1 ? coordinates[0] + " " + coordinates[0] : coordinates.join(" "));
      svg.appendChild(polyline);
    };
    line(sent, "sent");
    if (dropped.some(function (v) { return v > 0; })) line(dropped, "dropped");
    title.textContent = "samples/s sent over the last " + duration(sent.length * number(history.intervalSeconds)) +
      " (peak " + perSecond(top) + ")";
    svg.appendChild(title);
    return svg;
  }

  function sinkRow(sink, condition, delivery) {
    var d = delivery || {};
    var history = d.history;
    var sent = history && history.samplesSentPerSecond && history.samplesSentPerSecond.length > 0
      ? history.samplesSentPerSecond[history.samplesSentPerSecond.length - 1] : undefined;
    var dropped = d.samplesDropped || {};
    var droppedTotal = Object.keys(dropped).reduce(function (t, k) { return t + number(dropped[k]); }, 0);
    var droppedWhy = Object.keys(dropped).filter(function (k) { return number(dropped[k]) > 0; })
      .map(function (k) { return k + " " + thousands(dropped[k]); }).join(", ");
    var lastError = d.lastError
      ? el("span", {}, el("b", {}, d.lastError.reason || ""), " " + (d.lastError.message || ""),
          el("span", { class: "muted" }, " (" + ago(d.lastError.time) + ")"))
      : el("span", { class: "muted" }, "none");
    return el("tr", { "data-sink": sink.name },
      el("td", { class: "name" }, sink.name),
      el("td", { class: "ready" }, badge(condition), " ", conditionText(condition)),
      el("td", { class: "rate" }, chart(history), el("div", { class: "muted" },
        delivery === undefined ? "" : sent === undefined ? "collecting"
          : perSecond(sent) + " now, peak " + perSecond(Math.max.apply(null, history.samplesSentPerSecond)))),
      el("td", { class: "sent" }, delivery === undefined ? "" : thousands(d.samplesSent)),
      el("td", { class: "dropped" }, delivery === undefined ? "" : thousands(droppedTotal),
        droppedWhy ? el("div", { class: "muted" }, droppedWhy) : null),
      el("td", { class: "backlog" }, delivery === undefined ? "" :
        thousands(d.samplesBuffered) + " samples, " + bytes(d.bufferedBytes),
        d.down ? el("div", { class: "muted" }, "down since " + ago(d.down.since)) : null),
      el("td", { class: "lag" }, delivery === undefined ? "" : duration(d.lagSeconds)),
      el("td", { class: "error" }, delivery === undefined ? "" : lastError));
  }

  function policySection(policy, report) {
    var meta = policy.metadata || {};
    var status = policy.status || {};
    var ready = readyOf(status.conditions);
    var sinkStatus = {};
    (status.sinks || []).forEach(function (s) { sinkStatus[s.name] = readyOf(s.conditions); });
    var delivered = {};
    if (report && Array.isArray(report.sinks)) report.sinks.forEach(function (s) { delivered[s.name] = s; });
    var sinks = ((policy.spec || {}).sinks || []).map(function (sink) {
      return sinkRow(sink, sinkStatus[sink.name] || readyOf([]), report ? delivered[sink.name] : undefined);
    });
    var note = report === undefined ? null
      : report.unavailable ? el("p", { class: "muted" }, "Delivery counters: " + report.unavailable)
      : report.message ? el("p", { class: "muted" }, report.message) : null;
    return el("section", { class: "policy", "data-policy": meta.namespace + "/" + meta.name },
      el("h2", {}, el("span", { class: "ns" }, meta.namespace + "/"), meta.name, " ", badge(ready)),
      el("p", {}, conditionText(ready)),
      note,
      el("table", { class: "sinks" },
        el("thead", {}, el("tr", {}, ["Sink", "Ready", "Samples/s, 15 min", "Sent", "Dropped", "Backlog", "Lag", "Last error"]
          .map(function (h) { return el("th", {}, h); }))),
        el("tbody", {}, sinks)));
  }

  function eventsSection(events) {
    var rows = events.map(function (e) {
      var object = e.involvedObject || {};
      return el("tr", { "data-type": e.type || "" },
        el("td", { class: "muted" }, ago(e.lastTimestamp || e.eventTime || (e.metadata || {}).creationTimestamp)),
        el("td", {}, e.type || ""), el("td", {}, e.reason || ""),
        el("td", {}, (object.kind || "").toLowerCase() + "/" + (object.name || "")),
        el("td", {}, e.message || ""));
    });
    return el("section", { class: "events" }, el("h2", {}, "Recent events"),
      rows.length === 0 ? el("p", { class: "muted" }, "No events.")
        : el("table", {}, el("thead", {}, el("tr", {}, ["Last seen", "Type", "Reason", "Object", "Message"]
          .map(function (h) { return el("th", {}, h); }))), el("tbody", {}, rows)));
  }

  function tokenForm(message) {
    var input = el("input", { type: "password", name: "token", autocomplete: "off", placeholder: "bearer token" });
    var form = el("form", { class: "token" }, el("p", {}, message), input, " ", el("button", { type: "submit" }, "Use token"));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      start();
    });
    return form;
  }

  function header(title, project) {
    var forget = el("button", { type: "button", class: "link" }, "forget token");
    forget.addEventListener("click", function () { sessionStorage.removeItem(TOKEN_KEY); start(); });
    return el("header", {}, el("h1", {}, el("a", { href: "/ui/" }, "Telex"), " ", title),
      el("span", { id: "updated", class: "muted" }, ""),
      sessionStorage.getItem(TOKEN_KEY) ? forget : null,
      project ? el("span", { class: "muted" }, " project " + project) : null);
  }

  /** A failure as the page shows it: a token form for 401, the API's message otherwise; no data stays on screen. */
  function showFailure(title, project, failure) {
    if (failure instanceof ApiFailure && failure.status === 401) {
      show(header(title, project), tokenForm("This server needs a bearer token (the same as for the API)."));
      return;
    }
    var text = failure instanceof ApiFailure
      ? (failure.status === 403 ? "Forbidden: " : "Error: ") + failure.message
      : "Cannot reach the API: " + String(failure && failure.message ? failure.message : failure);
    show(header(title, project), el("p", { class: "failure", role: "alert" }, text),
      failure instanceof ApiFailure && failure.status === 403 ? tokenForm("Use another token:") : null);
  }

  function stamp() {
    var updated = document.getElementById("updated");
    if (updated) updated.textContent = "updated " + new Date().toLocaleTimeString("en-GB");
  }

  function sleep(ms, signal) {
    return new Promise(function (resolve) {
      var timer = setTimeout(resolve, ms);
      signal.addEventListener("abort", function () { clearTimeout(timer); resolve(); });
    });
  }

  // --- one project: policies (list + watch), delivery and events (polled)
  async function projectPage(project, mine, signal) {
    var base = PROJECTS + encodeURIComponent(project) + "/control-plane";
    var policies = new Map();
    var reports = new Map();
    var events = [];
    var failed = false;
    var key = function (p) { return p.metadata.namespace + "/" + p.metadata.name; };

    var render = function () {
      if (failed || generation !== mine) return;
      var sorted = Array.from(policies.values()).sort(function (a, b) { return key(a) < key(b) ? -1 : 1; });
      show(header("status", project),
        sorted.length === 0 ? el("p", { class: "muted" }, "No ExportPolicies in this project.") : null,
        sorted.map(function (p) { return policySection(p, reports.get(key(p))); }),
        eventsSection(events));
      stamp();
    };
    var fail = function (failure) {
      if (signal.aborted || generation !== mine) return;
      failed = true;
      policies.clear();
      reports.clear();
      events = [];
      showFailure("status", project, failure);
    };

    var list = async function () {
      var body = await getJson(base + POLICIES + "/exportpolicies", signal);
      policies.clear();
      (body.items || []).forEach(function (p) { policies.set(key(p), p); });
      return (body.metadata || {}).resourceVersion || "";
    };

    var watch = async function (resourceVersion) {
      var url = base + POLICIES + "/exportpolicies?watch=1&allowWatchBookmarks=true&resourceVersion=" +
        encodeURIComponent(resourceVersion);
      var response = await fetch(url, { headers: headers(), signal: signal, cache: "no-store" });
      if (!response.ok) throw await failureOf(response);
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffered = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) return;
        buffered += decoder.decode(chunk.value, { stream: true });
        var lines = buffered.split("\\n");
        buffered = lines.pop();
        for (var i = 0; i < lines.length; i++) {
          if (lines[i].trim() === "") continue;
          var event = JSON.parse(lines[i]);
          if (event.type === "ERROR") return;
          if (event.type === "BOOKMARK") continue;
          if (event.type === "DELETED") { policies.delete(key(event.object)); reports.delete(key(event.object)); }
          else policies.set(key(event.object), event.object);
        }
        render();
      }
    };

    var poll = async function () {
      var names = Array.from(policies.values()).map(function (p) { return p.metadata; });
      var readOne = function (m) {
        var path = base + POLICIES + "/namespaces/" + encodeURIComponent(m.namespace) + "/exportpolicies/" +
          encodeURIComponent(m.name) + "/delivery";
        return getJson(path, signal).then(function (r) { return [m, r]; }, function (failure) {
          // Not served (404), no replica answers for it (503), the server busy (429): a note, and the next poll.
          if (failure instanceof ApiFailure && [404, 429, 503].indexOf(failure.status) >= 0)
            return [m, { unavailable: failure.message }];
          throw failure;
        });
      };
      // A few at a time: each read may ask every replica of a fleet, and the server bounds reads per project.
      var read = [];
      for (var start = 0; start < names.length; start += DELIVERY_READS_AT_ONCE)
        read = read.concat(await Promise.all(names.slice(start, start + DELIVERY_READS_AT_ONCE).map(readOne)));
      reports.clear();
      read.forEach(function (entry) { reports.set(entry[0].namespace + "/" + entry[0].name, entry[1]); });
      var body = await getJson(base + "/api/v1/events", signal);
      var when = function (e) { return Date.parse(e.lastTimestamp || e.eventTime || (e.metadata || {}).creationTimestamp) || 0; };
      events = (body.items || []).sort(function (a, b) { return when(b) - when(a); }).slice(0, EVENTS_SHOWN);
      render();
    };

    var watching = (async function () {
      while (!signal.aborted && !failed) {
        try {
          var resourceVersion = await list();
          render();
          await watch(resourceVersion);
        } catch (failure) {
          if (failure instanceof ApiFailure && failure.status !== 410) { fail(failure); return; }
          if (!(failure instanceof ApiFailure) && !signal.aborted) await sleep(2000, signal);
        }
      }
    })();
    var polling = (async function () {
      while (!signal.aborted && !failed) {
        try {
          await poll();
        } catch (failure) {
          if (failure instanceof ApiFailure) { fail(failure); return; }
        }
        await sleep(POLL_MS, signal);
      }
    })();
    await Promise.all([watching, polling]);
  }

  // --- every project the token may see across projects (platform tokens, open access)
  /** Who the token is and which projects it grants ("*": every one), from a SelfSubjectReview. */
  async function whoami(signal) {
    var response = await fetch(REVIEW, {
      method: "POST",
      headers: Object.assign(headers(), { "Content-Type": "application/json" }),
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
      signal: signal,
      cache: "no-store",
    });
    if (!response.ok) throw await failureOf(response);
    var info = ((await response.json()).status || {}).userInfo || {};
    var projects = (info.extra || {})[PROJECTS_EXTRA];
    return { user: info.username || "", projects: Array.isArray(projects) ? projects : [] };
  }

  /**
   * Policies and not-ready policies per project: one list across projects for
   * a token of every project (projects without policies cannot be listed), else
   * one list per project the token grants (the operator's tokens file bounds them).
   */
  async function projectCounts(projects, signal) {
    var byProject = new Map();
    var count = function (project, policy) {
      var entry = byProject.get(project) || { policies: 0, notReady: 0 };
      entry.policies++;
      if (readyOf((policy.status || {}).conditions).status !== "True") entry.notReady++;
      byProject.set(project, entry);
    };
    if (projects.indexOf("*") >= 0) {
      var body = await getJson(PROJECTS + "-/control-plane" + POLICIES + "/exportpolicies", signal);
      (body.items || []).forEach(function (p) {
        count(((p.metadata || {}).annotations || {})[PROJECT_ANNOTATION] || "", p);
      });
      return byProject;
    }
    var lists = await Promise.all(projects.map(function (project) {
      return getJson(PROJECTS + encodeURIComponent(project) + "/control-plane" + POLICIES + "/exportpolicies", signal)
        .then(function (list) { return [project, list]; });
    }));
    lists.forEach(function (entry) {
      byProject.set(entry[0], { policies: 0, notReady: 0 });
      (entry[1].items || []).forEach(function (p) { count(entry[0], p); });
    });
    return byProject;
  }

  // --- the projects the token may see: every one for a platform token (or open access), else its own
  async function projectsPage(mine, signal) {
    var openForm = function () {
      var input = el("input", { name: "project", placeholder: "project name", required: "" });
      var form = el("form", { class: "open" }, "Open a project: ", input, " ", el("button", { type: "submit" }, "Open"));
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        location.assign("/ui/projects/" + encodeURIComponent(input.value.trim()) + "/");
      });
      return form;
    };
    while (!signal.aborted && generation === mine) {
      try {
        var me = await whoami(signal);
        var byProject = await projectCounts(me.projects, signal);
        if (signal.aborted || generation !== mine) return;
        var rows = Array.from(byProject.keys()).sort().map(function (project) {
          var entry = byProject.get(project);
          return el("tr", { "data-project": project },
            el("td", {}, el("a", { href: "/ui/projects/" + encodeURIComponent(project) + "/" }, project)),
            el("td", {}, String(entry.policies)), el("td", {}, String(entry.notReady)));
        });
        show(header("projects"), el("p", { class: "muted" }, "Signed in as " + me.user + "."), openForm(),
          rows.length === 0 ? el("p", { class: "muted" }, "No ExportPolicies in any project.")
            : el("table", { class: "projects" }, el("thead", {}, el("tr", {},
                el("th", {}, "Project"), el("th", {}, "Policies"), el("th", {}, "Not ready"))), el("tbody", {}, rows)));
        stamp();
      } catch (failure) {
        if (signal.aborted) return;
        showFailure("projects", undefined, failure);
        if (failure instanceof ApiFailure) return;
      }
      await sleep(POLL_MS, signal);
    }
  }

  var running;
  function start() {
    if (running) running.abort();
    running = new AbortController();
    var mine = ++generation;
    var match = /^\\/ui\\/projects\\/([^/]+)\\/$/.exec(location.pathname);
    var page = match ? projectPage(decodeURIComponent(match[1]), mine, running.signal) : projectsPage(mine, running.signal);
    page.catch(function (failure) { if (generation === mine) showFailure("status", undefined, failure); });
  }

  takeTokenFromFragment();
  start();
})();
`;
