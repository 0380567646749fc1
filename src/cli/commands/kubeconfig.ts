// `telex kubeconfig --project P`: a kubeconfig cluster, user and context, all
// named P, for the project's control plane, so plain kubectl (and anything
// built on client-go) reaches it with `--context P`. Merged into the first
// file of $KUBECONFIG, or ~/.kube/config, or printed with `-o -`.
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { YAMLSeq, isMap, isSeq, parseDocument, type Document } from "yaml";
import { resolveTarget } from "../connection.js";
import { EXIT, UsageError, type CommandIO } from "../io.js";

const HELP = `Usage: telex kubeconfig --project PROJECT [--server URL] [--token TOKEN]
                        [--certificate-authority FILE | --insecure-skip-tls-verify]
                        [-n NAMESPACE] [--kubeconfig FILE | -o -]

Writes a cluster, a user and a context, each named PROJECT, for the project's
control plane at URL/apis/resourcemanager.miloapis.com/v1alpha1/projects/PROJECT/control-plane,
into --kubeconfig FILE, else the first file of $KUBECONFIG, else ~/.kube/config.
Other entries are kept; entries named PROJECT are replaced. The current context
is set to PROJECT only when the file has none: otherwise use
\`kubectl --context PROJECT\` or \`kubectl config use-context PROJECT\`.
The file is written with mode 0600 (it holds the token).

  --token TOKEN                    the user's bearer token (kubectl sends it over https only)
  --certificate-authority FILE     PEM bundle that signs an https server's certificate,
                                   embedded in the kubeconfig
  --insecure-skip-tls-verify       do not check an https server's certificate
  -n, --namespace NAMESPACE        the context's namespace (kubectl's default: default)
  -o -                             print the kubeconfig instead of writing a file
`;

type Json = Record<string, unknown>;

/** The three entries for a project, named after it. */
export interface KubeconfigEntries {
  readonly name: string;
  readonly cluster: Json;
  readonly user: Json;
  readonly context: Json;
}

export class KubeconfigFileError extends Error {
  override readonly name = "KubeconfigFileError";
}

/** The file to write: the first of $KUBECONFIG's list (as kubectl writes new entries), else ~/.kube/config. */
export function kubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const first = (env["KUBECONFIG"] ?? "").split(delimiter).find((path) => path !== "");
  return first ?? join(homedir(), ".kube", "config");
}

function replaceOrAdd(doc: Document, section: string, entry: Json): void {
  let list = doc.get(section);
  if (list === undefined || list === null) {
    list = new YAMLSeq();
    doc.set(section, list);
  }
  if (!isSeq(list)) throw new KubeconfigFileError(`${section} is not a list`);
  const node = doc.createNode(entry);
  const at = list.items.findIndex((item) => isMap(item) && item.get("name") === entry["name"]);
  if (at >= 0) list.items[at] = node;
  else list.items.push(node);
}

/**
 * The kubeconfig text with the project's entries merged in: same-named
 * entries replaced, everything else (comments included) kept. The current
 * context is set only when there is none, so adding a project never moves
 * the kubectl commands someone runs next to another cluster.
 */
export function mergeKubeconfig(
  text: string,
  entries: KubeconfigEntries,
): { readonly text: string; readonly currentContext: string } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new KubeconfigFileError(doc.errors[0]?.message ?? "not YAML");
  if (doc.contents === null) {
    return mergeKubeconfig("apiVersion: v1\nkind: Config\npreferences: {}\n", entries);
  }
  if (!isMap(doc.contents)) throw new KubeconfigFileError("not a kubeconfig: the document is not a mapping");
  if (!doc.has("apiVersion")) doc.set("apiVersion", "v1");
  if (!doc.has("kind")) doc.set("kind", "Config");
  replaceOrAdd(doc, "clusters", { name: entries.name, cluster: entries.cluster });
  replaceOrAdd(doc, "users", { name: entries.name, user: entries.user });
  replaceOrAdd(doc, "contexts", { name: entries.name, context: entries.context });
  let current = doc.get("current-context");
  if (typeof current !== "string" || current === "") {
    current = entries.name;
    doc.set("current-context", current);
  }
  // kubectl's own layout: list items not indented under their key, no folding of long data.
  return { text: doc.toString({ indentSeq: false, lineWidth: 0 }), currentContext: current as string };
}

async function readIfThere(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return "";
    throw error;
  }
}

export async function run(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      server: { type: "string" },
      project: { type: "string" },
      token: { type: "string" },
      namespace: { type: "string", short: "n" },
      "certificate-authority": { type: "string" },
      "insecure-skip-tls-verify": { type: "boolean", default: false },
      kubeconfig: { type: "string" },
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
  if (positionals.length > 0) throw new UsageError(`unexpected arguments: ${positionals.join(" ")}`);
  if (values.output !== undefined && values.output !== "-") {
    throw new UsageError(`-o takes only "-" (print the kubeconfig), got ${JSON.stringify(values.output)}`);
  }
  if (values.output !== undefined && values.kubeconfig !== undefined) {
    throw new UsageError("give either -o - or --kubeconfig FILE");
  }
  const target = resolveTarget(values);
  const https = target.server.startsWith("https://");
  const caFile = values["certificate-authority"];
  const insecure = values["insecure-skip-tls-verify"];
  if ((caFile !== undefined || insecure) && !https) {
    throw new UsageError(
      `--certificate-authority and --insecure-skip-tls-verify are for an https server; ${target.server} is not`,
    );
  }
  // kubectl refuses the pair too: a CA that is never checked is a false assurance.
  if (caFile !== undefined && insecure) {
    throw new UsageError("give either --certificate-authority or --insecure-skip-tls-verify, not both");
  }

  let caData: string | undefined;
  if (caFile !== undefined) {
    const pem = await readIfThere(caFile);
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      io.stderr.write(`error: ${caFile}: no PEM certificate found\n`);
      return EXIT.failure;
    }
    caData = Buffer.from(pem).toString("base64");
  }
  if (target.token !== undefined && !https) {
    io.stderr.write(
      `warning: kubectl sends a bearer token over https only; ${target.server} is http, so kubectl will not authenticate\n`,
    );
  }
  const entries: KubeconfigEntries = {
    name: target.project,
    cluster: {
      server: target.url,
      ...(caData === undefined ? {} : { "certificate-authority-data": caData }),
      ...(insecure ? { "insecure-skip-tls-verify": true } : {}),
    },
    user: target.token === undefined ? {} : { token: target.token },
    context: {
      cluster: target.project,
      user: target.project,
      ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    },
  };

  if (values.output === "-") {
    io.stdout.write(mergeKubeconfig("", entries).text);
    return EXIT.ok;
  }
  const path = values.kubeconfig ?? kubeconfigPath();
  let merged;
  try {
    merged = mergeKubeconfig(await readIfThere(path), entries);
  } catch (error) {
    if (!(error instanceof KubeconfigFileError)) throw error;
    io.stderr.write(`error: ${path}: ${error.message}; nothing written\n`);
    return EXIT.failure;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // In place, as kubectl writes it (a symlinked kubeconfig stays a symlink); chmod for a file that existed.
  await writeFile(path, merged.text, { mode: 0o600 });
  await chmod(path, 0o600);
  const name = target.project;
  io.stdout.write(
    merged.currentContext === name
      ? `Context "${name}" written to ${path}; it is the current context.\n`
      : `Context "${name}" written to ${path}; the current context is still "${merged.currentContext}": use kubectl --context ${name}, or kubectl config use-context ${name}.\n`,
  );
  return EXIT.ok;
}
