// The exporter's view of an ExportPolicy: what the controller compiles a
// policy into (defaults applied, selectors scoped to the project, secrets
// resolved, durations in milliseconds) and hands over through
// Exporter.apply(). The exporter knows nothing of the Kubernetes API.
import type { Selector } from "../metricsql/index.js";
import type { RemoteWriteSinkConfig } from "./sink/config.js";

export interface SourcePlan {
  readonly name: string;
  /** Already scoped to the policy's project by the tenant label. */
  readonly selector: Selector;
}

export interface SinkPlan {
  readonly name: string;
  /** Names of this policy's sources whose data the sink forwards. */
  readonly sources: readonly string[];
  readonly remoteWrite: RemoteWriteSinkConfig;
}

export interface PolicyPlan {
  /** The policy's uid: stable across renames and the key of everything the exporter runs for it. */
  readonly uid: string;
  readonly project: string;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly sources: readonly SourcePlan[];
  readonly sinks: readonly SinkPlan[];
}
