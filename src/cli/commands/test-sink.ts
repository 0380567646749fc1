// `telex test-sink -f FILE [POLICY] [--sink NAME]` (or `telex test-sink
// POLICY` for a stored policy): has the server send one harmless Remote
// Write request (an empty WriteRequest) to a sink's endpoint with the
// Secret's credentials, and prints what each phase — Auth, DNS, TCP, TLS,
// HTTP — came to, one line each with its time, and under a failure the fix.
// Exit status 0 only when the endpoint accepted the request (2xx).
//
// The request goes from the server, not from this machine (the ExportPolicy
// `sinktest` subresource, src/apiserver/sink-test.ts): the Secret's
// credentials stay on the server, its egress policy decides what may be
// connected to, and the test takes the path the sink takes — a test from a
// laptop would prove the laptop's network and trust, not the sink's.
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { API_VERSION, validateObject } from "../../api/index.js";
import { SINK_TEST_KIND, SINK_TEST_SUBRESOURCE } from "../../apiserver/index.js";
import { CONNECTION_FLAGS, withConnection } from "../connection.js";
import { invalidReport, problemReport } from "../manifest-errors.js";
import { policyArgs } from "../policy-args.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";
import { loadManifests, type ManifestDocument } from "../manifests.js";
import { text } from "../printers.js";
import { EXPORT_POLICIES } from "../resources.js";

type Json = Record<string, unknown>;
const record = (value: unknown): Json =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
const list = (value: unknown): Json[] => (Array.isArray(value) ? value.map(record) : []);

const HELP = `Usage: telex test-sink -f FILE|- [POLICY] [--sink NAME] [-o json|yaml] --project PROJECT [--server URL] [--token TOKEN] [-n NAMESPACE]
       telex test-sink POLICY [--sink NAME] ...

Has the Telex server send one harmless Remote Write request (an empty
WriteRequest: it writes nothing) to a sink's endpoint, with the credentials
of the sink's Secret, and prints the outcome and time of each phase — Auth,
DNS, TCP, TLS, HTTP — one line each, with the fix for common failures.

With -f, the ExportPolicy in FILE is tested (it need not be applied; a
Secret it references must be). POLICY picks one when FILE has several.
Without -f, the stored policy POLICY is tested. --sink names the sink; it
may be left out when the policy has one.

The request is sent from the server, as the sink sends it: through the
server's egress policy (an address tenants may not reach is refused, not
connected to), with the CAs the server trusts, and with the Secret's
credentials, which never leave the server.

Exit status: 0 when the endpoint accepted the request (2xx), 1 otherwise,
2 for a wrong command line.
`;

const RESULT_WORDS: Readonly<Record<string, string>> = {
  Succeeded: "ok",
  Failed: "failed",
  Forbidden: "forbidden",
  Skipped: "skipped",
};

export function formatDuration(ms: unknown): string {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The phase lines: `NAME  RESULT  TIME  message`, and under a failure `      fix: …`. */
export function phaseLines(status: Json): string[] {
  const lines: string[] = [];
  for (const phase of list(status["phases"])) {
    const name = text(phase["name"]).toUpperCase();
    const result = RESULT_WORDS[text(phase["result"])] ?? text(phase["result"]).toLowerCase();
    lines.push(
      `${name.padEnd(5)} ${result.padEnd(9)} ${formatDuration(phase["durationMs"]).padEnd(8)} ${text(phase["message"])}`.replace(
        /\s+$/,
        "",
      ),
    );
    if (typeof phase["fix"] === "string") lines.push(`      fix: ${phase["fix"]}`);
  }
  return lines;
}

function verdict(status: Json): string {
  if (status["accepted"] === true) return "Result: accepted — the endpoint took the request.";
  const failed = list(status["phases"]).find((p) => p["result"] === "Failed" || p["result"] === "Forbidden");
  const where = failed === undefined ? "" : ` at ${text(failed["name"]).toUpperCase()}`;
  return `Result: not accepted${where}.`;
}

interface Chosen {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly manifest?: Json;
  /** Secrets the file holds, `namespace/name` (namespace "" when unset). */
  readonly fileSecrets: readonly string[];
}

/** The ExportPolicy of the file to test: the one named, or having the sink, or the only one. */
async function fromFile(
  file: string,
  policyName: string | undefined,
  sink: string | undefined,
  io: CommandIO,
): Promise<Chosen | undefined> {
  const entries = await loadManifests([file], { recursive: false, stdin: io.stdin });
  const policies: ManifestDocument[] = [];
  const fileSecrets: string[] = [];
  let invalid = false;
  for (const entry of entries) {
    if (entry.type === "problem") {
      io.stderr.write(problemReport(entry));
      invalid = true;
      continue;
    }
    const object = record(entry.object);
    const metadata = record(object["metadata"]);
    if (object["kind"] === "Secret") {
      fileSecrets.push(`${text(metadata["namespace"])}/${text(metadata["name"])}`);
      continue;
    }
    if (object["kind"] !== "ExportPolicy") continue;
    if (policyName !== undefined && metadata["name"] !== policyName) continue;
    const { result } = validateObject(entry.object);
    if (!result.valid) {
      io.stderr.write(
        invalidReport(entry, `ExportPolicy ${JSON.stringify(metadata["name"] ?? "")}`, result.errors),
      );
      invalid = true;
      continue;
    }
    policies.push(entry);
  }
  if (invalid) return undefined;
  const sinksOf = (entry: ManifestDocument): string[] =>
    list(record(record(entry.object)["spec"])["sinks"]).map((s) => text(s["name"]));
  const nameOf = (entry: ManifestDocument): string => text(record(record(entry.object)["metadata"])["name"]);
  const candidates = sink === undefined ? policies : policies.filter((p) => sinksOf(p).includes(sink));
  const [chosen, ...others] = candidates;
  if (chosen === undefined) {
    const what = policyName === undefined ? "no ExportPolicy" : `no ExportPolicy named ${policyName}`;
    const withSink = sink === undefined || policies.length === 0 ? "" : ` with a sink named ${sink}`;
    const known = policies.map((p) => `${nameOf(p)} (sinks: ${sinksOf(p).join(", ")})`).join("; ");
    io.stderr.write(`error: ${file} has ${what}${withSink}${known === "" ? "" : `; it has ${known}`}\n`);
    return undefined;
  }
  if (others.length > 0) {
    throw new UsageError(
      `${file} has several ExportPolicies${sink === undefined ? "" : ` with a sink named ${sink}`} (${candidates.map(nameOf).join(", ")}): name one, e.g. telex test-sink -f ${file} ${nameOf(chosen)}`,
    );
  }
  const sinks = sinksOf(chosen);
  if (sink === undefined && sinks.length > 1) {
    throw new UsageError(
      `ExportPolicy ${nameOf(chosen)} has sinks ${sinks.join(", ")}: name one with --sink`,
    );
  }
  const metadata = record(record(chosen.object)["metadata"]);
  return {
    name: nameOf(chosen),
    namespace: typeof metadata["namespace"] === "string" ? metadata["namespace"] : undefined,
    manifest: record(chosen.object),
    fileSecrets,
  };
}

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...CONNECTION_FLAGS,
      filename: { type: "string", short: "f" },
      sink: { type: "string" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const { policyName, file, output } = policyArgs(positionals, values.filename, values.output);
  const sink = values.sink;
  // The file first: its problems are reported without a server, and a wrong choice is a usage error.
  let chosen: Chosen | undefined = { name: policyName ?? "", namespace: undefined, fileSecrets: [] };
  if (file !== undefined) {
    try {
      chosen = await fromFile(file, policyName, sink, io);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      return EXIT.failure;
    }
  }
  if (chosen === undefined) return EXIT.failure;
  const policy = chosen;
  return withConnection(values, io.stderr, async (connection) => {
    const namespace = policy.namespace ?? connection.namespace;
    const answer = await connection.client.request<Json>(
      "POST",
      `${EXPORT_POLICIES.object(namespace, policy.name)}/${SINK_TEST_SUBRESOURCE}`,
      {
        body: {
          apiVersion: API_VERSION,
          kind: SINK_TEST_KIND,
          spec: {
            ...(sink === undefined ? {} : { sink }),
            ...(policy.manifest === undefined ? {} : { policy: policy.manifest }),
          },
        },
      },
    );
    const status = record(answer["status"]);
    if (output === "json") io.stdout.write(`${JSON.stringify(answer, null, 4)}\n`);
    else if (output === "yaml") io.stdout.write(stringify(answer));
    else {
      const sinkName = text(record(answer["spec"])["sink"]);
      io.stdout.write(
        [
          `Testing sink ${sinkName} of exportpolicy/${policy.name} (namespace ${namespace}) from the Telex server at ${connection.server}:`,
          `one empty Remote Write request (no samples) to ${text(status["endpoint"])}`,
          ...phaseLines(status),
          ...secretHint(status, policy, file),
          verdict(status),
        ].join("\n") + "\n",
      );
    }
    return status["accepted"] === true ? EXIT.ok : EXIT.failure;
  });
}

/** When the Secret is missing on the server but the file holds it: apply the file first. */
function secretHint(status: Json, chosen: Chosen, file: string | undefined): string[] {
  const auth = list(status["phases"]).find((p) => p["name"] === "Auth");
  if (file === undefined || auth?.["reason"] !== "SecretNotFound") return [];
  const ref = record(status["secretRef"]);
  const name = text(ref["name"]);
  const namespace = text(ref["namespace"]);
  // A Secret without a namespace in the file goes where the policy goes.
  const inFile = chosen.fileSecrets.some((s) => s === `${namespace}/${name}` || s === `/${name}`);
  return inFile
    ? [`      hint: ${file} holds Secret ${name}: \`telex apply -f ${file}\` stores it (and the policy)`]
    : [];
}
