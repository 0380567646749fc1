// What to change, for the failures a sink test meets most: one sentence each,
// addressed to the person who wrote the policy (who cannot change the
// server's flags), naming the operator where only the operator can help.
import type { PeerCertificate } from "node:tls";

/** The Remote Write paths of the common receivers, for a 404, 405 or "unsupported path". */
export const REMOTE_WRITE_PATHS =
  "Remote Write receivers listen at /api/v1/write (Prometheus started with --web.enable-remote-write-receiver, " +
  "VictoriaMetrics single-node, vmagent), /insert/0/prometheus/api/v1/write (VictoriaMetrics cluster's vminsert, " +
  "0 being the tenant) and /api/v1/push (Mimir, Cortex)";

export const EGRESS_FIX =
  "this server does not connect tenants' sinks to that address (egress policy): use the endpoint's public " +
  "address or name; only the platform's operator can allow others (--endpoint-allow)";

const TRUST =
  "Telex trusts the public CAs bundled with Node.js and the server's system bundle " +
  "(/etc/ssl/certs/ca-certificates.crt, or the file named by SSL_CERT_FILE); a sink has no CA setting of its own. " +
  "Serve a certificate from a public CA (e.g. Let's Encrypt), or ask the platform's operator to add your CA to the server's bundle";

export function dnsFailure(host: string, code: string): { message: string; fix: string } {
  switch (code) {
    case "ENOTFOUND":
    case "ENODATA":
      return {
        message: `${host} does not resolve: no such host (${code})`,
        fix: "check the host name in the endpoint; it must resolve in public DNS, as the Telex server sees it",
      };
    case "EAI_AGAIN":
      return {
        message: `${host}: the lookup failed for now (EAI_AGAIN)`,
        fix: "try again; if it persists, the name's DNS servers do not answer",
      };
    case "ETIMEDOUT":
      return {
        message: `${host}: no answer from DNS in time`,
        fix: "try again; if it persists, the name's DNS servers do not answer",
      };
    default:
      return { message: `${host}: lookup failed (${code})`, fix: "check the host name in the endpoint" };
  }
}

const TCP_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ETIMEDOUT: "no answer in time",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset",
};

export function tcpError(code: string): string {
  const text = TCP_ERRORS[code];
  return text === undefined ? code : `${text} (${code})`;
}

export function tcpFix(code: string, hostPort: string): string {
  switch (code) {
    case "ECONNREFUSED":
      return `nothing listens at ${hostPort}: check the port in the endpoint and that the receiver is running`;
    case "ETIMEDOUT":
      return `${hostPort} does not answer: a firewall drops the connection (allow the Telex server's egress addresses), or the host is down`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `the Telex server has no route to ${hostPort}: the endpoint must be reachable from the internet`;
    default:
      return `check that ${hostPort} accepts connections from the Telex server`;
  }
}

/** "CN=x, O=y" of a certificate's subject or issuer. */
export function distinguishedName(name: PeerCertificate["subject"] | undefined): string {
  if (name === undefined) return "(none)";
  const parts = Object.entries(name).map(([key, value]) => `${key}=${String(value)}`);
  return parts.length === 0 ? "(empty)" : parts.join(", ");
}

/** Why a certificate was not accepted, and what to do about it, by OpenSSL's (or Node's) code. */
export function untrustedCertificate(
  code: string,
  host: string,
  cert: PeerCertificate | undefined,
): { reason: string; fix: string } {
  switch (code) {
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
      return { reason: "it is self-signed", fix: `the certificate is not trusted. ${TRUST}` };
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "UNABLE_TO_GET_ISSUER_CERT":
      return {
        reason: "it is issued by a CA this server does not trust",
        fix: `the certificate is not trusted. ${TRUST}`,
      };
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
      return {
        reason: "its chain cannot be verified",
        fix: `have the receiver (or the proxy in front of it) send its intermediate certificates along with its own; if its CA is private: ${TRUST}`,
      };
    case "CERT_HAS_EXPIRED":
      return {
        reason: `it expired on ${cert?.valid_to ?? "an earlier date"}`,
        fix: "renew the receiver's certificate",
      };
    case "CERT_NOT_YET_VALID":
      return {
        reason: `it is not valid before ${cert?.valid_from ?? "a later date"}`,
        fix: "check the certificate's dates (and the receiver's clock)",
      };
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return {
        reason: `it is for ${cert?.subjectaltname ?? distinguishedName(cert?.subject)}, not ${host}`,
        fix: `use a host name the certificate names in the endpoint, or a certificate for ${host}`,
      };
    default:
      return { reason: code, fix: `the certificate is not accepted. ${TRUST}` };
  }
}

/** A handshake that failed before any certificate was seen. */
export function handshakeFix(code: string, hostPort: string): string {
  if (code.includes("WRONG_VERSION_NUMBER") || code.includes("PACKET_LENGTH_TOO_LONG") || code === "EPROTO") {
    return `${hostPort} does not speak TLS: if the receiver serves plain HTTP there, use an http:// endpoint`;
  }
  return `the TLS handshake with ${hostPort} failed: check that it serves HTTPS (TLS 1.2 or later) there`;
}

/** The fix for an answer other than 2xx; `secret` is `namespace/name` of the credentials sent, if any. */
export function httpFix(
  status: number,
  body: string,
  secret: string | undefined,
  location: string | undefined,
): string | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status >= 300 && status < 400) {
    return location === undefined
      ? "the endpoint redirects, and sinks do not follow redirects: use the receiver's own URL"
      : `the endpoint redirects to ${location}, and sinks do not follow redirects: if that is the receiver, make it the endpoint`;
  }
  if (status === 401 || status === 403) {
    return secret === undefined
      ? "no credentials were sent: the sink has no authentication.basicAuth.secretRef. Create a Secret " +
          "with `telex create secret basic-auth NAME --username USER --password PASSWORD` and name it in the " +
          "sink's target.prometheusRemoteWrite.authentication.basicAuth.secretRef.name"
      : `the endpoint refused the credentials of Secret ${secret}: check its username and password` +
          (status === 403 ? ", and that this user may write" : "");
  }
  if (/remote.?write receiver needs to be enabled/i.test(body)) {
    return "start Prometheus with --web.enable-remote-write-receiver (or send to a receiver that has it on)";
  }
  if (status === 404 || status === 405 || /unsupported path/i.test(body)) {
    return `wrong path? ${REMOTE_WRITE_PATHS}`;
  }
  if (status === 415)
    return `the endpoint does not take Remote Write (snappy protobuf) here: ${REMOTE_WRITE_PATHS}`;
  if (status === 400 || status === 422) {
    return "the endpoint refused an empty WriteRequest, which Prometheus and VictoriaMetrics accept: read its answer above; is this a Remote Write receiver?";
  }
  if (status === 429)
    return "the endpoint throttles: a sink retries (after its Retry-After); try again later";
  if (status >= 500) return "the receiver failed: a sink retries 5xx; see the receiver's logs";
  return "the endpoint refused the request: read its answer above";
}
