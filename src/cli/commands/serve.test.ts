// `telex serve` refuses unsafe or broken setups before it serves anything.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { startApiServer } from "../../apiserver/index.js";
import { apiRequest, examplePolicy } from "../../../test-support/telex-api.js";
import { runCli } from "../../../test-support/cli.js";
import { checkIngestAccess } from "../serve-flags.js";
import { UsageError } from "../io.js";
import { run } from "./serve.js";

describe("telex serve refuses", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "telex-serve-cli-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const serve = (...args: string[]) =>
    runCli(["serve", "--ingest-listen", "127.0.0.1:0", "--data-dir", join(dir, "data"), ...args]);

  it("open access on a non-loopback address", async () => {
    const result = await serve("--api-listen", "0.0.0.0:0");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /refusing open access on 0\.0\.0\.0:0/);
  });

  it("unauthenticated ingest on a non-loopback address, saying what to pass", async () => {
    const result = await runCli([
      "serve",
      "--api-listen",
      "127.0.0.1:0",
      "--data-dir",
      join(dir, "data"),
      "--ingest-listen",
      "0.0.0.0:0",
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /refusing unauthenticated ingest on 0\.0\.0\.0:0/);
    assert.match(result.stderr, /--ingest-token-file FILE/);
    assert.match(result.stderr, /--ingest-allow-unauthenticated/);
  });

  it("an unauthenticated forward listener of a pull-mode fleet replica on a non-loopback address", async () => {
    const pullFleet = [
      "serve",
      "--join",
      "http://127.0.0.1:9",
      "--source-url",
      "http://127.0.0.1:8428",
      "--data-dir",
      join(dir, "data"),
    ];
    const result = await runCli([...pullFleet, "--ingest-listen", "0.0.0.0:0"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /refusing an unauthenticated forward listener on 0\.0\.0\.0:0/);
    assert.match(result.stderr, /--ingest-token-file FILE \(the same on every replica\)/);
    // A single pull-mode replica runs no such listener: nothing to refuse.
    const flags = { "ingest-listen": "0.0.0.0:0", "ingest-allow-unauthenticated": false };
    const pull = { url: "http://127.0.0.1:8428" };
    assert.doesNotThrow(() => {
      checkIngestAccess(flags, pull, false);
    });
    assert.throws(() => {
      checkIngestAccess(flags, pull, true);
    }, UsageError);
  });

  it("a route cache size that is not a positive size", async () => {
    for (const value of ["0", "64MB", "1.5MiB", "lots"]) {
      const result = await serve("--api-listen", "127.0.0.1:0", "--route-cache-bytes", value);
      assert.equal(result.code, 2, value);
      assert.match(result.stderr, /--route-cache-bytes: .* is not a positive size such as 67108864 or 64MiB/);
    }
  });

  it("embedded-API flags, quotas among them, with --kubeconfig", async () => {
    for (const flag of [
      ["--tokens-file", join(dir, "tokens.yaml")],
      ["--max-policies-per-project", "5"],
    ]) {
      const result = await serve("--kubeconfig", join(dir, "absent"), "--project", "p", ...flag);
      assert.equal(result.code, 2, flag.join(" "));
      assert.match(
        result.stderr,
        /--max-\*-per-project, --max-leases and --max-config-maps configure the embedded API, which does not run with --kubeconfig/,
      );
      assert.match(result.stderr, new RegExp(`${flag[0] ?? ""}$`, "m"), "names the flag given");
    }
  });

  it("a certificate without its key", async () => {
    const result = await serve("--api-listen", "127.0.0.1:0", "--tls-cert-file", join(dir, "tls.crt"));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--tls-cert-file and --tls-key-file go together/);
  });

  it("a status interval that is not a positive duration", async () => {
    for (const value of ["0s", "0", "10", "soon"]) {
      const result = await serve("--api-listen", "127.0.0.1:0", "--status-interval", value);
      assert.equal(result.code, 2, value);
      assert.match(
        result.stderr,
        new RegExp(`--status-interval: "${value}" is not a positive duration such as 30s or 1m`),
      );
    }
  });

  it("a self-metrics interval that is neither a positive duration nor 0", async () => {
    const result = await serve("--api-listen", "127.0.0.1:0", "--self-metrics-interval", "soon");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--self-metrics-interval: "soon" is not a positive duration/);
  });

  it("an --endpoint-allow or --endpoint-deny value that is not a CIDR, naming it", async () => {
    const cases: [string, string, RegExp][] = [
      [
        "--endpoint-allow",
        "10.0.0.0/8,10.1.2.3/8",
        /--endpoint-allow: "10\.1\.2\.3\/8" has bits set past its prefix length/,
      ],
      [
        "--endpoint-deny",
        "metadata.google.internal",
        /--endpoint-deny: "metadata\.google\.internal" is not an IP address or CIDR prefix/,
      ],
    ];
    for (const [flag, value, message] of cases) {
      const result = await serve("--api-listen", "127.0.0.1:0", flag, value);
      assert.equal(result.code, 2, value);
      assert.match(result.stderr, message);
    }
  });

  it("a tokens file with a mistake, naming it", async () => {
    const file = join(dir, "tokens.yaml");
    await writeFile(
      file,
      "tokens:\n  - {token: a-long-enough-token-value, user: a, projects: [p], role: owner}\n",
    );
    const result = await serve("--api-listen", "127.0.0.1:0", "--tokens-file", file);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /tokens\[0\]\.role: must be viewer or admin/);
  });

  it("a data directory another server is using", async () => {
    const running = await startApiServer({ listen: "127.0.0.1:0", dataDir: join(dir, "data") });
    try {
      const result = await serve("--api-listen", "127.0.0.1:0");
      assert.equal(result.code, 1);
      assert.match(result.stderr, /in use by another process/);
    } finally {
      await running.stop();
    }
  });
});

describe("telex serve refuses bad combinations of roles", () => {
  const refused = async (args: string[], message: RegExp): Promise<void> => {
    const result = await runCli(["serve", ...args]);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(" "));
  };

  it("--api-only with the exporter's, ingest's or pull's flags, naming them", async () => {
    for (const flags of [
      ["--ingest-listen", "127.0.0.1:0"],
      ["--demo"],
      ["--pull-lag", "1m"],
      ["--buffer", "memory"],
      ["--status-interval", "1s"],
    ]) {
      await refused(
        ["--api-only", ...flags],
        new RegExp(
          `--api-only runs the resource API alone; .*which it does not run: ${flags[0] ?? ""}$`,
          "m",
        ),
      );
    }
  });

  it("--api-only's fleet flags: the pull settings need --source-url, the Lease namespace is a DNS label", async () => {
    await refused(
      ["--api-only", "--pull-mode", "federate"],
      /--pull-interval, --pull-lag and --pull-mode need --source-url/,
    );
    await refused(["--api-only", "--lease-namespace", "Not_A_Label"], /--lease-namespace "Not_A_Label"/);
  });

  it("--join with the embedded API's flags", async () => {
    for (const flags of [
      ["--api-listen", "127.0.0.1:0"],
      ["--tokens-file", "tokens.yaml"],
      ["--tls-cert-file", "tls.crt", "--tls-key-file", "tls.key"],
      ["--max-leases", "5"],
      ["--max-config-maps", "5"],
    ]) {
      await refused(
        ["--join", "https://telex-api:6443", ...flags],
        /configure the embedded API, which does not run with --join/,
      );
    }
  });

  it("two roles at once", async () => {
    const join = ["--join", "https://telex-api:6443"];
    await refused([...join, "--kubeconfig", "kubeconfig"], /--join and --kubeconfig exclude each other/);
    await refused([...join, "--in-cluster"], /--join and --in-cluster exclude each other/);
    await refused(["--api-only", ...join], /--api-only and --join exclude each other/);
    await refused(["--api-only", "--in-cluster"], /--api-only and --in-cluster exclude each other/);
  });

  it("--token-file or --join-ca-file without --join, and a --join that is not a URL", async () => {
    await refused(
      ["--token-file", "token"],
      /--token-file and --join-ca-file go with --join URL: --token-file/,
    );
    await refused(["--api-only", "--join-ca-file", "ca.pem"], /go with --join URL: --join-ca-file/);
    await refused(["--join", "telex-api:6443"], /--join: "telex-api:6443" must be an http or https URL/);
    await refused(["--join", "not a url"], /--join: "not a url" is not a URL/);
  });
});

describe("telex serve --api-only", () => {
  it("serves the resource API with its platform plane, and no ingest or exporter (delivery counters: 503 without replicas)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "telex-serve-api-only-"));
    let stdout = "";
    let stderr = "";
    let listening: (url: string) => void = () => undefined;
    const url = new Promise<string>((resolve) => (listening = resolve));
    const io = {
      stdout: {
        write: (text: string) => {
          stdout += text;
          const found = /^api: listening on (\S+)$/m.exec(stdout)?.[1];
          if (found !== undefined) listening(found);
        },
      },
      stderr: { write: (text: string) => (stderr += text) },
      stdin: Readable.from([]),
    };
    let stop: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    const exited = run(
      // The egress flags are the API's too: `telex test-sink` is served here.
      [
        "--api-only",
        "--api-listen",
        "127.0.0.1:0",
        "--data-dir",
        dir,
        "--max-config-maps",
        "1",
        "--endpoint-deny",
        "127.0.0.2/32",
      ],
      io,
      stopped,
    );
    try {
      const root = await Promise.race([url, exited.then(() => assert.fail(`exited early:\n${stderr}`))]);
      for (const path of ["/healthz", "/readyz"]) {
        assert.equal((await apiRequest(root, "GET", path)).status, 200, path);
      }
      const project = `${root}/apis/resourcemanager.miloapis.com/v1alpha1/projects/p1/control-plane`;
      const policies = "/apis/telemetry.miloapis.com/v1alpha1/namespaces/default/exportpolicies";
      const created = await apiRequest(project, "POST", policies, { body: examplePolicy("solo") });
      assert.equal(created.status, 201, created.text);
      // No exporter here: the counters are asked of the fleet's replicas, and there are none yet.
      const delivery = await apiRequest(project, "GET", `${policies}/solo/delivery`);
      assert.equal(delivery.status, 503, delivery.text);
      assert.match(delivery.text, /no replica of the fleet is live/);
      const leases = await apiRequest(
        root,
        "GET",
        "/apis/coordination.k8s.io/v1/namespaces/telex-system/leases",
      );
      assert.equal(leases.status, 200, leases.text);
      const configMaps = "/api/v1/namespaces/telex-system/configmaps";
      const configMap = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name } });
      const first = await apiRequest(root, "POST", configMaps, { body: configMap("first") });
      assert.equal(first.status, 201, first.text);
      const second = await apiRequest(root, "POST", configMaps, { body: configMap("second") });
      assert.equal(second.status, 403, second.text);
      assert.match(second.text, /count\/configmaps=1 \(telex serve --max-config-maps\)/);
      assert.equal((await apiRequest(root, "GET", "/metrics")).status, 404, "/metrics is a replica's");
      assert.doesNotMatch(stdout, /^(ingest|metrics|pull|controller):/m);
      assert.match(stdout, /telex serve --join http:\/\/127\.0\.0\.1:\d+ --token-file FILE/);
    } finally {
      stop("SIGTERM");
      assert.equal(await exited, 0, stderr);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("telex serve --help", () => {
  it("lists the roles and their contract flags", async () => {
    const result = await runCli(["serve", "--help"]);
    assert.match(result.stdout, /^ {7}telex serve --api-only /m);
    assert.match(result.stdout, /^ {7}telex serve --join URL \[--token-file FILE\]/m);
    assert.match(result.stdout, /--join-ca-file FILE +PEM of the CA/);
    assert.match(result.stdout, /--max-leases N +Leases in the platform plane/);
    assert.match(result.stdout, /--max-config-maps N +ConfigMaps in the platform plane .*\(default 1000\)/);
    assert.match(result.stdout, /telex\.miloapis\.com\/project=NAME/);
  });

  it("lists --status-interval with its default", async () => {
    const result = await runCli(["serve", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--status-interval DURATION +how often each policy's status is refreshed/);
    assert.match(result.stdout, /\(default 10s\)/);
  });

  it("lists --self-metrics-interval with its default and how to turn it off", async () => {
    const result = await runCli(["serve", "--help"]);
    assert.match(result.stdout, /--self-metrics-interval DURATION +how often each policy's delivery metrics/);
    assert.match(result.stdout, /\(default 15s; 0 turns them off\)/);
  });

  it("lists --endpoint-allow and --endpoint-deny with the defaults and the precedence", async () => {
    const result = await runCli(["serve", "--help"]);
    assert.match(
      result.stdout,
      /--endpoint-allow CIDR\[,CIDR\.\.\.\] +sink endpoints may reach these addresses/,
    );
    assert.match(
      result.stdout,
      /--endpoint-deny CIDR\[,CIDR\.\.\.\] +sink endpoints may never reach these addresses/,
    );
    assert.match(result.stdout, /longest matching prefix wins/);
  });

  it("lists the ingest access and route cache flags", async () => {
    const result = await runCli(["serve", "--help"]);
    assert.match(result.stdout, /--ingest-allow-unauthenticated +accept pushes without a token/);
    assert.match(result.stdout, /--route-cache-bytes SIZE[\s\S]*\(default 64MiB\)/);
  });
});

describe("telex serve with --ingest-allow-unauthenticated", () => {
  it("serves, and warns that anyone who reaches the ingest listener can push", async () => {
    const dir = await mkdtemp(join(tmpdir(), "telex-serve-open-ingest-"));
    let stdout = "";
    let stderr = "";
    const io = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      stdin: Readable.from([]),
    };
    try {
      const args = ["--api-listen", "127.0.0.1:0", "--ingest-listen", "127.0.0.1:0"];
      const code = await run(
        [...args, "--data-dir", dir, "--ingest-allow-unauthenticated"],
        io,
        Promise.resolve("SIGTERM"),
      );
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^ingest: listening on http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write$/m);
      assert.match(stderr, /unauthenticated ingest \(--ingest-allow-unauthenticated\): anyone who can reach/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
