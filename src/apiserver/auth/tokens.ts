// The tokens file (`--tokens-file`): who may use which projects, and how.
//
//   tokens:
//     - token: "s3cr3t-admin"       # the bearer token, at least 16 characters
//       user: alice                 # the name shown in messages and access reviews
//       projects: [test-rdzjb8]     # project names, or ["*"] for every project
//       role: admin                 # admin | viewer
//
// Tokens are kept only as SHA-256 digests, looked up in constant time per entry.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

export type Role = "viewer" | "admin";

export interface Principal {
  readonly user: string;
  /** "*" grants every project and the cross-project view. */
  readonly projects: "*" | ReadonlySet<string>;
  readonly role: Role;
}

export const MIN_TOKEN_LENGTH = 16;

export class TokensFileError extends Error {
  override readonly name = "TokensFileError";
}

const digest = (token: string): string => createHash("sha256").update(token).digest("hex");

export class TokenTable {
  #byDigest: ReadonlyMap<string, Principal>;

  constructor(entries: readonly { readonly token: string; readonly principal: Principal }[]) {
    this.#byDigest = new Map(entries.map((e) => [digest(e.token), e.principal]));
  }

  get size(): number {
    return this.#byDigest.size;
  }

  /** A table that also knows this token (e.g. the in-process controller's own). */
  with(token: string, principal: Principal): TokenTable {
    const table = new TokenTable([]);
    table.#byDigest = new Map([...this.#byDigest, [digest(token), principal]]);
    return table;
  }

  /** The projects the file names, which exist from the start. */
  namedProjects(): string[] {
    return [
      ...new Set([...this.#byDigest.values()].flatMap((p) => (p.projects === "*" ? [] : [...p.projects]))),
    ];
  }

  /** The principal of an `Authorization: Bearer <token>` header, if the token is known. */
  authenticate(authorization: string | undefined): Principal | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    const token = match?.[1];
    return token === undefined ? undefined : this.#byDigest.get(digest(token));
  }
}

export function parseTokensFile(text: string, source = "tokens file"): TokenTable {
  let document: unknown;
  try {
    document = parse(text, { uniqueKeys: true });
  } catch (error: unknown) {
    throw new TokensFileError(`${source}: not valid YAML or JSON: ${(error as Error).message}`);
  }
  const tokens = isRecord(document) ? document["tokens"] : undefined;
  if (!Array.isArray(tokens)) throw new TokensFileError(`${source}: expected a top-level "tokens" list`);
  const seen = new Set<string>();
  const entries = tokens.map((entry: unknown, i) => {
    const where = `${source}: tokens[${i}]`;
    if (!isRecord(entry)) throw new TokensFileError(`${where}: must be an object`);
    const unknown = Object.keys(entry).filter((k) => !["token", "user", "projects", "role"].includes(k));
    if (unknown.length > 0)
      throw new TokensFileError(`${where}: unknown field ${JSON.stringify(unknown[0])}`);
    const { token, user, projects, role } = entry;
    if (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH) {
      throw new TokensFileError(
        `${where}.token: must be a string of at least ${MIN_TOKEN_LENGTH} characters`,
      );
    }
    if (/\s/.test(token)) throw new TokensFileError(`${where}.token: must not contain whitespace`);
    if (seen.has(token)) throw new TokensFileError(`${where}.token: duplicate token`);
    seen.add(token);
    if (typeof user !== "string" || user === "")
      throw new TokensFileError(`${where}.user: must be a non-empty string`);
    if (role !== "viewer" && role !== "admin")
      throw new TokensFileError(`${where}.role: must be viewer or admin`);
    if (
      !Array.isArray(projects) ||
      projects.length === 0 ||
      !projects.every((p) => typeof p === "string" && p !== "")
    ) {
      throw new TokensFileError(`${where}.projects: must be a non-empty list of project names (or ["*"])`);
    }
    const names = projects as string[];
    const principal: Principal = { user, role, projects: names.includes("*") ? "*" : new Set(names) };
    return { token, principal };
  });
  return new TokenTable(entries);
}

export function loadTokensFile(path: string): TokenTable {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error: unknown) {
    throw new TokensFileError(`cannot read tokens file ${path}: ${(error as Error).message}`);
  }
  return parseTokensFile(text, path);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
