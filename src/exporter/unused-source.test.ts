// A source no sink forwards exports nothing, so it is not evaluated: its
// matched count stays 0 instead of echoing what the used sources route (the
// API warns about it at apply: src/apiserver/resources.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeWriteRequest } from "../remotewrite/index.js";
import { startFaultServer } from "../../test-support/fault-server.js";
import { TENANT_LABEL } from "../../test-support/platform-series.js";
import { policyPlan } from "../../test-support/policies.js";
import { Exporter } from "./exporter.js";

describe("a source no sink forwards", () => {
  it("is not evaluated, and counts nothing", async () => {
    const receiver = await startFaultServer();
    const exporter = new Exporter({ tenantLabel: TENANT_LABEL });
    exporter.apply(
      policyPlan("p1", {
        name: "mixed",
        sources: { gateways: '{resource_kind="Gateway"}', everything: "{}" },
        sinks: [{ name: "out", endpoint: receiver.url, sources: ["gateways"] }],
      }),
    );
    await exporter.ingest.apply(
      encodeWriteRequest(
        ["Gateway", "HTTPProxy"].map((kind) => ({
          labels: [
            { name: "__name__", value: "requests_total" },
            { name: "resource_kind", value: kind },
            { name: TENANT_LABEL, value: "p1" },
          ],
          samples: [{ value: 1, timestampMs: 1_700_000_000_000 }],
        })),
      ),
    );
    const sources = exporter.health("uid-p1-mixed")?.sources;
    assert.equal(sources?.get("gateways")?.matchedSamples, 1);
    assert.equal(sources.get("everything")?.matchedSamples, 0);
    await exporter.close();
    await receiver.close();
  });
});
