// `telex serve --api-only`: the resource API alone — every project's control
// plane, the cross-project view and the platform plane where replicas hold
// their Leases and ConfigMaps — for replicas that `--join` it. No exporter, controller,
// ingest or pull.
//
// The ExportPolicy `delivery` subresource (`telex describe`, the /ui/ status
// page) is read from the replica running the policy (src/fleet/delivery.ts):
// every live replica, push or pull, is asked at DELIVERY_PATH on the listener
// its Lease advertises, with --ingest-token-file's token; 503 when no replica
// answers for the policy, 429 beyond MAX_DELIVERY_READS reads at once.
//
// `telex test-sink` (the `sinktest` subresource) and the endpoint warnings of
// a create or update are served here, from this process, under its own egress
// policy: --endpoint-allow and --endpoint-deny, which should be the replicas'
// (the manifests under deploy/ give both the same). Why here and not through a
// replica: the person's request reaches the API, a replica has no listener a
// tenant may call, and the test needs nothing a replica holds.
//
// `telex preview` (the `preview` subresource, and `apply --dry-run=server`):
// - with --source-url (a pull fleet) from the store the replicas read, here,
//   as the all-in-one server does in pull mode (--pull-mode, --pull-interval
//   and --tenant-label should be the replicas');
// - without it, from every live replica's recently ingested series (a push
//   fleet, src/fleet/preview.ts): the replicas' Leases in this API say where
//   each takes ingest, and --ingest-token-file gives the token they share.
//   Without --source-url in a pull fleet the replicas publish no ingest URL,
//   and a preview answers 503 saying to pass --source-url.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { DEFAULTS, type ExportPolicy } from "../api/index.js";
import {
  ApiServerConfigError,
  DeliveryUnavailableError,
  PreviewUnavailableError,
  type DeliveryProvider,
  type PolicyPreviewer,
} from "../apiserver/index.js";
import { endpointWarnings } from "../controller/endpoint-warnings.js";
import { LEASES, platformPath } from "../controller/layout.js";
import { testSink } from "../exporter/sinktest/index.js";
import {
  FleetDeliveryError,
  FleetPreviewError,
  FleetView,
  fleetDelivery,
  previewFleet,
} from "../fleet/index.js";
import { KubeClient, PLATFORM_NAMESPACE } from "../kube/index.js";
import { silentLogger, systemClock } from "../util/index.js";
import { startEmbeddedApi } from "./api-server.js";
import { Components } from "./components.js";
import { denyListener, denyPeer, egressPolicy } from "./egress.js";
import type { ApiOnlyOptions, RunningApi } from "./options.js";
import { pullPreviewer } from "./preview.js";

export async function startApiOnly(options: ApiOnlyOptions = {}): Promise<RunningApi> {
  const logger = options.logger ?? silentLogger;
  const components = new Components(logger);
  return components.startOrStop(async () => {
    // With a tokens file strangers share the server: loopback and private ranges are theirs no more.
    const egress = egressPolicy(options, options.tokensFile !== undefined);
    const internalToken = randomBytes(32).toString("hex");
    const ingestToken =
      options.ingestTokenFile === undefined ? undefined : readIngestToken(options.ingestTokenFile);
    const pull = options.pull;
    if (pull !== undefined)
      await denyPeer(egress, pull.url, "the metrics store previews read (--source-url)");
    // The fleet's members, watched through this API once it listens.
    const late: { view?: FleetView } = {};
    const preview: PolicyPreviewer =
      pull !== undefined
        ? pullPreviewer(pull, options.tenantLabel ?? DEFAULTS.tenantLabel, systemClock)
        : async (request) => {
            const view = late.view;
            if (view === undefined) throw new PreviewUnavailableError("the API server is still starting");
            try {
              return await previewFleet(request, {
                view,
                ...(ingestToken === undefined ? {} : { token: ingestToken }),
                ...(options.previewTimeoutMs === undefined ? {} : { timeoutMs: options.previewTimeoutMs }),
              });
            } catch (error: unknown) {
              if (error instanceof FleetPreviewError) throw new PreviewUnavailableError(error.message);
              throw error;
            }
          };
    const delivery: DeliveryProvider = async ({ uid }) => {
      const view = late.view;
      if (view === undefined) throw new DeliveryUnavailableError("the API server is still starting");
      try {
        return await fleetDelivery(uid, {
          view,
          ...(ingestToken === undefined ? {} : { token: ingestToken }),
          ...(options.deliveryTimeoutMs === undefined ? {} : { timeoutMs: options.deliveryTimeoutMs }),
        });
      } catch (error: unknown) {
        if (error instanceof FleetDeliveryError) throw new DeliveryUnavailableError(error.message);
        throw error;
      }
    };
    const api = await startEmbeddedApi(options, {
      ...(options.tokensFile === undefined ? {} : { internalToken }),
      delivery,
      sinkTest: (request) => testSink({ ...request, egress }),
      preview,
      // Called with the admitted object only: validation has made it an ExportPolicy.
      policyWarnings: (policy) => endpointWarnings(egress, policy as unknown as ExportPolicy),
    });
    components.add("api", () => api.stop());
    await denyListener(egress, api.host, api.port, "Telex's API listener");
    // Push and pull fleets alike: previews (push) and delivery reports (both) ask the replicas.
    const client = new KubeClient({
      server: api.url,
      tls: {
        rejectUnauthorized: true,
        ...(options.tls === undefined ? {} : { ca: readFileSync(options.tls.certFile, "utf8") }),
      },
      authorization: () => (options.tokensFile === undefined ? undefined : `Bearer ${internalToken}`),
    });
    components.add("api client", () => client.close());
    const view = new FleetView({
      client,
      leasesPath: platformPath(LEASES, options.leaseNamespace ?? PLATFORM_NAMESPACE),
      logger,
    });
    components.add("fleet view", () => view.stop());
    await view.start();
    late.view = view;
    return { api, stop: () => components.stop() };
  });
}

/** The replicas' ingest token; a missing or empty file stops the start with a reason. */
function readIngestToken(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, "utf8").trim();
  } catch (error: unknown) {
    throw new ApiServerConfigError(`cannot read --ingest-token-file ${file}: ${(error as Error).message}`);
  }
  if (token === "") throw new ApiServerConfigError(`--ingest-token-file ${file} is empty`);
  return token;
}
