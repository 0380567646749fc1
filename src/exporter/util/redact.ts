// Removes a request's credentials from text an endpoint sent back. Receivers
// (or proxies in front of them) sometimes echo request headers in an error
// body; that body becomes status, Events, /delivery and logs, all readable
// by people who must not see the Secret. The sender knows what it sent, so it
// redacts once, at the boundary, before the text goes anywhere.

export const REDACTED = "[REDACTED]";

/**
 * The secret parts of an Authorization header value: the value itself, its
 * token, and for Basic the decoded `user:password`, the username and the
 * password.
 */
export function authorizationSecrets(value: string): string[] {
  const secrets = [value];
  const space = value.indexOf(" ");
  if (space === -1) return secrets;
  const token = value.slice(space + 1).trim();
  secrets.push(token);
  if (value.slice(0, space).toLowerCase() === "basic") {
    const decoded = Buffer.from(token, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    secrets.push(decoded);
    if (colon !== -1) secrets.push(decoded.slice(0, colon), decoded.slice(colon + 1));
  }
  return secrets;
}

/** The spellings a secret may come back in: as sent, URL-encoded (both forms), JSON- and HTML-escaped. */
function spellings(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const html = secret
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
  const uri = encodeURIComponent(secret);
  return [secret, json, html, uri, uri.replaceAll("%20", "+"), json.replaceAll("/", "\\/")];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export type Redactor = (text: string) => string;

export const noRedaction: Redactor = (text) => text;

/**
 * Replaces every spelling of every secret with [REDACTED], ignoring case (a
 * receiver may lower-case what it echoes; a lower-cased token still gives
 * most of it away). Longer secrets first, so `user:password` goes as one.
 */
export function redactorFor(secrets: readonly string[]): Redactor {
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    for (const spelling of spellings(secret)) variants.add(spelling);
  }
  if (variants.size === 0) return noRedaction;
  const pattern = new RegExp(
    [...variants]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join("|"),
    "gi",
  );
  return (text) => text.replace(pattern, REDACTED);
}
