// The `telex` command line: finds the verb and runs it with the given streams.
import { setFlagsFromString } from "node:v8";
import { EXIT, UsageError, type CommandIO } from "./io.js";
import { VERSION } from "../util/version.js";

interface Command {
  run(args: readonly string[], io: CommandIO): Promise<number> | number;
}

interface CommandEntry {
  readonly summary: string;
  /**
   * Loaded only when run: `telex get` must not pay for the server, SQLite and the schema
   * compiler `telex serve` needs (a read verb answers in well under 200 ms; `npm run bench -- cli`).
   */
  readonly load: () => Promise<Command>;
}

const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  apply: {
    summary: "Create or update ExportPolicies and Secrets from manifests",
    load: () => import("./commands/apply.js"),
  },
  create: {
    summary: "Create a kubernetes.io/basic-auth Secret for a sink",
    load: () => import("./commands/create.js"),
  },
  delete: {
    summary: "Delete an ExportPolicy or Secret and wait until it is gone",
    load: () => import("./commands/delete.js"),
  },
  describe: {
    summary: "Show an ExportPolicy: sources, sinks, per-sink conditions and events",
    load: () => import("./commands/describe.js"),
  },
  explain: {
    summary: "Show the documentation of a resource or one of its fields",
    load: () => import("./commands/explain.js"),
  },
  get: {
    summary: "List ExportPolicies or Secrets, or show one; -w follows changes",
    load: () => import("./commands/get.js"),
  },
  kubeconfig: {
    summary: "Add a kubectl context for a project to your kubeconfig",
    load: () => import("./commands/kubeconfig.js"),
  },
  preview: {
    summary: "Show which series of the project a policy selects now, and what each sink would receive",
    load: () => import("./commands/preview.js"),
  },
  serve: {
    summary:
      "Run the Telex server: resource API, controller, exporter and ingest in one process, or one of them",
    load: () => import("./commands/serve.js"),
  },
  "test-sink": {
    summary: "Send one harmless request to a sink's endpoint from the server; report each phase",
    load: () => import("./commands/test-sink.js"),
  },
  validate: {
    summary: "Check ExportPolicy and Secret manifests offline, reporting every problem with its field path",
    load: () => import("./commands/validate.js"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `telex ${VERSION}: export a project's metrics to its own Prometheus Remote Write endpoints.

Usage: telex COMMAND [options]

Commands:
${lines.join("\n")}

Run "telex COMMAND --help" for a command's options.
`;
}

export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "version" || name === "--version") {
    io.stdout.write(`telex ${VERSION}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    io.stderr.write(`error: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT.usage;
  }
  // A short-lived verb compiles the HTTP parser's WebAssembly with the baseline compiler only:
  // V8 finishes its optimizing recompile (~140 ms here) before the process may exit, for a
  // parser that runs a handful of times. The server keeps the optimized one.
  if (name !== "serve") setFlagsFromString("--liftoff-only");
  const command = await entry.load();
  try {
    return await command.run(args, io);
  } catch (error) {
    // parseArgs reports bad flags with a TypeError carrying an ERR_PARSE_ARGS_* code.
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
      io.stderr.write(`error: ${(error as Error).message}\nSee "telex ${name} --help".\n`);
      return EXIT.usage;
    }
    throw error;
  }
}
