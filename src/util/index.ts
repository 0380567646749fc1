// Small utilities both planes use (exporter, controller, API server, CLI):
// time as a dependency, the logger, a byte budget, the build's version. This
// module imports nothing else from src/, so every module may depend on it.
// Helpers that only the exporter uses stay in src/exporter/util.
export { ByteBudget } from "./byte-budget.js";
export { sleep, systemClock, type Clock, type TimerHandle } from "./clock.js";
export {
  LOG_FORMATS,
  LOG_LEVELS,
  createLogger,
  errorField,
  lazyChild,
  silentLogger,
  streamLogger,
  type LogFields,
  type LogFormat,
  type LogLevel,
  type Logger,
  type LogValue,
} from "./log.js";
export { cgroupMemoryLimit, heapLimitWarning, recommendedHeapMiB } from "./heap-limit.js";
export { VERSION } from "./version.js";
