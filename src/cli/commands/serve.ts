// `telex serve`: runs the server until SIGINT or SIGTERM, then stops every
// component gracefully. The listening address goes to stdout in one stable
// line (`api: listening on http://HOST:PORT`) that scripts and tests read.
import { parseArgs } from "node:util";
import { ApiServerConfigError, DEFAULT_API_LISTEN, TokensFileError } from "../../apiserver/index.js";
import { streamLogger } from "../../log.js";
import { DEFAULT_DATA_DIR, startServer } from "../../server.js";
import { DatabaseLockedError } from "../../store/index.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";

export const summary = "Run the Telex server: the Kubernetes-compatible resource API over SQLite";

const HELP = `Usage: telex serve [--api-listen HOST:PORT] [--data-dir DIR] [--tokens-file FILE]
                   [--tls-cert-file FILE --tls-key-file FILE]

Runs the resource API: per-project Kubernetes-style control planes at
  http://HOST:PORT/apis/resourcemanager.miloapis.com/v1alpha1/projects/PROJECT/control-plane

Options:
  --api-listen HOST:PORT  address of the resource API (default ${DEFAULT_API_LISTEN}; port 0 picks a free port)
  --data-dir DIR          where the SQLite store lives (default ${DEFAULT_DATA_DIR})
  --tokens-file FILE      bearer tokens (YAML or JSON); without it access is open and
                          the API must listen on a loopback address
  --tls-cert-file FILE    PEM certificate: serve https (kubectl sends tokens only over https)
  --tls-key-file FILE     PEM private key of the certificate
`;

/** Resolves when the process is asked to stop. Injected by tests. */
export type StopSignal = Promise<string>;

function processSignal(): StopSignal {
  return new Promise((resolve) => {
    const onSignal = (signal: string): void => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

export async function run(
  args: readonly string[],
  io: CommandIO,
  stopSignal: StopSignal = processSignal(),
): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      "api-listen": { type: "string", default: DEFAULT_API_LISTEN },
      "data-dir": { type: "string", default: DEFAULT_DATA_DIR },
      "tokens-file": { type: "string" },
      "tls-cert-file": { type: "string" },
      "tls-key-file": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const certFile = values["tls-cert-file"];
  const keyFile = values["tls-key-file"];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--tls-cert-file and --tls-key-file go together");
  }
  const logger = streamLogger((line) => io.stderr.write(line));
  let server;
  try {
    server = await startServer({
      apiListen: values["api-listen"],
      dataDir: values["data-dir"],
      ...(values["tokens-file"] === undefined ? {} : { tokensFile: values["tokens-file"] }),
      ...(certFile === undefined || keyFile === undefined ? {} : { tls: { certFile, keyFile } }),
      logger,
    });
  } catch (error: unknown) {
    if (
      error instanceof ApiServerConfigError ||
      error instanceof TokensFileError ||
      error instanceof DatabaseLockedError
    ) {
      io.stderr.write(`telex serve: ${error.message}\n`);
      return EXIT.failure;
    }
    const code = (error as { code?: unknown }).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      io.stderr.write(`telex serve: cannot listen on ${values["api-listen"]}: ${(error as Error).message}\n`);
      return EXIT.failure;
    }
    throw error;
  }
  io.stdout.write(`api: listening on ${server.api.url}\n`);
  logger.info("resource API ready", {
    projects: `${server.api.url}/apis/resourcemanager.miloapis.com/v1alpha1/projects/PROJECT/control-plane`,
    dataDir: values["data-dir"],
  });
  if (!server.api.openAccess && !server.api.tls) {
    logger.warn(
      "bearer tokens over plain http: kubectl sends tokens only over https (use --tls-cert-file and --tls-key-file)",
    );
  }
  if (server.api.openAccess) {
    logger.warn(
      "open access: no --tokens-file, so anyone who can reach this loopback address can read and write every project",
    );
  }
  const signal = await stopSignal;
  logger.info("stopping", { signal });
  await server.stop();
  logger.info("stopped");
  return EXIT.ok;
}
