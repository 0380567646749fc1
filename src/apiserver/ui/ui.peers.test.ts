// The status page (/ui/) in headless Chromium against a whole `telex serve`
// with a tokens file and two projects. Project alpha's sink points at the
// port of a VictoriaMetrics that is not running yet (a real receiver that is
// down), project bravo's at a server answering 401. Agents push to both all
// along. The page must show alpha's failing sink and its reason, turn it
// Ready without a reload once VictoriaMetrics starts, chart its rate, and
// never show a thing of bravo to alpha's token. Each step asserts on the DOM
// and on a screenshot (non-blank, its size, the badge's pixel colour).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "puppeteer-core";
import { startServer, type RunningServer } from "../../serve/index.js";
import type { TimeSeriesInput } from "../../remotewrite/index.js";
import {
  chromiumAvailability,
  hexColour,
  launchChromium,
  near,
  type DecodedPng,
  type RunningChromium,
} from "../../../test-support/chromium.js";
import { startFaultServer, type FaultServer } from "../../../test-support/fault-server.js";
import { freePort } from "../../../test-support/peers.js";
import { pushSeries } from "../../../test-support/remote-write-client.js";
import { apiRequest } from "../../../test-support/telex-api.js";
import {
  startVictoriaMetrics,
  victoriaMetricsAvailability,
  type RunningVictoriaMetrics,
} from "../../../test-support/victoriametrics.js";
import { UI_BADGE_COLOURS } from "./page.js";

const ALPHA = "alpha-rdzjb8";
const BRAVO = "bravo-x7k2p9";
const ALPHA_TOKEN = "alpha-admin-token-0123456789";
const BRAVO_TOKEN = "bravo-admin-token-0123456789";
const PLATFORM_TOKEN = "platform-viewer-token-0123456789";
/** Names that exist only in project bravo: none may ever appear on a page alpha's token opens. */
const BRAVO_POLICY = "bravo-secret-policy";
const BRAVO_SINK = "bravo-private-sink";
const TENANT_LABEL = "resourcemanager_datumapis_com_project_name";
const VIEWPORT = { width: 1280, height: 900 } as const;

function policy(name: string, sink: string, endpoint: string): Record<string, unknown> {
  return {
    apiVersion: "telemetry.miloapis.com/v1alpha1",
    kind: "ExportPolicy",
    metadata: { name },
    spec: {
      sources: [{ name: "gateways", metrics: { metricsql: '{resource_kind="Gateway"}' } }],
      sinks: [
        {
          name: sink,
          sources: ["gateways"],
          target: {
            prometheusRemoteWrite: {
              endpoint,
              batch: { timeout: "200ms" },
              // A short schedule: the down sink probes often, so recovery shows within seconds.
              retry: { maxAttempts: 1, backoffDuration: "200ms" },
            },
          },
        },
      ],
    },
  };
}

function gatewaySeries(project: string, timestampMs: number): TimeSeriesInput[] {
  return [0, 1, 2].map((i) => ({
    labels: [
      { name: "__name__", value: "envoy_vhost_vcluster_upstream_rq" },
      { name: TENANT_LABEL, value: project },
      { name: "resource_kind", value: "Gateway" },
      { name: "resource_name", value: `gw-${i}` },
    ],
    samples: [{ value: i, timestampMs }],
  }));
}

const skip = chromiumAvailability().skip ?? victoriaMetricsAvailability().skip;

describe("the status page at /ui/ in headless Chromium", { skip }, () => {
  let dir: string;
  let server: RunningServer;
  let fault: FaultServer;
  let chromium: RunningChromium;
  let vm: RunningVictoriaMetrics | undefined;
  let vmPort: number;
  let pushing: NodeJS.Timeout | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-ui-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const tokensFile = join(dir, "tokens.yaml");
    await writeFile(
      tokensFile,
      JSON.stringify({
        tokens: [
          { token: ALPHA_TOKEN, user: "alice", projects: [ALPHA], role: "admin" },
          { token: BRAVO_TOKEN, user: "bob", projects: [BRAVO], role: "admin" },
          { token: PLATFORM_TOKEN, user: "platform", projects: ["*"], role: "viewer" },
        ],
      }),
    );
    vmPort = await freePort();
    fault = await startFaultServer(() => ({ status: 401, body: "bad credentials" }));
    cleanup.push(() => fault.close());
    server = await startServer({
      apiListen: "127.0.0.1:0",
      ingestListen: "127.0.0.1:0",
      dataDir: join(dir, "data"),
      tokensFile,
      // With a tokens file loopback is denied to sinks; these receivers run on it.
      endpointAllow: ["127.0.0.0/8"],
      statusRefreshMs: 300,
      deliveryHistoryIntervalMs: 1000,
    });
    cleanup.push(() => server.stop());
    for (const [project, token, body] of [
      [ALPHA, ALPHA_TOKEN, policy("edge", "vm", `http://127.0.0.1:${vmPort}/api/v1/write`)],
      [BRAVO, BRAVO_TOKEN, policy(BRAVO_POLICY, BRAVO_SINK, `${fault.url}/api/v1/write`)],
    ] as const) {
      const created = await apiRequest(
        server.api.projectUrl(project),
        "POST",
        "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies",
        { token, body },
      );
      assert.equal(created.status, 201, created.text);
    }
    const ingest = `${server.ingest?.url ?? ""}/api/v1/write`;
    const push = async (): Promise<void> => {
      const now = Date.now();
      await pushSeries(ingest, [...gatewaySeries(ALPHA, now), ...gatewaySeries(BRAVO, now)]);
    };
    await push();
    pushing = setInterval(() => void push().catch(() => undefined), 250);
    chromium = await launchChromium();
    cleanup.push(() => chromium.close());
  });

  after(async () => {
    clearInterval(pushing);
    // In reverse order of starting, also when `before` failed half way.
    for (const step of cleanup.reverse()) await step();
    await vm?.stop();
  });

  /** Opens a page of the UI with a token given in the fragment, as a person would paste the link. */
  async function open(path: string, token: string | undefined): Promise<Page> {
    const page = await chromium.newPage(VIEWPORT);
    const failures: string[] = [];
    page.on("pageerror", (error) => failures.push(String(error)));
    await page.goto(`${server.api.url}${path}${token === undefined ? "" : `#token=${token}`}`, {
      waitUntil: "load",
    });
    assert.deepEqual(failures, [], "the page's script failed");
    return page;
  }

  const text = (page: Page): Promise<string> => page.evaluate("document.body.innerText") as Promise<string>;

  const sinkBadge = 'section[data-policy="default/edge"] tr[data-sink="vm"] td.ready .badge';

  async function badgeStatus(page: Page): Promise<string | undefined> {
    return (await page.evaluate(
      `document.querySelector(${JSON.stringify(sinkBadge)})?.getAttribute("data-status") ?? undefined`,
    )) as string | undefined;
  }

  /** The colour of the sink's badge in a screenshot: a pixel of its padding, left of the label. */
  async function badgeColour(page: Page, shot: DecodedPng): Promise<readonly [number, number, number]> {
    const box = await (await page.$(sinkBadge))?.boundingBox();
    assert.ok(box, "no badge on the page");
    return shot.pixel(Math.round(box.x + 3), Math.round(box.y + box.height / 2));
  }

  function assertScreenshot(shot: DecodedPng): void {
    assert.equal(shot.width, VIEWPORT.width);
    assert.equal(shot.height, VIEWPORT.height);
    // A blank or unstyled page has a handful of colours; text, badges and a chart have many.
    assert.ok(shot.distinctColours() > 20, `the screenshot looks blank (${shot.distinctColours()} colours)`);
  }

  it("loads: a platform token sees every project on /ui/", async () => {
    const page = await open("/ui/", PLATFORM_TOKEN);
    await page.waitForSelector(`tr[data-project="${BRAVO}"]`, { timeout: 10_000 });
    const shown = await text(page);
    assert.match(shown, new RegExp(ALPHA));
    assert.match(shown, new RegExp(BRAVO));
    // The token left the address bar (and so the history) once read.
    assert.equal(page.url(), `${server.api.url}/ui/`);
    assertScreenshot(await chromium.screenshot(page, "projects"));
    await page.close();
  });

  it("asks for a token when none is given, and shows no data", async () => {
    const page = await open(`/ui/projects/${ALPHA}/`, undefined);
    await page.waitForSelector("form.token input[type=password]", { timeout: 10_000 });
    assert.doesNotMatch(await text(page), /edge|Samples\/s/);
    await page.close();
  });

  it("shows the failing sink's reason and last error, and turns Ready without a reload when the receiver starts", async () => {
    const page = await open(`/ui/projects/${ALPHA}/`, ALPHA_TOKEN);
    await page.waitForFunction(
      `document.querySelector(${JSON.stringify(sinkBadge)})?.getAttribute("data-status") === "False"`,
      { timeout: 20_000 },
    );
    const row = 'section[data-policy="default/edge"] tr[data-sink="vm"]';
    await page.waitForFunction(
      `(document.querySelector(${JSON.stringify(`${row} td.error`)})?.innerText ?? "").includes("Unreachable")`,
      { timeout: 10_000 },
    );
    const failing = (await page.evaluate(
      `document.querySelector(${JSON.stringify(row)}).innerText`,
    )) as string;
    assert.match(failing, /Not ready/);
    assert.match(failing, /EndpointUnreachable/);
    assert.match(failing, new RegExp(`127\\.0\\.0\\.1:${vmPort}`));
    const down = await chromium.screenshot(page, "sink-down");
    assertScreenshot(down);
    assert.ok(
      near(await badgeColour(page, down), hexColour(UI_BADGE_COLOURS.False)),
      `the badge is not red: ${String(await badgeColour(page, down))}`,
    );

    // A marker that a reload or a navigation would lose.
    await page.evaluate("window.telexTestMarker = 'no reload'");
    vm = await startVictoriaMetrics({ port: vmPort });
    await page.waitForFunction(
      `document.querySelector(${JSON.stringify(sinkBadge)})?.getAttribute("data-status") === "True"`,
      { timeout: 30_000 },
    );
    assert.equal(await page.evaluate("window.telexTestMarker"), "no reload");
    assert.equal(await badgeStatus(page), "True");
    // The chart draws the rate once samples flow: a line with a point above the baseline.
    await page.waitForFunction(
      `Array.from(document.querySelectorAll(${JSON.stringify(`${row} svg.chart polyline.sent`)}))
         .some((line) => line.getAttribute("points").split(" ").some((p) => Number(p.split(",")[1]) < 30))`,
      { timeout: 15_000 },
    );
    const sent = (await page.evaluate(
      `document.querySelector(${JSON.stringify(`${row} td.sent`)}).innerText`,
    )) as string;
    assert.ok(Number(sent.replace(/,/g, "")) > 0, `sent: ${sent}`);
    const up = await chromium.screenshot(page, "sink-ready");
    assertScreenshot(up);
    assert.ok(
      near(await badgeColour(page, up), hexColour(UI_BADGE_COLOURS.True)),
      `the badge is not green: ${String(await badgeColour(page, up))}`,
    );
    await page.close();
  });

  it("shows nothing of another project to a project's token", async () => {
    // Its own project: its policy, none of bravo's names, reasons or receiver.
    const own = await open(`/ui/projects/${ALPHA}/`, ALPHA_TOKEN);
    await own.waitForSelector(sinkBadge, { timeout: 10_000 });
    await own.waitForSelector("section.events", { timeout: 10_000 });
    const ownText = await text(own);
    for (const foreign of [BRAVO, BRAVO_POLICY, BRAVO_SINK, "Unauthorized", new URL(fault.url).host]) {
      assert.ok(!ownText.includes(foreign), `alpha's page shows ${foreign}:\n${ownText}`);
    }
    await own.close();

    // Another project's URL: the API's 403, and no data of it on screen.
    const foreign = await open(`/ui/projects/${BRAVO}/`, ALPHA_TOKEN);
    await foreign.waitForSelector(".failure", { timeout: 10_000 });
    const foreignText = await text(foreign);
    assert.match(foreignText, /Forbidden: .*alice/);
    for (const name of [BRAVO_POLICY, BRAVO_SINK, "Unauthorized"]) {
      assert.ok(!foreignText.includes(name), `bravo's page shows ${name} to alpha's token`);
    }
    assert.equal(await foreign.$("section.policy"), null);
    const shot = await chromium.screenshot(foreign, "forbidden");
    assert.equal(shot.width, VIEWPORT.width);
    const box = await (await foreign.$(".failure"))?.boundingBox();
    assert.ok(box);
    // The refusal is drawn in the failure colour (some pixel of its text is red).
    let red = false;
    for (let x = Math.round(box.x); x < box.x + Math.min(box.width, 200) && !red; x++) {
      for (let y = Math.round(box.y); y < box.y + box.height && !red; y++) {
        red = near(shot.pixel(x, y), hexColour(UI_BADGE_COLOURS.False), 40);
      }
    }
    assert.ok(red, "the refusal is not shown in red");
    await foreign.close();

    // The projects page lists alpha's token its project, and no other.
    const projects = await open("/ui/", ALPHA_TOKEN);
    await projects.waitForSelector(`tr[data-project="${ALPHA}"]`, { timeout: 10_000 });
    assert.match(await text(projects), /Signed in as alice\./);
    assert.ok(!(await text(projects)).includes(BRAVO));
    assert.deepEqual(
      await projects.evaluate(
        `Array.from(document.querySelectorAll("tr[data-project]")).map((row) => row.getAttribute("data-project"))`,
      ),
      [ALPHA],
    );
    await projects.close();
  });
});
