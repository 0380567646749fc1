// Credentials echoed back by an endpoint, in the spellings receivers and
// proxies produce, are replaced before the text goes anywhere.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { basicAuthHeaders } from "../sink/auth.js";
import { REDACTED, authorizationSecrets, redactorFor } from "./redact.js";

const USERNAME = "1234567";
const PASSWORD = 'glc_s3cr3t/p@ss+"word" x';
const header = basicAuthHeaders({ username: USERNAME, password: PASSWORD })["Authorization"] ?? "";
const token = header.slice("Basic ".length);
const redact = redactorFor(authorizationSecrets(header));

describe("credential redaction", () => {
  it("derives the header, its token, user:password, the username and the password from Basic", () => {
    assert.deepEqual(authorizationSecrets(header), [
      header,
      token,
      `${USERNAME}:${PASSWORD}`,
      USERNAME,
      PASSWORD,
    ]);
    assert.deepEqual(authorizationSecrets("Bearer abc.def"), ["Bearer abc.def", "abc.def"]);
  });

  const echoes: [string, string][] = [
    ["the raw header", `Authorization: ${header}`],
    ["the token lower-cased", `authorization: basic ${token.toLowerCase()}`],
    ["the decoded pair", `user ${USERNAME}:${PASSWORD} refused`],
    ["the password upper-cased", `password ${PASSWORD.toUpperCase()} is wrong`],
    ["the password URL-encoded", `GET /?p=${encodeURIComponent(PASSWORD)}`],
    ["the password form-encoded", `p=${encodeURIComponent(PASSWORD).replaceAll("%20", "+")}`],
    ["the password JSON-escaped", JSON.stringify({ headers: { password: PASSWORD } })],
    ["the password HTML-escaped", `<p>glc_s3cr3t/p@ss+&quot;word&quot; x</p>`],
    ["the username alone", `unknown instance ${USERNAME}`],
  ];
  for (const [what, text] of echoes) {
    it(`removes ${what}`, () => {
      const out = redact(text);
      assert.ok(out.includes(REDACTED), out);
      for (const secret of [
        token,
        token.toLowerCase(),
        PASSWORD,
        PASSWORD.toUpperCase(),
        USERNAME,
        "s3cr3t",
      ]) {
        assert.ok(!out.includes(secret), `${what}: ${out}`);
      }
    });
  }

  it("keeps text without secrets as it was", () => {
    assert.equal(redact("out of order sample"), "out of order sample");
    assert.equal(redactorFor([])("anything"), "anything");
  });
});
