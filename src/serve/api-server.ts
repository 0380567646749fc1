// The embedded resource API as `telex serve` starts it: the same for the
// all-in-one server and `--api-only`; the all-in-one server adds what only a
// process that also runs the exporter can serve (extras).
import {
  DEFAULT_API_LISTEN,
  startApiServer,
  type ApiServer,
  type ApiServerOptions,
} from "../apiserver/index.js";
import { silentLogger } from "../util/index.js";
import { DEFAULT_DATA_DIR, type ApiRunOptions } from "./options.js";

export type ApiExtras = Pick<
  ApiServerOptions,
  "internalToken" | "delivery" | "sinkTest" | "preview" | "policyWarnings" | "policyFinalizer"
>;

export function startEmbeddedApi(options: ApiRunOptions, extras: ApiExtras = {}): Promise<ApiServer> {
  return startApiServer({
    listen: options.apiListen ?? DEFAULT_API_LISTEN,
    dataDir: options.dataDir ?? DEFAULT_DATA_DIR,
    ...(options.tokensFile === undefined ? {} : { tokensFile: options.tokensFile }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.quotas === undefined ? {} : { quotas: options.quotas }),
    logger: options.logger ?? silentLogger,
    ...extras,
  });
}
