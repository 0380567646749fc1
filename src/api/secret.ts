// core/v1 Secret, as far as Telex uses it: basic-auth credentials for sinks.
import { Type, type Static } from "typebox";
import { ObjectMetaSchema, stringMap } from "./objectmeta.js";

export { SECRET_API_VERSION, SECRET_KIND } from "./resource-names.js";
export const BASIC_AUTH_SECRET_TYPE = "kubernetes.io/basic-auth";
export const BASIC_AUTH_USERNAME_KEY = "username";
export const BASIC_AUTH_PASSWORD_KEY = "password";

export const SecretSchema = Type.Object(
  {
    apiVersion: Type.String({ description: "APIVersion of a Secret: v1." }),
    kind: Type.String({ description: "Kind of the object: Secret." }),
    metadata: ObjectMetaSchema,
    type: Type.Optional(
      Type.String({
        description:
          "Used to facilitate programmatic handling of secret data. Sinks accept kubernetes.io/basic-auth Secrets, with keys username and password.",
        default: "Opaque",
      }),
    ),
    data: Type.Optional(
      stringMap(
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values are base64 encoded.",
      ),
    ),
    stringData: Type.Optional(
      stringMap(
        "stringData allows specifying non-binary secret data in string form. It is a write-only input field: on write its entries are merged into data, overwriting existing keys, and it is never output when reading from the API.",
      ),
    ),
    immutable: Type.Optional(
      Type.Boolean({
        description: "If set to true, ensures that data stored in the Secret cannot be updated.",
      }),
    ),
  },
  {
    description: "Secret holds secret data of a certain type.",
    additionalProperties: false,
  },
);

export type Secret = Static<typeof SecretSchema>;

export interface BasicAuthCredentials {
  readonly username: string;
  readonly password: string;
}

/** Why a Secret cannot serve as basic-auth credentials, as a CamelCase reason plus message. */
export interface SecretProblem {
  readonly reason: "SecretInvalid";
  readonly message: string;
}

const SECRET_KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;

export function isValidSecretKey(key: string): boolean {
  return key.length <= 253 && SECRET_KEY_PATTERN.test(key) && key !== "." && key !== "..";
}

/** Strict RFC 4648 base64 (with padding), as the Kubernetes API requires for `data`. */
export function decodeBase64Strict(value: string): Buffer | undefined {
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return undefined;
  return Buffer.from(value, "base64");
}

/** The Secret's entries merged as the API server stores them: stringData wins over data. */
export function secretEntries(secret: Pick<Secret, "data" | "stringData">): Map<string, string> {
  const entries = new Map<string, string>();
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    const decoded = decodeBase64Strict(value);
    if (decoded !== undefined) entries.set(key, decoded.toString("utf8"));
  }
  for (const [key, value] of Object.entries(secret.stringData ?? {})) entries.set(key, value);
  return entries;
}

/**
 * Reads basic-auth credentials from a Secret. Messages name keys and types,
 * never values: they end up in status conditions and events.
 */
export function basicAuthCredentials(
  secret: Pick<Secret, "type" | "data" | "stringData">,
): BasicAuthCredentials | SecretProblem {
  if (secret.type !== BASIC_AUTH_SECRET_TYPE) {
    return {
      reason: "SecretInvalid",
      message: `secret type is ${JSON.stringify(secret.type ?? "Opaque")}, want ${JSON.stringify(BASIC_AUTH_SECRET_TYPE)}`,
    };
  }
  const entries = secretEntries(secret);
  const missing = [BASIC_AUTH_USERNAME_KEY, BASIC_AUTH_PASSWORD_KEY].filter((key) => !entries.has(key));
  if (missing.length > 0) {
    return { reason: "SecretInvalid", message: `secret has no ${missing.join(" or ")} key` };
  }
  const username = entries.get(BASIC_AUTH_USERNAME_KEY) ?? "";
  const password = entries.get(BASIC_AUTH_PASSWORD_KEY) ?? "";
  // RFC 7617: the user-id cannot contain a colon, it would split differently.
  if (username.includes(":")) return { reason: "SecretInvalid", message: "username contains ':'" };
  return { username, password };
}

/**
 * The command that creates a basic-auth Secret (`telex create secret
 * basic-auth`), for messages that say how to fix a missing one. `-n` only
 * outside the CLI's default namespace.
 */
export function createBasicAuthSecretCommand(name: string, namespace = "default"): string {
  const where = namespace === "default" ? "" : ` -n ${namespace}`;
  return `telex create secret basic-auth ${name} --username USER --password PASSWORD${where}`;
}
