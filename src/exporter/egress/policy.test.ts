// Address normalisation (every spelling a tenant might try), CIDR parsing,
// the default denials in both tenancies, the precedence of explicit rules,
// Telex's own listeners, and what can be judged from a URL at apply time.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CidrError, cidrContains, formatCidr, formatIp, parseCidr, parseIp } from "./address.js";
import { EGRESS_DEFAULTS, EgressPolicy } from "./policy.js";

/** What an endpoint's host becomes: WHATWG URL parsing, then parseIp. */
function normalised(host: string): string | undefined {
  const ip = parseIp(new URL(`http://${host}:9090/api/v1/write`).hostname);
  return ip === undefined ? undefined : formatIp(ip);
}

const denied = (verdict: ReturnType<EgressPolicy["checkAddress"]>): string =>
  verdict.allowed ? "allowed" : verdict.message;

describe("address normalisation", () => {
  const cases: [string, string | undefined][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["0x7f.0.0.1", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["2130706433", "127.0.0.1"],
    ["2852039166", "169.254.169.254"],
    ["0xa9fea9fe", "169.254.169.254"],
    ["169.254.169.254", "169.254.169.254"],
    ["0.0.0.0", "0.0.0.0"],
    ["0", "0.0.0.0"],
    ["[::ffff:127.0.0.1]", "127.0.0.1"],
    ["[::ffff:7f00:1]", "127.0.0.1"],
    ["[0:0:0:0:0:ffff:7f00:1]", "127.0.0.1"],
    ["[::ffff:a9fe:a9fe]", "169.254.169.254"],
    ["[64:ff9b::a9fe:a9fe]", "169.254.169.254"],
    ["[64:ff9b::127.0.0.1]", "127.0.0.1"],
    ["[fd00:ec2::254]", "fd00:ec2::254"],
    ["[FD00:0EC2:0:0:0:0:0:0254]", "fd00:ec2::254"],
    ["[::1]", "::1"],
    ["[0:0:0:0:0:0:0:1]", "::1"],
    ["[::]", "::"],
    ["[fe80::1]", "fe80::1"],
    ["localhost", undefined],
    ["metadata.google.internal", undefined],
  ];
  for (const [host, expected] of cases) {
    it(`${host} → ${String(expected)}`, () => {
      assert.equal(normalised(host), expected);
    });
  }

  it("drops zone ids and brackets", () => {
    assert.equal(formatIp(parseIp("fe80::1%eth0") ?? { family: 4, bits: 0n }), "fe80::1");
    assert.equal(formatIp(parseIp("[2001:db8::1]") ?? { family: 4, bits: 0n }), "2001:db8::1");
  });

  it("compresses the longest zero run only", () => {
    assert.equal(formatIp(parseIp("2001:db8:0:0:1:0:0:1") ?? { family: 4, bits: 0n }), "2001:db8::1:0:0:1");
    assert.equal(
      formatIp(parseIp("2001:db8:1:2:3:4:5:6") ?? { family: 4, bits: 0n }),
      "2001:db8:1:2:3:4:5:6",
    );
  });
});

describe("CIDR parsing and matching", () => {
  it("reads prefixes and bare addresses of both families", () => {
    assert.equal(formatCidr(parseCidr("10.0.0.0/8")), "10.0.0.0/8");
    assert.equal(formatCidr(parseCidr("192.0.2.7")), "192.0.2.7/32");
    assert.equal(formatCidr(parseCidr("fc00::/7")), "fc00::/7");
    assert.equal(formatCidr(parseCidr("::1")), "::1/128");
    assert.equal(formatCidr(parseCidr(" 0.0.0.0/0 ")), "0.0.0.0/0");
  });

  it("turns an IPv4-mapped prefix into the IPv4 prefix it covers", () => {
    assert.equal(formatCidr(parseCidr("::ffff:10.0.0.0/104")), "10.0.0.0/8");
    assert.equal(formatCidr(parseCidr("::ffff:127.0.0.1")), "127.0.0.1/32");
  });

  it("refuses malformed prefixes with a reason", () => {
    for (const text of [
      "10.1.2.3/8",
      "abc",
      "10.0.0.0/33",
      "10.0.0.0/x",
      "::/129",
      "127.1/8",
      "",
      "::ffff:0:0/90",
    ]) {
      assert.throws(() => parseCidr(text), CidrError, text);
    }
  });

  it("matches on the prefix bits, within one family", () => {
    const private10 = parseCidr("10.0.0.0/8");
    const ip = (text: string) => parseIp(text) ?? assert.fail(text);
    assert.ok(cidrContains(private10, ip("10.255.0.1")));
    assert.ok(!cidrContains(private10, ip("11.0.0.1")));
    assert.ok(cidrContains(private10, ip("::ffff:10.1.2.3")), "a mapped address is its IPv4 address");
    assert.ok(!cidrContains(parseCidr("::/0"), ip("10.1.2.3")), "IPv6 ::/0 does not contain IPv4");
    assert.ok(cidrContains(parseCidr("fe80::/10"), ip("febf::1")));
    assert.ok(!cidrContains(parseCidr("fe80::/10"), ip("fec0::1")));
  });
});

describe("default denials", () => {
  const single = new EgressPolicy();
  const shared = new EgressPolicy({ sharedTenancy: true });

  it("deny metadata, link-local, unspecified, multicast and broadcast in every mode, naming the rule", () => {
    const cases: [string, RegExp][] = [
      [
        "169.254.169.254",
        /^169\.254\.169\.254 is a cloud metadata address \(denied; allow with --endpoint-allow\)$/,
      ],
      ["::ffff:169.254.169.254", /^169\.254\.169\.254 is a cloud metadata address/],
      ["fd00:ec2::254", /^fd00:ec2::254 is a cloud metadata address/],
      ["100.100.100.200", /cloud metadata/],
      ["168.63.129.16", /cloud metadata/],
      ["169.254.1.1", /^169\.254\.1\.1 is link-local/],
      ["fe80::1", /^fe80::1 is link-local/],
      ["0.0.0.0", /^0\.0\.0\.0 is unspecified/],
      ["::", /^:: is unspecified/],
      ["224.0.0.1", /multicast/],
      ["ff02::1", /multicast/],
      ["255.255.255.255", /broadcast/],
    ];
    for (const policy of [single, shared]) {
      for (const [address, message] of cases) assert.match(denied(policy.checkAddress(address, 80)), message);
    }
  });

  it("allow loopback and private ranges to a single-user server", () => {
    for (const address of [
      "127.0.0.1",
      "::1",
      "10.1.2.3",
      "192.168.1.1",
      "172.16.0.1",
      "100.64.0.1",
      "fd12::1",
    ]) {
      assert.equal(denied(single.checkAddress(address, 80)), "allowed", address);
    }
  });

  it("deny loopback and private ranges when strangers share the server", () => {
    const cases: [string, string][] = [
      ["127.0.0.1", "loopback"],
      ["127.1.2.3", "loopback"],
      ["::1", "loopback"],
      ["::ffff:127.0.0.1", "loopback"],
      ["10.1.2.3", "private"],
      ["172.31.255.255", "private"],
      ["192.168.0.1", "private"],
      ["100.64.0.1", "shared address space (CGNAT)"],
      ["fd12::1", "private (unique local)"],
    ];
    for (const [address, what] of cases) {
      assert.match(
        denied(shared.checkAddress(address, 80)),
        new RegExp(
          `is ${what.replace(/[()]/g, "\\$&")} \\(denied on a shared server; allow with --endpoint-allow\\)$`,
        ),
        address,
      );
    }
    assert.equal(denied(shared.checkAddress("172.32.0.1", 80)), "allowed", "just past 172.16/12");
    assert.equal(denied(shared.checkAddress("93.184.216.34", 443)), "allowed");
    assert.equal(denied(shared.checkAddress("2606:2800:220:1::1", 443)), "allowed");
  });

  it("deny metadata names before any lookup, in any case and with a trailing dot", () => {
    for (const name of EGRESS_DEFAULTS.metadataNames)
      assert.equal(single.checkName(name).allowed, false, name);
    assert.equal(denied(single.checkAddress("not-an-ip", 80)), "not-an-ip is not an IP address");
    const verdict = single.checkName("Metadata.Google.Internal.");
    assert.deepEqual(verdict, {
      allowed: false,
      message: "metadata.google.internal is a cloud metadata name (always denied)",
    });
    assert.equal(single.checkName("prometheus-prod-56-prod-us-east-2.grafana.net").allowed, true);
  });
});

describe("precedence", () => {
  it("an explicit allow reopens a default of the same or a wider prefix", () => {
    const policy = new EgressPolicy({ sharedTenancy: true, allow: ["127.0.0.0/8", "10.1.0.0/16"] });
    assert.equal(denied(policy.checkAddress("127.0.0.1", 80)), "allowed");
    assert.equal(denied(policy.checkAddress("10.1.2.3", 80)), "allowed");
    assert.match(denied(policy.checkAddress("10.2.0.1", 80)), /private/);
  });

  it("a wide allow does not reopen a narrower default: metadata must be named", () => {
    const wide = new EgressPolicy({ allow: ["0.0.0.0/0", "169.254.0.0/16"] });
    assert.equal(denied(wide.checkAddress("169.254.1.1", 80)), "allowed", "link-local reopened");
    assert.match(denied(wide.checkAddress("169.254.169.254", 80)), /cloud metadata/);
    const named = new EgressPolicy({ allow: ["169.254.169.254/32"] });
    assert.equal(denied(named.checkAddress("169.254.169.254", 80)), "allowed");
  });

  it("between explicit rules the longest prefix wins, and a deny wins a tie", () => {
    const policy = new EgressPolicy({
      allow: ["10.1.0.0/16", "192.0.2.0/24"],
      deny: ["10.0.0.0/8", "192.0.2.0/24"],
    });
    assert.equal(denied(policy.checkAddress("10.1.2.3", 80)), "allowed");
    assert.equal(
      denied(policy.checkAddress("10.2.0.1", 80)),
      "10.2.0.1 is in 10.0.0.0/8 (denied by --endpoint-deny)",
    );
    assert.equal(
      denied(policy.checkAddress("192.0.2.1", 80)),
      "192.0.2.1 is in 192.0.2.0/24 (denied by --endpoint-deny)",
    );
    assert.equal(denied(policy.checkAddress("203.0.113.1", 80)), "allowed");
  });

  it("an explicit deny applies where no default would", () => {
    const policy = new EgressPolicy({ deny: ["203.0.113.0/24", "2001:db8::/32"] });
    assert.match(denied(policy.checkAddress("203.0.113.9", 443)), /--endpoint-deny/);
    assert.match(denied(policy.checkAddress("2001:db8::5", 443)), /^2001:db8::5 is in 2001:db8::\/32/);
  });
});

describe("Telex's own sockets", () => {
  it("deny a listener's address and port, whatever is allowed", () => {
    const policy = new EgressPolicy({ sharedTenancy: true, allow: ["127.0.0.0/8", "0.0.0.0/0"] });
    policy.denyListener(["127.0.0.1"], 6443, "Telex's API listener");
    assert.equal(
      denied(policy.checkAddress("127.0.0.1", 6443)),
      "127.0.0.1:6443 is Telex's API listener (always denied)",
    );
    assert.match(denied(policy.checkAddress("::ffff:127.0.0.1", 6443)), /API listener/);
    assert.equal(denied(policy.checkAddress("127.0.0.1", 6444)), "allowed", "another port");
    assert.equal(denied(policy.checkAddress("127.0.0.2", 6443)), "allowed", "another address");
  });

  it("deny every local address on a wildcard listener's port", () => {
    const policy = new EgressPolicy({ localAddresses: () => ["10.9.8.7", "fe80::1234", "2001:db8::7"] });
    policy.denyListener(["0.0.0.0"], 19291, "Telex's ingest listener");
    policy.denyListener(["::"], 9000, "Telex's API listener");
    for (const address of ["10.9.8.7", "127.0.0.1", "127.0.0.53", "::1"]) {
      assert.match(denied(policy.checkAddress(address, 19291)), /ingest listener/, address);
    }
    assert.match(
      denied(policy.checkAddress("2001:db8::7", 9000)),
      /^\[2001:db8::7\]:9000 is Telex's API listener/,
    );
    assert.equal(denied(policy.checkAddress("10.9.8.6", 19291)), "allowed", "not a local address");
    assert.equal(denied(policy.checkAddress("10.9.8.7", 19292)), "allowed", "another port");
  });

  it("deny a remote peer's whole host, a loopback peer only at its port", () => {
    const policy = new EgressPolicy();
    policy.denyPeer(["10.0.0.9"], 8481, "the metrics store Telex reads (--source-url)");
    policy.denyPeer(["127.0.0.1"], 8428, "the metrics store Telex reads (--source-url)");
    assert.equal(
      denied(policy.checkAddress("10.0.0.9", 8480)),
      "10.0.0.9 is the metrics store Telex reads (--source-url) (always denied)",
    );
    assert.match(denied(policy.checkAddress("127.0.0.1", 8428)), /^127\.0\.0\.1:8428 is the metrics store/);
    assert.equal(denied(policy.checkAddress("127.0.0.1", 8429)), "allowed");
  });
});

describe("judging an endpoint URL without a lookup", () => {
  const policy = new EgressPolicy({ sharedTenancy: true });
  policy.denyListener(["127.0.0.1"], 6443, "Telex's API listener");

  it("judges IP literals in any spelling and metadata names", () => {
    const cases: [string, RegExp][] = [
      ["http://169.254.169.254/latest/meta-data", /^169\.254\.169\.254 is a cloud metadata address/],
      ["http://2852039166/api/v1/write", /^169\.254\.169\.254 is a cloud metadata address/],
      ["http://[::ffff:a9fe:a9fe]/", /^169\.254\.169\.254 is a cloud metadata address/],
      ["http://[fd00:ec2::254]/", /^fd00:ec2::254 is a cloud metadata address/],
      ["http://metadata.google.internal/computeMetadata/v1/", /cloud metadata name/],
      ["http://127.1:8428/api/v1/admin/tsdb/delete_series", /^127\.0\.0\.1 is loopback/],
      ["https://127.0.0.1:6443/api", /^127\.0\.0\.1:6443 is Telex's API listener/],
      ["http://0.0.0.0:8428/", /unspecified/],
    ];
    for (const [url, message] of cases) assert.match(policy.judgeEndpoint(url) ?? "allowed", message, url);
  });

  it("leaves names that need a lookup, and allowed addresses, to connect time", () => {
    assert.equal(policy.judgeEndpoint("http://localhost:8428/api/v1/write"), undefined);
    assert.equal(
      policy.judgeEndpoint("https://prometheus-prod-56-prod-us-east-2.grafana.net/api/prom/push"),
      undefined,
    );
    assert.equal(policy.judgeEndpoint("https://93.184.216.34/api/v1/write"), undefined);
    assert.equal(policy.judgeEndpoint("not a url"), undefined);
  });
});
