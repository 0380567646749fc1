// Request authentication for a sink, applied as headers around the sender.
// The header value is built once per configuration; it is never logged.

export interface BasicAuth {
  readonly username: string;
  readonly password: string;
}

/** RFC 7617 Basic credentials, UTF-8 encoded. */
export function basicAuthHeaders(credentials: BasicAuth | undefined): Record<string, string> {
  if (credentials === undefined) return {};
  const token = Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64");
  return { Authorization: `Basic ${token}` };
}
