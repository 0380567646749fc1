// Which certificate authorities HTTPS sinks trust: Node's bundled Mozilla
// roots plus the system's bundle, so a CA an operator added with
// update-ca-certificates (or named in SSL_CERT_FILE, as OpenSSL and Go
// honour it) works without flags. Read once per process.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";

/** Where common Linux distributions keep the system bundle. */
const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL
  "/etc/ssl/cert.pem", // macOS, BSD
];

function readFirst(paths: readonly string[]): string | undefined {
  for (const path of paths) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      // Not on this system; try the next place.
    }
  }
  return undefined;
}

/** The CA list for TLS connections: bundled roots plus SSL_CERT_FILE or the system bundle. */
export function trustedCertificates(env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = env["SSL_CERT_FILE"];
  const bundle =
    explicit !== undefined && explicit !== "" ? readFirst([explicit]) : readFirst(SYSTEM_BUNDLES);
  return bundle === undefined ? [...rootCertificates] : [...rootCertificates, bundle];
}

let cached: string[] | undefined;

export function processTrustedCertificates(): string[] {
  cached ??= trustedCertificates();
  return cached;
}
