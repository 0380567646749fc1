// A cluster serving many projects: a namespace's project is its
// telex.miloapis.com/project label. The controller scopes each policy to its
// namespace's project, leaves unlabelled namespaces alone, and moves a policy
// when its namespace is relabelled. The "cluster" is one project's control
// plane of an embedded API (namespaces, labels, policies: all Kubernetes').
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Exporter } from "../exporter/exporter.js";
import { systemClock } from "../util/index.js";
import { silentLogger } from "../util/index.js";
import { ExpositionWriter } from "../metrics/exposition.js";
import { eventually, eventuallyValue } from "../../test-support/eventually.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { examplePolicy, startTestApiServer, type TestApiServer } from "../../test-support/telex-api.js";
import { Controller } from "./controller.js";
import { FINALIZER } from "./reconciler.js";
import { KubeClient } from "../kube/index.js";
import type { KubeObject } from "../kube/index.js";
import { NamespaceProjects, PROJECT_LABEL, namespaceProjectsLayout } from "./namespace-projects.js";

const policies = (namespace: string) =>
  `/apis/telemetry.miloapis.com/v1alpha1/namespaces/${namespace}/exportpolicies`;

describe("projects from namespace labels", () => {
  let server: TestApiServer;
  let client: KubeClient;
  let exporter: Exporter;
  let controller: Controller;

  const namespace = (name: string, project?: string) =>
    client.request("POST", "/api/v1/namespaces", {
      body: {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, ...(project === undefined ? {} : { labels: { [PROJECT_LABEL]: project } }) },
      },
    });
  /** Which project each running policy's sink is scoped to, from the exporter's own metrics. */
  const running = (): string[] => {
    const writer = new ExpositionWriter();
    exporter.writeMetrics(writer);
    const lines = writer.render().split("\n");
    return lines
      .filter((line) => line.startsWith("telex_sink_samples_received_total{"))
      .map((line) => /project="([^"]*)",namespace="([^"]*)"/.exec(line)?.slice(1).join("/") ?? line)
      .sort();
  };

  before(async () => {
    server = await startTestApiServer();
    client = new KubeClient({
      server: server.api.projectUrl("host"),
      tls: { rejectUnauthorized: true },
      authorization: () => undefined,
    });
    await namespace("team-a", "alpha");
    await namespace("team-b", "beta");
    await namespace("team-c");
    await namespace("team-d", "Not_A_Project");
    for (const ns of ["team-a", "team-b", "team-c", "team-d"]) {
      await client.request("POST", policies(ns), { body: examplePolicy("p") });
    }
    exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    controller = new Controller({
      client,
      layout: namespaceProjectsLayout(
        new NamespaceProjects({ client, clock: systemClock, logger: silentLogger }),
      ),
      exporter,
      tenantLabel: TENANT_LABEL,
      statusRefreshMs: 100,
    });
    await controller.start();
  });
  after(async () => {
    await controller.stop();
    await exporter.close();
    await client.close();
    await server.close();
  });

  it("exports each labelled namespace's policies as its project's, and leaves the others alone", async () => {
    await eventuallyValue(running, (r) => r.length === 2, "two policies running");
    assert.deepEqual(running(), ["alpha/team-a", "beta/team-b"]);
    const finalizers = async (ns: string) =>
      (await client.request<KubeObject>("GET", `${policies(ns)}/p`)).metadata.finalizers ?? [];
    assert.deepEqual(await finalizers("team-a"), [FINALIZER]);
    for (const ns of ["team-c", "team-d"]) {
      assert.deepEqual(await finalizers(ns), [], `${ns}: no project, untouched`);
    }
  });

  it("moves a policy to the project its namespace is relabelled with, and drops one whose label goes", async () => {
    await client.request("PATCH", "/api/v1/namespaces/team-b", {
      contentType: "application/merge-patch+json",
      body: { metadata: { labels: { [PROJECT_LABEL]: "alpha" } } },
    });
    await client.request("PATCH", "/api/v1/namespaces/team-c", {
      contentType: "application/merge-patch+json",
      body: { metadata: { labels: { [PROJECT_LABEL]: "gamma" } } },
    });
    await eventually(
      () => running().join(" ") === "alpha/team-a alpha/team-b gamma/team-c",
      "team-b in alpha, team-c in gamma",
    );
    await client.request("PATCH", "/api/v1/namespaces/team-a", {
      contentType: "application/merge-patch+json",
      body: { metadata: { labels: { [PROJECT_LABEL]: null } } },
    });
    await eventually(() => running().join(" ") === "alpha/team-b gamma/team-c", "team-a in no project");
    // Out of every project, its deletion is still not held up by the finalizer it kept.
    await client.request("DELETE", `${policies("team-a")}/p`);
    await eventually(async () => {
      const list = await client.request<{ items: KubeObject[] }>("GET", policies("team-a"));
      return list.items.length === 0;
    }, "team-a's policy gone");
  });
});
