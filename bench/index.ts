// `npm run bench`: every benchmark suite of the project, one after another.
import { arch, cpus, totalmem } from "node:os";
import { runApiServerBench } from "./apiserver.js";
import { runAttackBench } from "./attacks.js";
import { runBacklogBench } from "./backlog.js";
import { runBufferBench } from "./buffer.js";
import { runCliBench } from "./cli.js";
import { runControllerBench } from "./controller.js";
import { runDeliveryBench } from "./delivery.js";
import { runFleetBench } from "./fleet.js";
import { runIngestBench } from "./ingest.js";
import { runLossBench } from "./loss.js";
import { runMetricsBench } from "./metrics.js";
import { runMetricsqlBench } from "./metricsql.js";
import { runObservabilityBench } from "./observability.js";
import { runPullBench } from "./pull.js";
import { remoteWriteSuite } from "./remotewrite.js";
import { runRestBench } from "./rest.js";

interface Suite {
  readonly title: string;
  run(): Promise<void> | void;
}

const suites: Suite[] = [
  { title: "metricsql matcher", run: runMetricsqlBench },
  { title: "delivery", run: runDeliveryBench },
  { title: "ingest", run: runIngestBench },
  { title: "pull", run: runPullBench },
  { title: "resource API", run: runApiServerBench },
  { title: "control plane", run: runControllerBench },
  remoteWriteSuite,
  { title: "attacks", run: runAttackBench },
  { title: "loss", run: runLossBench },
  { title: "buffer", run: runBufferBench },
  { title: "backlog", run: runBacklogBench },
  { title: "rest", run: runRestBench },
  { title: "fleet", run: runFleetBench },
  { title: "self-metrics scrape", run: runMetricsBench },
  { title: "observability cost", run: runObservabilityBench },
  { title: "cli", run: runCliBench },
];

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(
  `telex benchmarks — node ${process.version}, ${arch()}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
);
// `npm run bench -- ingest pull` runs the suites whose titles contain one of the words.
const wanted = process.argv.slice(2);
for (const suite of suites.filter((s) => wanted.length === 0 || wanted.some((w) => s.title.includes(w)))) {
  await suite.run();
}
