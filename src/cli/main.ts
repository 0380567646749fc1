// The `telex` command line: finds the verb and runs it with the given streams.
import * as applyCommand from "./commands/apply.js";
import * as createCommand from "./commands/create.js";
import * as deleteCommand from "./commands/delete.js";
import * as describeCommand from "./commands/describe.js";
import * as explainCommand from "./commands/explain.js";
import * as getCommand from "./commands/get.js";
import * as kubeconfigCommand from "./commands/kubeconfig.js";
import * as previewCommand from "./commands/preview.js";
import * as serveCommand from "./commands/serve.js";
import * as testSinkCommand from "./commands/test-sink.js";
import * as validateCommand from "./commands/validate.js";
import { EXIT, UsageError, type CommandIO } from "./io.js";
import { VERSION } from "../util/index.js";

interface Command {
  readonly summary: string;
  run(args: readonly string[], io: CommandIO): Promise<number> | number;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  apply: applyCommand,
  create: createCommand,
  delete: deleteCommand,
  describe: describeCommand,
  explain: explainCommand,
  get: getCommand,
  kubeconfig: kubeconfigCommand,
  preview: previewCommand,
  serve: serveCommand,
  "test-sink": testSinkCommand,
  validate: validateCommand,
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
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr.write(`error: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT.usage;
  }
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
