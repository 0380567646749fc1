// `telex serve` as a library: starts every component of the server from one
// place and stops them together. Today that is the resource API; the ingest
// endpoint, exporter and controller join here, each with a start and a stop.
import { DEFAULT_API_LISTEN, startApiServer, type ApiServer } from "./apiserver/index.js";
import { silentLogger, type Logger } from "./log.js";

export const DEFAULT_DATA_DIR = "./.telex";

export interface ServerOptions {
  /** HOST:PORT of the resource API (default 127.0.0.1:6443; port 0 picks one). */
  readonly apiListen?: string;
  /** Where the SQLite store lives (default ./.telex). */
  readonly dataDir?: string;
  /** Bearer tokens; without it the API is open, loopback only. */
  readonly tokensFile?: string;
  /** PEM certificate and key: serve the API over https. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly logger?: Logger;
}

export interface RunningServer {
  readonly api: ApiServer;
  /** Stops every component, the most downstream first; idempotent. */
  stop(): Promise<void>;
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? silentLogger;
  const api = await startApiServer({
    listen: options.apiListen ?? DEFAULT_API_LISTEN,
    dataDir: options.dataDir ?? DEFAULT_DATA_DIR,
    ...(options.tokensFile === undefined ? {} : { tokensFile: options.tokensFile }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    logger,
  });
  const components: { readonly name: string; stop(): Promise<void> }[] = [
    { name: "api", stop: () => api.stop() },
  ];
  let stopping: Promise<void> | undefined;
  return {
    api,
    stop: () => {
      stopping ??= (async () => {
        for (const component of [...components].reverse()) {
          try {
            await component.stop();
          } catch (error: unknown) {
            logger.error("component failed to stop", { component: component.name, error: String(error) });
          }
        }
      })();
      return stopping;
    },
  };
}
