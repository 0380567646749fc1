// Process metrics in the names Prometheus client libraries use, so the
// standard dashboards and alerts work on telex as on any other target.
import { readdirSync, readFileSync } from "node:fs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { VERSION } from "../util/index.js";
import type { ExpositionWriter } from "./exposition.js";

const startTimeSeconds = (Date.now() - performance.now()) / 1000;
const eventLoopDelay = monitorEventLoopDelay({ resolution: 20 });
eventLoopDelay.enable();

function openFileDescriptors(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

function maxFileDescriptors(): number | undefined {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const line = limits.split("\n").find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s+/)[3];
    return soft === undefined || soft === "unlimited" ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

export function writeProcessMetrics(writer: ExpositionWriter): void {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const gauge = (name: string, help: string, value: number | undefined) => {
    if (value !== undefined) writer.sample(name, help, "gauge", {}, value);
  };
  writer.sample(
    "process_cpu_user_seconds_total",
    "User CPU time spent in seconds.",
    "counter",
    {},
    cpu.user / 1e6,
  );
  writer.sample(
    "process_cpu_system_seconds_total",
    "System CPU time spent in seconds.",
    "counter",
    {},
    cpu.system / 1e6,
  );
  writer.sample(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    "counter",
    {},
    (cpu.user + cpu.system) / 1e6,
  );
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.", memory.rss);
  gauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch in seconds.",
    startTimeSeconds,
  );
  gauge("process_open_fds", "Number of open file descriptors.", openFileDescriptors());
  gauge("process_max_fds", "Maximum number of open file descriptors.", maxFileDescriptors());
  gauge("nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes.", memory.heapTotal);
  gauge("nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.", memory.heapUsed);
  gauge("nodejs_external_memory_bytes", "Node.js external memory size in bytes.", memory.external);
  gauge(
    "nodejs_eventloop_lag_p99_seconds",
    "The 99th percentile of event loop delay since the last scrape.",
    eventLoopDelay.percentile(99) / 1e9,
  );
  gauge(
    "nodejs_eventloop_lag_max_seconds",
    "The longest event loop delay since the last scrape.",
    eventLoopDelay.max / 1e9,
  );
  eventLoopDelay.reset();
}

/** What runs, as the usual `*_build_info` gauge: always 1, the facts in its labels. */
export function writeBuildInfo(writer: ExpositionWriter): void {
  writer.sample(
    "telex_build_info",
    "A metric with a constant '1' value labelled by the version of Telex and of Node.js it runs on.",
    "gauge",
    { version: VERSION, node_version: process.versions.node },
    1,
  );
}
