// `telex create secret basic-auth NAME --username U --password P`: the
// credentials a sink's basicAuth.secretRef names.
import { parseArgs } from "node:util";
import { BASIC_AUTH_SECRET_TYPE } from "../../api/index.js";
import { CONNECTION_FLAGS, FIELD_MANAGER, withConnection } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { SECRETS } from "../resources.js";

const HELP = `Usage: telex create secret basic-auth NAME --username USER --password PASSWORD --project PROJECT
                    [--server URL] [--token TOKEN] [-n NAMESPACE]
`;

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...CONNECTION_FLAGS,
      username: { type: "string" },
      password: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const [what, type, name, ...extra] = positionals;
  if (what !== "secret" || type !== "basic-auth" || name === undefined || extra.length > 0) {
    throw new UsageError("usage: telex create secret basic-auth NAME --username USER --password PASSWORD");
  }
  if (values.username === undefined || values.password === undefined) {
    throw new UsageError("--username and --password are both required");
  }
  return withConnection(values, io.stderr, async (connection) => {
    await connection.client.request("POST", SECRETS.collection(connection.namespace), {
      query: { fieldManager: FIELD_MANAGER },
      body: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: connection.namespace },
        type: BASIC_AUTH_SECRET_TYPE,
        stringData: { username: values.username, password: values.password },
      },
    });
    io.stdout.write(`secret/${name} created\n`);
    return EXIT.ok;
  });
}
