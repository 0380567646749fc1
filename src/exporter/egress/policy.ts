// Which addresses a sink may connect to. Tenants choose their endpoints, so
// without a policy a sink is a POST-and-read primitive into the platform's
// own network: its metadata service, its internal stores, Telex itself.
//
// A verdict is taken for the address actually connected to (connector.ts),
// never for the name in the URL alone, so DNS names and rebinding cannot
// bypass it. Precedence, first match wins:
//   1. Telex's own listeners and the store it pulls from: always denied.
//   2. Cloud metadata host names: always denied.
//   3. Address rules — defaults, --endpoint-allow, --endpoint-deny — the
//      longest matching prefix wins; on equal length an explicit deny beats an
//      explicit allow, which beats a default. So `--endpoint-allow 10.0.0.0/8`
//      reopens the private range but `--endpoint-allow 0.0.0.0/0` does not
//      reopen 169.254.169.254 (a /32 default): only naming it does.
//   4. Anything else is allowed.
import { networkInterfaces } from "node:os";
import {
  cidrContains,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  type Cidr,
  type IpAddress,
} from "./address.js";

interface DefaultRule {
  readonly cidr: string;
  /** Completes "<address> is …". */
  readonly is: string;
}

/** The default denials, each with its reason. */
export const EGRESS_DEFAULTS = {
  /** Denied in every mode: no Remote Write receiver lives there, and what does live there is dangerous. */
  always: [
    // Instance metadata hands out cloud credentials. Listed one by one (not
    // only as part of link-local) so that allowing a wider range never
    // reopens them; Azure's WireServer (168.63.129.16) is a public address
    // that serves VM agent configuration and certificates, so it is denied too.
    { cidr: "169.254.169.254/32", is: "a cloud metadata address" },
    { cidr: "169.254.170.2/32", is: "a cloud metadata address" },
    { cidr: "169.254.170.23/32", is: "a cloud metadata address" },
    { cidr: "fd00:ec2::254/128", is: "a cloud metadata address" },
    { cidr: "fd00:ec2::23/128", is: "a cloud metadata address" },
    { cidr: "100.100.100.200/32", is: "a cloud metadata address" },
    { cidr: "168.63.129.16/32", is: "a cloud metadata address" },
    { cidr: "169.254.0.0/16", is: "link-local" },
    { cidr: "fe80::/10", is: "link-local" },
    // Connecting to "this network" or :: reaches the local host.
    { cidr: "0.0.0.0/8", is: "unspecified" },
    { cidr: "::/128", is: "unspecified" },
    { cidr: "224.0.0.0/4", is: "multicast" },
    { cidr: "ff00::/8", is: "multicast" },
    { cidr: "255.255.255.255/32", is: "broadcast" },
  ],
  /**
   * Also denied when strangers share the server (a tokens file, or cluster
   * mode): the platform's internal network is not theirs to reach. A
   * single-user server keeps them, so a local receiver works out of the box.
   */
  shared: [
    { cidr: "127.0.0.0/8", is: "loopback" },
    { cidr: "::1/128", is: "loopback" },
    { cidr: "10.0.0.0/8", is: "private" },
    { cidr: "172.16.0.0/12", is: "private" },
    { cidr: "192.168.0.0/16", is: "private" },
    { cidr: "100.64.0.0/10", is: "shared address space (CGNAT)" },
    { cidr: "fc00::/7", is: "private (unique local)" },
  ],
  /** Names of metadata services (GCP, AWS, Tencent), denied before any lookup. */
  metadataNames: [
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",
  ],
} as const satisfies {
  readonly always: readonly DefaultRule[];
  readonly shared: readonly DefaultRule[];
  readonly metadataNames: readonly string[];
};

export interface EgressPolicyOptions {
  /** CIDRs or addresses from --endpoint-allow. */
  readonly allow?: readonly string[];
  /** CIDRs or addresses from --endpoint-deny. */
  readonly deny?: readonly string[];
  /** Strangers share this server: loopback and private ranges are denied by default too. */
  readonly sharedTenancy?: boolean;
  /** This host's interface addresses (a wildcard listener answers on each); injectable for tests. */
  readonly localAddresses?: () => readonly string[];
}

export type EgressVerdict =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Names the address and the rule, e.g. "169.254.169.254 is link-local (…)". */
      readonly message: string;
    };

type RuleOrigin = "deny" | "allow" | "default";

interface AddressRule {
  readonly cidr: Cidr;
  readonly origin: RuleOrigin;
  readonly explain: (address: string) => string;
}

/** A socket of Telex's own, or the store it pulls from; `port` undefined: every port. */
interface SelfRule {
  /** "local": a wildcard listener, reachable on every local address. */
  readonly address: IpAddress | "local";
  readonly port: number | undefined;
  readonly what: string;
}

/** On equal prefix length: an explicit deny, then an explicit allow, then a default. */
const ORIGIN_RANK: Readonly<Record<RuleOrigin, number>> = { deny: 2, allow: 1, default: 0 };

const LOOPBACK = [parseCidr("127.0.0.0/8"), parseCidr("::1/128")];
const UNSPECIFIED = [parseCidr("0.0.0.0/32"), parseCidr("::/128")];

export class EgressPolicy {
  private readonly rules: AddressRule[] = [];
  private readonly self: SelfRule[] = [];
  private readonly metadataNames = new Set<string>(EGRESS_DEFAULTS.metadataNames);
  private readonly localAddresses: () => readonly string[];

  /** Throws CidrError for a malformed --endpoint-allow or --endpoint-deny value. */
  constructor(options: EgressPolicyOptions = {}) {
    this.localAddresses = options.localAddresses ?? interfaceAddresses;
    const defaults = (list: readonly DefaultRule[], note: string) => {
      for (const rule of list) {
        this.rules.push({
          cidr: parseCidr(rule.cidr),
          origin: "default",
          explain: (address) => `${address} is ${rule.is} (${note}; allow with --endpoint-allow)`,
        });
      }
    };
    defaults(EGRESS_DEFAULTS.always, "denied");
    if (options.sharedTenancy === true) defaults(EGRESS_DEFAULTS.shared, "denied on a shared server");
    for (const text of options.deny ?? []) {
      const cidr = parseCidr(text);
      this.rules.push({
        cidr,
        origin: "deny",
        explain: (address) => `${address} is in ${formatCidr(cidr)} (denied by --endpoint-deny)`,
      });
    }
    for (const text of options.allow ?? []) {
      this.rules.push({ cidr: parseCidr(text), origin: "allow", explain: () => "" });
    }
  }

  /**
   * Denies a listener of Telex's own at its address and port; a wildcard
   * address (0.0.0.0, ::) stands for every local address. `addresses` are
   * the listener's resolved addresses.
   */
  denyListener(addresses: readonly string[], port: number, what: string): void {
    for (const text of addresses) {
      const ip = parseIp(text);
      if (ip === undefined) continue;
      const wildcard = UNSPECIFIED.some((cidr) => cidrContains(cidr, ip));
      this.self.push({ address: wildcard ? "local" : ip, port, what });
    }
  }

  /**
   * Denies a service Telex itself uses (the store it pulls from, the
   * Kubernetes API it watches): the whole host, except on loopback, where
   * only its port is denied (loopback hosts every local service, and whether
   * those may be reached is the loopback rule's business).
   */
  denyPeer(addresses: readonly string[], port: number, what: string): void {
    for (const text of addresses) {
      const ip = parseIp(text);
      if (ip === undefined) continue;
      const loopback = LOOPBACK.some((cidr) => cidrContains(cidr, ip));
      this.self.push({ address: ip, port: loopback ? port : undefined, what });
    }
  }

  /** The verdict for a host name before any lookup: metadata names are denied. */
  checkName(hostname: string): EgressVerdict {
    const name = hostname.toLowerCase().replace(/\.$/, "");
    if (this.metadataNames.has(name)) {
      return { allowed: false, message: `${name} is a cloud metadata name (always denied)` };
    }
    return { allowed: true };
  }

  /** The verdict for connecting to an IP address (any spelling `parseIp` accepts) and port. */
  checkAddress(address: string, port: number): EgressVerdict {
    const ip = parseIp(address);
    if (ip === undefined) return { allowed: false, message: `${address} is not an IP address` };
    const shown = formatIp(ip);
    const own = this.self.find(
      (rule) => (rule.port === undefined || rule.port === port) && this.selfMatches(rule, ip),
    );
    if (own !== undefined) {
      const where = own.port === undefined ? shown : `${formatHostPort(shown, ip)}:${String(port)}`;
      return { allowed: false, message: `${where} is ${own.what} (always denied)` };
    }
    let best: AddressRule | undefined;
    for (const rule of this.rules) {
      if (!cidrContains(rule.cidr, ip)) continue;
      if (
        best === undefined ||
        rule.cidr.length > best.cidr.length ||
        (rule.cidr.length === best.cidr.length && ORIGIN_RANK[rule.origin] > ORIGIN_RANK[best.origin])
      ) {
        best = rule;
      }
    }
    if (best === undefined || best.origin === "allow") return { allowed: true };
    return { allowed: false, message: best.explain(shown) };
  }

  /**
   * What can be judged from the URL alone, without a lookup: an IP literal
   * or a metadata name that would be denied. Undefined when it cannot be
   * judged yet or is allowed. For warnings at apply time; enforcement is at
   * connect.
   */
  judgeEndpoint(endpoint: string): string | undefined {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return undefined;
    }
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
    const verdict =
      parseIp(url.hostname) === undefined
        ? this.checkName(url.hostname)
        : this.checkAddress(url.hostname, port);
    return verdict.allowed ? undefined : verdict.message;
  }

  private selfMatches(rule: SelfRule, ip: IpAddress): boolean {
    if (rule.address !== "local") return rule.address.family === ip.family && rule.address.bits === ip.bits;
    if (
      LOOPBACK.some((cidr) => cidrContains(cidr, ip)) ||
      UNSPECIFIED.some((cidr) => cidrContains(cidr, ip))
    ) {
      return true;
    }
    return this.localAddresses().some((text) => {
      const local = parseIp(text);
      return local !== undefined && local.family === ip.family && local.bits === ip.bits;
    });
  }
}

function formatHostPort(shown: string, ip: IpAddress): string {
  return ip.family === 6 ? `[${shown}]` : shown;
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
}
