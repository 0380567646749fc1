// Kubernetes' protobuf request bodies, for the kinds kubectl sends that way:
// its typed clients (`create secret`, `create configmap`, `create namespace`, `auth can-i`, `auth whoami`)
// encode built-in objects as `application/vnd.kubernetes.protobuf`. Only
// decoding is needed: those clients accept JSON responses. Field numbers are
// those of the k8s.io/api generated.proto files.
import type { JsonObject } from "../store/index.js";
import { errors } from "./status.js";

export const PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf";

/** `k8s\0`: the envelope's magic prefix. */
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Field =
  | { readonly number: number; readonly wire: 0; readonly value: number }
  | { readonly number: number; readonly wire: 2; readonly bytes: Buffer };

function readVarint(buffer: Buffer, at: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buffer.length && i < at + 10; i++) {
    const byte = buffer[i] ?? 0;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  throw errors.badRequest("malformed protobuf body: truncated varint");
}

function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < buffer.length) {
    const tag = readVarint(buffer, at);
    at = tag.next;
    const number = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (wire === 0) {
      const v = readVarint(buffer, at);
      at = v.next;
      out.push({ number, wire: 0, value: v.value });
    } else if (wire === 2) {
      const length = readVarint(buffer, at);
      at = length.next;
      if (at + length.value > buffer.length)
        throw errors.badRequest("malformed protobuf body: truncated field");
      out.push({ number, wire: 2, bytes: buffer.subarray(at, at + length.value) });
      at += length.value;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
    } else {
      throw errors.badRequest(`malformed protobuf body: unsupported wire type ${wire}`);
    }
  }
  return out;
}

const bytesOf = (list: Field[], n: number): Buffer[] =>
  list.filter((f): f is Extract<Field, { wire: 2 }> => f.number === n && f.wire === 2).map((f) => f.bytes);
/** Go's encoder writes empty strings too; an empty string means unset. */
const stringOf = (list: Field[], n: number): string | undefined => {
  const text = bytesOf(list, n)[0]?.toString("utf8");
  return text === "" ? undefined : text;
};
const varintOf = (list: Field[], n: number): number | undefined =>
  list.find((f): f is Extract<Field, { wire: 0 }> => f.number === n && f.wire === 0)?.value;

function map(list: Field[], n: number, value: (b: Buffer) => string): Record<string, string> | undefined {
  const entries = bytesOf(list, n);
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map((entry) => {
      const kv = fields(entry);
      return [stringOf(kv, 1) ?? "", value(bytesOf(kv, 2)[0] ?? Buffer.alloc(0))];
    }),
  );
}

function set(out: JsonObject, key: string, value: unknown): void {
  if (value !== undefined) out[key] = value;
}

function objectMeta(buffer: Buffer | undefined): JsonObject {
  if (buffer === undefined) return {};
  const f = fields(buffer);
  const meta: JsonObject = {};
  set(meta, "name", stringOf(f, 1));
  set(meta, "generateName", stringOf(f, 2));
  set(meta, "namespace", stringOf(f, 3));
  set(meta, "resourceVersion", stringOf(f, 6));
  set(
    meta,
    "labels",
    map(f, 11, (b) => b.toString("utf8")),
  );
  set(
    meta,
    "annotations",
    map(f, 12, (b) => b.toString("utf8")),
  );
  const finalizers = bytesOf(f, 14).map((b) => b.toString("utf8"));
  if (finalizers.length > 0) meta["finalizers"] = finalizers;
  return meta;
}

function secret(buffer: Buffer): JsonObject {
  const f = fields(buffer);
  const out: JsonObject = { apiVersion: "v1", kind: "Secret", metadata: objectMeta(bytesOf(f, 1)[0]) };
  set(
    out,
    "data",
    map(f, 2, (b) => b.toString("base64")),
  );
  set(out, "type", stringOf(f, 3));
  set(
    out,
    "stringData",
    map(f, 4, (b) => b.toString("utf8")),
  );
  const immutable = varintOf(f, 5);
  if (immutable !== undefined) out["immutable"] = immutable !== 0;
  return out;
}

/** `kubectl create configmap` sends this (platform plane). */
function configMap(buffer: Buffer): JsonObject {
  const f = fields(buffer);
  const out: JsonObject = { apiVersion: "v1", kind: "ConfigMap", metadata: objectMeta(bytesOf(f, 1)[0]) };
  set(
    out,
    "data",
    map(f, 2, (b) => b.toString("utf8")),
  );
  set(
    out,
    "binaryData",
    map(f, 3, (b) => b.toString("base64")),
  );
  const immutable = varintOf(f, 4);
  if (immutable !== undefined) out["immutable"] = immutable !== 0;
  return out;
}

function namespace(buffer: Buffer): JsonObject {
  const f = fields(buffer);
  return { apiVersion: "v1", kind: "Namespace", metadata: objectMeta(bytesOf(f, 1)[0]) };
}

function strings(buffer: Buffer | undefined, names: readonly string[]): JsonObject | undefined {
  if (buffer === undefined) return undefined;
  const f = fields(buffer);
  const out: JsonObject = {};
  names.forEach((name, i) => {
    set(out, name, stringOf(f, i + 1));
  });
  return out;
}

function selfSubjectAccessReview(buffer: Buffer): JsonObject {
  const f = fields(buffer);
  const spec = fields(bytesOf(f, 2)[0] ?? Buffer.alloc(0));
  const out: JsonObject = {};
  set(
    out,
    "resourceAttributes",
    strings(bytesOf(spec, 1)[0], [
      "namespace",
      "verb",
      "group",
      "version",
      "resource",
      "subresource",
      "name",
    ]),
  );
  set(out, "nonResourceAttributes", strings(bytesOf(spec, 2)[0], ["path", "verb"]));
  return { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", metadata: {}, spec: out };
}

function selfSubjectRulesReview(buffer: Buffer): JsonObject {
  const f = fields(buffer);
  const spec = strings(bytesOf(f, 2)[0], ["namespace"]) ?? {};
  return { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", metadata: {}, spec };
}

/** `kubectl auth whoami`: a review has no spec, only metadata; the fields are checked to be well-formed. */
function selfSubjectReview(buffer: Buffer): JsonObject {
  fields(buffer);
  return { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview", metadata: {} };
}

const DECODERS: Readonly<Record<string, (raw: Buffer) => JsonObject>> = {
  "authentication.k8s.io/v1/SelfSubjectReview": selfSubjectReview,
  "authorization.k8s.io/v1/SelfSubjectRulesReview": selfSubjectRulesReview,
  "v1/Secret": secret,
  "v1/ConfigMap": configMap,
  "v1/Namespace": namespace,
  "authorization.k8s.io/v1/SelfSubjectAccessReview": selfSubjectAccessReview,
};

/** Decodes a protobuf body to the JSON object it encodes; 415 for kinds we do not decode. */
export function decodeProtobuf(body: Buffer): JsonObject {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw errors.badRequest("malformed protobuf body: missing the k8s envelope");
  }
  const envelope = fields(body.subarray(MAGIC.length));
  const typeMeta = fields(bytesOf(envelope, 1)[0] ?? Buffer.alloc(0));
  const apiVersion = stringOf(typeMeta, 1) ?? "";
  const kind = stringOf(typeMeta, 2) ?? "";
  const decoder = DECODERS[`${apiVersion}/${kind}`];
  if (decoder === undefined) {
    throw errors.unsupportedMediaType(`${PROTOBUF_MEDIA_TYPE} (${apiVersion} ${kind})`, [
      "application/json",
      "application/yaml",
    ]);
  }
  return decoder(bytesOf(envelope, 2)[0] ?? Buffer.alloc(0));
}
