// The data plane: runs what policy plans describe. apply() adds or changes a
// policy without disturbing the others — a sink whose configuration did not
// change keeps its queue and its connections — and remove() tears a policy's
// pipelines down. Samples come in through `ingest` (pushed by agents) and are
// routed per project by the router.
import { isDeepStrictEqual } from "node:util";
import type { DurableLog } from "./buffer/index.js";
import {
  errorField,
  lazyChild,
  silentLogger,
  sleep,
  systemClock,
  type Logger,
  type Clock,
} from "../util/index.js";
import { compileSelector, print, type Selector } from "../metricsql/index.js";
import {
  ITEM_KINDS,
  UNSUPPORTED_KINDS,
  WriteRequestBuilder,
  decodeWriteRequest,
  snappyCompress,
} from "../remotewrite/index.js";
import { MetadataBook } from "./metadata.js";
import type { ExpositionWriter, LabelSet } from "../metrics/exposition.js";
import { IngestProcessor, RefusedRequestError, type PeerSender } from "./ingest/processor.js";
import type { RequestProcessor } from "./ingest/server.js";
import { UntenantedWarnings } from "./ingest/untenanted.js";
import type { PolicyPlan } from "./plan.js";
import { pullEmitter } from "./pull-emitter.js";
import {
  SELF_METRICS_DEFAULTS,
  isSelfMetric,
  selfMetricsRequest,
  selfMetricsSamples,
  selfMetricsSelector,
  type SelfMetricsPolicy,
  type SelfSample,
} from "./self-metrics.js";
import type { SeriesRef } from "./series.js";
import type { PullJob, PullSource } from "./pull/index.js";
import {
  LABEL_LIMIT_REASONS,
  Router,
  SourceStats,
  type CompiledSource,
  type LabelLimits,
  type Route,
  type SampleTarget,
} from "./router/router.js";
import { RemoteWriteSink, SINK_RUNTIME_DEFAULTS, type SinkRuntime } from "./sink/index.js";
import { writeSinkMetrics, type LabelledSink } from "./sink/metrics.js";

export interface ExporterOptions {
  readonly tenantLabel: string;
  /** Upper bound on series whose routing decision is cached (default ROUTER_DEFAULTS). */
  readonly maxCachedSeries?: number;
  /** Upper bound on the label bytes of those series (default ROUTER_DEFAULTS). */
  readonly maxCachedBytes?: number;
  /** Per-series label limits (default ROUTER_DEFAULTS). */
  readonly labelLimits?: Partial<LabelLimits>;
  readonly sinkRuntime?: SinkRuntime;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /**
   * Pull mode: sources are read from the metrics store with their scoped
   * selectors instead of matched against ingested series. The exporter sets
   * the source's jobs; the caller starts and stops it.
   */
  readonly pull?: PullSource;
  /**
   * Push mode's durable buffer: ingest writes here before it acknowledges,
   * and every sink reads back from it what it could not send at once.
   */
  readonly log?: DurableLog;
  /**
   * In a fleet: who runs the policies this replica does not, and how to
   * forward their series there (see forwardTo). In pull mode only the
   * delivery metrics travel this way (emitSelfMetrics, selfMetricsIntake).
   */
  readonly fleet?: FleetForwarding;
  /**
   * Push mode in a fleet: keeps per-series order across a handover (src/fleet/handover.ts). A policy
   * that starts running here sends nothing until no other replica still delivers its older backlog.
   */
  readonly handover?: HandoverGate;
}

/** In a fleet: which replica runs a policy, and the way to send it series (src/fleet/forwarder.ts). */
export interface FleetForwarding extends PeerSender {
  /** The replica running the policy of this uid; undefined while no live one is known. */
  ownerOf(uid: string): string | undefined;
}

/** In a fleet's push mode: how the replicas keep per-series order across a handover (src/fleet/handover.ts). */
export interface HandoverGate {
  /** This replica (still) delivers a backlog of the policy for another one: the others wait. */
  markDraining(uid: string): void;
  /** It no longer does (delivered, taken back, or the policy deleted). */
  doneDraining(uid: string): void;
  /** Resolves once no other live replica may still send the policy's older samples (or signal aborts). */
  whenSettled(uid: string, signal: AbortSignal): Promise<void>;
}

/** What the controller reads back about a policy. */
export interface PolicyHealth {
  readonly generation: number;
  readonly sinks: ReadonlyMap<string, RemoteWriteSink>;
  readonly sources: ReadonlyMap<string, SourceStats>;
}

interface RunningPolicy {
  plan: PolicyPlan;
  /** Aborted when the policy stops running here: its sinks stop waiting on a handover. */
  gate: AbortController;
  sinks: Map<string, RemoteWriteSink>;
  sources: Map<string, SourceStats>;
  compiled: CompiledSource[];
  pullJobs: PullJob[];
}

/**
 * A policy another replica of the fleet runs: its sources route matching
 * series to that replica, and the backlog this replica still holds for its
 * sinks (it ran them before, or before a restart) is delivered from here
 * until it is empty, then forgotten.
 */
interface ForwardedPolicy {
  plan: PolicyPlan;
  compiled: CompiledSource[];
  draining: Map<string, DrainingSink>;
}

interface DrainingSink {
  readonly sink: RemoteWriteSink;
  /** Aborted when the sink is taken back (the policy runs here again) or replaced. */
  readonly watch: AbortController;
}

export class Exporter {
  readonly router: Router;
  readonly ingest: IngestProcessor;
  private readonly policies = new Map<string, RunningPolicy>();
  private readonly forwarded = new Map<string, ForwardedPolicy>();
  private readonly projectPolicies = new Map<string, Set<string>>();
  private readonly logger: Logger;
  private readonly closing = new Set<Promise<void>>();
  /** Pull mode: samples the store returned for another project than the job's; never sent. */
  foreignPulledSamples = 0;
  /** Projects where some source names the self-metrics: only theirs are generated. */
  private readonly selfMetricProjects = new Set<string>();
  /** The self-metrics' own way into the router, counted apart from ingest. */
  private readonly selfIngest: IngestProcessor;
  /**
   * Self-metrics samples generated, handed to sinks (one per sink), and
   * skipped; in a pull-mode fleet also sent to the replicas running the
   * selecting policies (once per replica) and received from them.
   */
  readonly selfMetrics = { generated: 0, routed: 0, skipped: 0, forwarded: 0, received: 0 };
  /** Push ingest's metric metadata, per project and family; sinks send that of their families. */
  readonly metadata = new MetadataBook();

  private readonly firstDeliveryListeners: ((uid: string) => void)[] = [];

  constructor(private readonly options: ExporterOptions) {
    this.router = new Router({
      tenantLabel: options.tenantLabel,
      metadata: this.metadata,
      ...(options.maxCachedSeries === undefined ? {} : { maxCachedSeries: options.maxCachedSeries }),
      ...(options.maxCachedBytes === undefined ? {} : { maxCachedBytes: options.maxCachedBytes }),
      ...(options.labelLimits === undefined ? {} : { labelLimits: options.labelLimits }),
    });
    this.ingest = new IngestProcessor(
      this.router,
      options.log,
      new UntenantedWarnings({
        tenantLabel: options.tenantLabel,
        logger: options.logger ?? silentLogger,
        clock: options.clock ?? systemClock,
        ignoredSamples: () => this.ingest.stats.samplesWithoutTenant,
      }),
      options.fleet,
      this.metadata,
    );
    this.selfIngest = new IngestProcessor(this.router, options.log, undefined, options.fleet);
    this.logger = options.logger ?? silentLogger;
    if (options.log !== undefined)
      options.log.internSeries = (labelBytes) => this.router.cachedSeries(labelBytes);
  }

  /** Runs the plan: creates, keeps, replaces or removes the policy's sinks and recompiles its sources. */
  apply(plan: PolicyPlan): void {
    const previous = this.policies.get(plan.uid);
    const sinks = new Map<string, RemoteWriteSink>();
    const log = this.options.log;
    const gate = previous?.gate ?? new AbortController();
    // Starting to run here: another replica may still deliver the policy's older samples.
    const handover = this.options.handover;
    const settled =
      previous === undefined && handover !== undefined && log !== undefined
        ? handover.whenSettled(plan.uid, gate.signal)
        : undefined;
    handover?.doneDraining(plan.uid);
    // Ran by another replica until now: the sinks still draining its old backlog here are taken back.
    const draining = this.takeBack(plan.uid);
    const forwarded = this.forwarded.get(plan.uid);
    this.forwarded.delete(plan.uid);
    if (forwarded !== undefined && forwarded.plan.project !== plan.project)
      this.unindex(forwarded.plan.project, plan.uid);
    for (const sinkPlan of plan.sinks) {
      const existing = previous?.sinks.get(sinkPlan.name) ?? draining.get(sinkPlan.name);
      if (existing !== undefined && isDeepStrictEqual(existing.config, sinkPlan.remoteWrite)) {
        sinks.set(sinkPlan.name, existing);
        continue;
      }
      const runtime = this.sinkRuntime(plan, sinkPlan.name);
      // Only a new endpoint starts a new series of counters: a changed batch, retry or password
      // carries the sink's history (counters, readiness, what Events told) over.
      const continues =
        existing?.config.endpoint === sinkPlan.remoteWrite.endpoint ? existing.stats : undefined;
      if (log === undefined) {
        sinks.set(
          sinkPlan.name,
          new RemoteWriteSink(sinkPlan.remoteWrite, runtime, undefined, undefined, continues),
        );
        continue;
      }
      // The backlog belongs to the policy's sink, not to its endpoint: a changed sink keeps it and
      // starts once the sink it replaces has stopped, from where that one got to.
      const replaced = existing === undefined ? undefined : this.retire(existing, "replaced");
      const durable = log.sink(sinkKey(plan.uid, sinkPlan.name));
      const startAfter =
        settled === undefined ? replaced : Promise.all([replaced, settled]).then(() => undefined);
      sinks.set(
        sinkPlan.name,
        new RemoteWriteSink(sinkPlan.remoteWrite, runtime, durable, startAfter, continues),
      );
    }
    for (const [name, sink] of [...(previous?.sinks ?? []), ...draining]) {
      if (sinks.get(name) === sink) continue;
      if (sinks.has(name)) {
        // Replaced: with a log that was done above, as the new sink waits for it.
        if (log === undefined) void this.retire(sink, "replaced");
        continue;
      }
      const stopped = this.retire(sink, "removed");
      // Once it has stopped, the log gives up its backlog.
      if (log !== undefined) void stopped.finally(() => log.removeSink(sinkKey(plan.uid, name)));
    }
    for (const sink of sinks.values()) {
      sink.stats.onFirstSuccess = () => {
        for (const listener of this.firstDeliveryListeners) listener(plan.uid);
      };
    }
    const sources = new Map<string, SourceStats>();
    const compiled: CompiledSource[] = [];
    for (const source of plan.sources) {
      const stats = previous?.sources.get(source.name) ?? new SourceStats();
      sources.set(source.name, stats);
      const targets = plan.sinks
        .filter((sink) => sink.sources.includes(source.name))
        .flatMap((sink) => {
          const running = sinks.get(sink.name);
          return running === undefined ? [] : [running];
        });
      // A source no sink forwards is not evaluated: it exports nothing, and counts nothing.
      if (targets.length > 0) compiled.push({ ...compileSource(source.selector), targets, stats });
    }
    const pullJobs = this.options.pull === undefined ? [] : this.pullJobsOf(plan, sinks, sources);
    this.policies.set(plan.uid, { plan, gate, sinks, sources, compiled, pullJobs });
    this.syncPullJobs(false);
    if (previous !== undefined && previous.plan.project !== plan.project) {
      this.unindex(previous.plan.project, plan.uid);
    }
    this.index(plan.project, plan.uid);
  }

  /**
   * Stops a policy's pipelines, delivering what they hold for up to the drain timeout. With
   * `handover` the policy is not deleted but runs on another replica from now on: its pull
   * positions are kept for the new owner.
   */
  async remove(uid: string, options: { readonly handover?: boolean } = {}): Promise<void> {
    const forwarded = this.forwarded.get(uid);
    if (forwarded !== undefined) {
      // Deleted while another replica ran it: what is still buffered here goes with it.
      const draining = this.takeBack(uid);
      this.forwarded.delete(uid);
      this.unindex(forwarded.plan.project, uid);
      await Promise.all(
        [...draining].map(async ([name, sink]) => {
          await sink.close(SINK_RUNTIME_DEFAULTS.drainTimeoutMs, "removed");
          this.options.log?.removeSink(sinkKey(uid, name));
        }),
      );
    }
    this.options.handover?.doneDraining(uid);
    const running = this.policies.get(uid);
    if (running === undefined) return;
    running.gate.abort();
    this.policies.delete(uid);
    this.unindex(running.plan.project, uid);
    this.syncPullJobs(options.handover !== true);
    await Promise.all(
      [...running.sinks].map(async ([name, sink]) => {
        await sink.close(SINK_RUNTIME_DEFAULTS.drainTimeoutMs, "removed");
        this.options.log?.removeSink(sinkKey(uid, name));
      }),
    );
  }

  /**
   * Gives up the backlogs of sinks no existing policy has: policies (or sinks) deleted while
   * Telex was stopped. `existing` maps each policy uid in the API to its sinks' names; only call
   * it once the controller has seen every policy (Controller.caughtUp), or a backlog of a policy
   * not listed yet would go. In a fleet every replica sees every policy, so what it prunes no
   * replica runs. Returns the samples given up.
   */
  pruneBacklogs(existing: ReadonlyMap<string, readonly string[]>): number {
    const log = this.options.log;
    if (log === undefined) return 0;
    const live = new Set<string>();
    for (const [uid, sinks] of existing) for (const name of sinks) live.add(sinkKey(uid, name));
    for (const [uid, running] of this.policies)
      for (const name of running.sinks.keys()) live.add(sinkKey(uid, name));
    for (const [uid, forwarded] of this.forwarded)
      for (const name of forwarded.draining.keys()) live.add(sinkKey(uid, name));
    let givenUp = 0;
    for (const key of log.sinkKeys) {
      if (live.has(key)) continue;
      const samples = log.removeSink(key);
      givenUp += samples;
      this.logger.warn("gave up the buffered samples of a sink whose policy or sink no longer exists", {
        sink: key,
        samples,
      });
    }
    return givenUp;
  }

  /**
   * In a fleet: policies other replicas run are forwarded to them (forwardTo): in push mode the
   * series their sources match, in pull mode the delivery metrics they select.
   */
  get forwards(): boolean {
    return this.options.fleet !== undefined;
  }

  /** Pull mode: sources are read from the store, and a sink has no backlog to drain elsewhere. */
  get pulls(): boolean {
    return this.options.pull !== undefined;
  }

  has(uid: string): boolean {
    return this.policies.has(uid);
  }

  /**
   * Push mode in a fleet: the policy runs on another replica (the fleet
   * option's ownerOf names it, at the time each request is forwarded). Its
   * sources route matching series there; the sinks it ran here stop taking
   * new samples and deliver what this replica buffered for them, in order,
   * then are forgotten: nothing acknowledged is lost in the handover. The
   * new owner sends new samples meanwhile, so while an old backlog drains
   * here a series' samples can reach the endpoint out of order (the README's
   * fleet section). A backlog found after a restart drains the same way.
   */
  forwardTo(plan: PolicyPlan): void {
    const fleet = this.options.fleet;
    if (fleet === undefined) throw new Error("forwardTo needs a fleet (ExporterOptions.fleet)");
    const uid = plan.uid;
    const running = this.policies.get(uid);
    const previous = this.forwarded.get(uid);
    const draining = previous?.draining ?? new Map<string, DrainingSink>();
    const log = this.options.log;
    if (running !== undefined) {
      running.gate.abort();
      this.policies.delete(uid);
      this.unindex(running.plan.project, uid);
      for (const [name, sink] of running.sinks) {
        if (sink.durable !== undefined) draining.set(name, this.drain(uid, name, sink));
        else void this.retire(sink, "removed");
      }
      // Pull mode: its jobs stop and their positions stay for the new owner (the reconciler
      // stops the policy with remove(uid, { handover }) first, so this is only a safeguard).
      this.syncPullJobs(false);
    }
    for (const sinkPlan of plan.sinks) {
      const key = sinkKey(uid, sinkPlan.name);
      const current = draining.get(sinkPlan.name);
      if (current !== undefined && isDeepStrictEqual(current.sink.config, sinkPlan.remoteWrite)) continue;
      if (log === undefined || (current === undefined && log.backlogOf(key) === 0)) continue;
      // The endpoint or its credentials changed while the backlog drains: it drains to the new one.
      let replaced: Promise<void> | undefined;
      if (current !== undefined) {
        current.watch.abort();
        replaced = this.retire(current.sink, "replaced");
      }
      const runtime = this.sinkRuntime(plan, sinkPlan.name);
      const sink = new RemoteWriteSink(sinkPlan.remoteWrite, runtime, log.sink(key), replaced);
      draining.set(sinkPlan.name, this.drain(uid, sinkPlan.name, sink));
    }
    for (const [name, current] of draining) {
      if (plan.sinks.some((sink) => sink.name === name)) continue;
      // The sink was removed from the policy: its backlog goes with it.
      current.watch.abort();
      draining.delete(name);
      void this.retire(current.sink, "removed").finally(() => log?.removeSink(sinkKey(uid, name)));
    }
    const target: SampleTarget = {
      forwardTo: () => fleet.ownerOf(uid),
      push: () => {
        throw new Error("a forwarded policy's samples are sent to its replica, never pushed");
      },
    };
    const compiled = plan.sources
      .filter((source) => plan.sinks.some((sink) => sink.sources.includes(source.name)))
      .map((source) => ({
        ...compileSource(source.selector),
        targets: [target],
        stats: new SourceStats(),
      }));
    if (previous !== undefined && previous.plan.project !== plan.project)
      this.unindex(previous.plan.project, uid);
    this.forwarded.set(uid, { plan, compiled, draining });
    this.index(plan.project, uid);
    // The replica that runs it now holds its samples until this one has delivered the backlog.
    if (draining.size > 0) this.options.handover?.markDraining(uid);
    else this.options.handover?.doneDraining(uid);
  }

  /** Uids of the policies whose sinks run here (in a fleet, those this replica owned at its last reconcile). */
  runningPolicies(): IterableIterator<string> {
    return this.policies.keys();
  }

  /** A sink that takes no new samples and stops, forgetting its backlog, once it has delivered it. */
  private drain(uid: string, name: string, sink: RemoteWriteSink): DrainingSink {
    const watch = new AbortController();
    const draining = { sink, watch };
    this.drained(sinkKey(uid, name), sink, watch.signal).then(
      () => {
        const forwarded = this.forwarded.get(uid);
        if (forwarded?.draining.get(name) !== draining) return;
        forwarded.draining.delete(name);
        if (forwarded.draining.size === 0) this.options.handover?.doneDraining(uid);
        void this.retire(sink, "removed").finally(() => this.options.log?.removeSink(sinkKey(uid, name)));
      },
      () => undefined,
    );
    return draining;
  }

  /**
   * Resolves once a draining sink has delivered everything routed to it,
   * including what was still on its way into the log when its policy moved
   * away: a record routed before the move is written, then its samples
   * pushed, turns later. Forgetting the sink when the samples it had then
   * were delivered lost those, acknowledged (the push-fleet test saw one
   * sample of nine series go so).
   */
  private async drained(key: string, sink: RemoteWriteSink, signal: AbortSignal): Promise<void> {
    const log = this.options.log;
    for (;;) {
      await sink.settled(signal);
      if (log === undefined) return;
      await log.written();
      // A written record's samples reach its sinks when its write resolves (after its sync, with
      // a sync on every write): a turn later at the earliest.
      await new Promise((resolve) => setImmediate(resolve));
      if (log.backlogOf(key) === 0) return;
      await sleep(this.options.clock ?? systemClock, DRAIN_RECHECK_MS, signal);
    }
  }

  /** Stops watching the policy's draining sinks and hands them to the caller (apply or remove). */
  private takeBack(uid: string): Map<string, RemoteWriteSink> {
    const sinks = new Map<string, RemoteWriteSink>();
    const forwarded = this.forwarded.get(uid);
    if (forwarded === undefined) return sinks;
    for (const [name, { sink, watch }] of forwarded.draining) {
      watch.abort();
      sinks.set(name, sink);
    }
    forwarded.draining.clear();
    return sinks;
  }

  /** Hears the uid of a policy one of whose sinks delivered for the first time (the controller: Ready follows at once). */
  onFirstDelivery(listener: (uid: string) => void): void {
    this.firstDeliveryListeners.push(listener);
  }

  health(uid: string): PolicyHealth | undefined {
    const running = this.policies.get(uid);
    if (running === undefined) return undefined;
    return { generation: running.plan.generation, sinks: running.sinks, sources: running.sources };
  }

  /**
   * A policy another replica runs now whose backlog this one still delivers
   * (a fleet's handover): its draining sinks, no sources (it matches nothing
   * here any more); undefined when none drains.
   */
  drainingHealth(uid: string): PolicyHealth | undefined {
    const forwarded = this.forwarded.get(uid);
    if (forwarded === undefined || forwarded.draining.size === 0) return undefined;
    return {
      generation: forwarded.plan.generation,
      sinks: new Map([...forwarded.draining].map(([name, { sink }]) => [name, sink])),
      sources: new Map(),
    };
  }

  /** Every sink of the policies this replica runs, with its policy's uid (for samplers that read them all). */
  *runningSinks(): Generator<readonly [uid: string, name: string, sink: RemoteWriteSink]> {
    for (const [uid, running] of this.policies) {
      for (const [name, sink] of running.sinks) yield [uid, name, sink];
    }
  }

  /** Every running policy's sink and source metrics, and the ingest counters. */
  writeMetrics(writer: ExpositionWriter): void {
    // Sinks still delivering a backlog of a policy another replica runs now.
    const labelledSinks: LabelledSink[] = [];
    for (const { plan, draining } of this.forwarded.values()) {
      const labels = metricLabels(plan);
      for (const [name, { sink }] of draining) labelledSinks.push({ labels: labels.sink(name), sink });
    }
    for (const { plan, sinks } of this.policies.values()) {
      const labels = metricLabels(plan);
      for (const [name, sink] of sinks) labelledSinks.push({ labels: labels.sink(name), sink });
    }
    writeSinkMetrics(writer, labelledSinks);
    for (const { plan, sinks, sources } of this.policies.values()) {
      const labels = metricLabels(plan);
      for (const [name] of sinks) {
        const health = this.options.pull?.health(`${plan.uid}/${name}`);
        if (health === undefined) continue;
        const jobLabels = labels.sink(name);
        writer.sample(
          "telex_pull_skipped_seconds_total",
          "Time ranges a sink's pull job gave up without reading them, by reason (expired: older than --max-backlog-age).",
          "counter",
          jobLabels,
          health.skippedSeconds.expired,
          EXPIRED,
        );
        writer.sample(
          "telex_pull_windows_total",
          "Windows a sink's pull job read completely from the store (federate mode: pulls).",
          "counter",
          jobLabels,
          health.windowsCompleted,
        );
        writer.sample(
          "telex_pull_samples_total",
          "Samples a sink's pull job read from the store.",
          "counter",
          jobLabels,
          health.samplesPulled,
        );
        writer.sample(
          "telex_pull_errors_total",
          "Failed reads of a sink's pull job (the store unreachable, an error answer, a bad body).",
          "counter",
          jobLabels,
          health.failures,
        );
        writer.sample(
          "telex_pull_lag_seconds",
          "Readable data (older than now minus --pull-lag) a sink's pull job has not read yet: below one interval when keeping up.",
          "gauge",
          jobLabels,
          health.lagBehindMs / 1000,
        );
      }
      for (const [name, stats] of sources) {
        writer.sample(
          "telex_source_matched_samples_total",
          "Samples that matched a source's selector.",
          "counter",
          labels.source(name),
          stats.matchedSamples,
        );
      }
    }
    const ingest = this.ingest.stats;
    const counter = (name: string, help: string, value: number) => {
      writer.sample(name, help, "counter", {}, value);
    };
    counter(
      "telex_ingest_samples_received_total",
      "Samples received by the ingest endpoint (float samples, exemplars and native histogram samples, one each).",
      ingest.samplesReceived,
    );
    counter(
      "telex_ingest_samples_without_tenant_total",
      "Samples ignored because their series has no tenant label.",
      ingest.samplesWithoutTenant,
    );
    counter(
      "telex_ingest_samples_not_selected_total",
      "Samples no policy of their project selects.",
      ingest.samplesNotSelected,
    );
    counter("telex_ingest_samples_routed_total", "Sample deliveries handed to sinks.", ingest.samplesRouted);
    const pushFleet = this.options.fleet !== undefined && this.options.pull === undefined;
    if (pushFleet) {
      let draining = 0;
      for (const policy of this.forwarded.values()) draining += policy.draining.size;
      writer.sample(
        "telex_exporter_draining_sinks",
        "Sinks of policies another replica runs now, still delivering the backlog this replica holds for them.",
        "gauge",
        {},
        draining,
      );
    }
    if (pushFleet)
      counter(
        "telex_ingest_samples_forwarded_total",
        "Samples forwarded to the replica that runs the policies they match (once per replica).",
        ingest.samplesForwarded,
      );
    const droppedHelp =
      "Samples dropped at ingest, by reason (a label limit; unsupported: exemplars and native histogram samples Telex could not forward, none since they are forwarded).";
    for (const reason of LABEL_LIMIT_REASONS) {
      writer.sample(
        "telex_ingest_samples_dropped_total",
        droppedHelp,
        "counter",
        { reason },
        ingest.samplesDropped[reason],
      );
    }
    writer.sample(
      "telex_ingest_samples_dropped_total",
      droppedHelp,
      "counter",
      { reason: "unsupported" },
      ingest.unsupported.histogram + ingest.unsupported.exemplar,
    );
    for (const kind of ITEM_KINDS) {
      writer.sample(
        "telex_ingest_items_received_total",
        "Exemplars and native histogram samples received (each also counted as a sample of its series).",
        "counter",
        { kind },
        ingest.itemsReceived[kind],
      );
    }
    counter(
      "telex_ingest_metadata_kept_total",
      "Metric metadata entries kept for at least one project, to be sent with its sinks' requests.",
      ingest.metadataKept,
    );
    writer.sample(
      "telex_ingest_metadata_families",
      "Metric families (per project) the metadata book knows.",
      "gauge",
      {},
      this.metadata.familyCount,
    );
    for (const kind of UNSUPPORTED_KINDS) {
      writer.sample(
        "telex_ingest_unsupported_total",
        "What accepted requests carried and Telex could not forward, by kind (metadata: no project of its family, or over the metadata bounds).",
        "counter",
        { kind },
        ingest.unsupported[kind],
      );
    }
    writer.sample(
      "telex_router_cache_bytes",
      "Label bytes held by the route cache.",
      "gauge",
      {},
      this.router.cachedBytes,
    );
    counter(
      "telex_self_metrics_samples_generated_total",
      "Samples of the tenants' delivery metrics (telex_export_*) generated, in projects where a source selects them.",
      this.selfMetrics.generated,
    );
    counter(
      "telex_self_metrics_samples_routed_total",
      "Deliveries of those samples handed to sinks (one sample to two sinks counts two).",
      this.selfMetrics.routed,
    );
    counter(
      "telex_self_metrics_samples_skipped_total",
      "Self-metrics samples not delivered for an interval: the buffer writing behind, a pull-mode sink down or full, forwarding failed.",
      this.selfMetrics.skipped,
    );
    if (this.options.fleet !== undefined && this.options.pull !== undefined) {
      counter(
        "telex_self_metrics_samples_forwarded_total",
        "Self-metrics samples sent to the replica running a policy that selects them (once per replica), pull-mode fleet.",
        this.selfMetrics.forwarded,
      );
      counter(
        "telex_self_metrics_samples_received_total",
        "Self-metrics samples other replicas sent this one for the policies it runs, pull-mode fleet.",
        this.selfMetrics.received,
      );
    }
    counter("telex_router_cache_hits_total", "Series routed from the cache.", this.router.cacheHits);
    counter("telex_router_cache_misses_total", "Series whose route was computed.", this.router.cacheMisses);
  }

  /**
   * Stops every policy's sinks, draining them for up to the drain timeout.
   * Pull cursors are kept (the caller stops the pull source first), so a
   * restart resumes where this run stopped.
   */
  async close(): Promise<void> {
    const running = [...this.policies.values()];
    for (const policy of running) policy.gate.abort();
    const draining = [...this.forwarded.keys()].flatMap((uid) => [...this.takeBack(uid).values()]);
    this.policies.clear();
    this.forwarded.clear();
    this.projectPolicies.clear();
    await Promise.all([
      ...running.flatMap((policy) => [...policy.sinks.values()].map((sink) => sink.close())),
      // Their backlog stays on disk: the next start drains it (forwardTo) or runs it (apply).
      ...draining.map((sink) => sink.close()),
    ]);
    await Promise.all(this.closing);
  }

  /**
   * Pull mode: one job per (policy, sink), reading the union of the sink's
   * sources (each scoped group as its own `match[]`: VictoriaMetrics before
   * v1.89 rejects `or` inside braces) into that sink alone, so a down sink
   * pauses only its own reading. Its cursor key is `<uid>/<sink>`; the
   * per-source keys of older versions are taken over (their minimum). A
   * source's matchedSamples are counted by the first sink that lists it.
   */
  private pullJobsOf(
    plan: PolicyPlan,
    sinks: ReadonlyMap<string, RemoteWriteSink>,
    sources: ReadonlyMap<string, SourceStats>,
  ): PullJob[] {
    const countedBy = new Map<string, string>();
    for (const sink of plan.sinks)
      for (const name of sink.sources) if (!countedBy.has(name)) countedBy.set(name, sink.name);
    const jobs: PullJob[] = [];
    for (const sinkPlan of plan.sinks) {
      const sink = sinks.get(sinkPlan.name);
      const read = plan.sources.filter((source) => sinkPlan.sources.includes(source.name));
      if (sink === undefined || read.length === 0) continue;
      const selectors = [
        ...new Set(
          read.flatMap((source) => source.selector.groups.map((group) => print({ groups: [group] }))),
        ),
      ];
      const counted = read.flatMap((source) => {
        const stats = sources.get(source.name);
        return stats === undefined || countedBy.get(source.name) !== sinkPlan.name
          ? []
          : [{ matcher: compileSelector(source.selector), stats }];
      });
      jobs.push({
        key: `${plan.uid}/${sinkPlan.name}`,
        selector: selectors,
        legacyKeys: read.map((source) => `${plan.uid}/${source.name}`),
        target: sink,
        emit: pullEmitter({
          project: plan.project,
          tenantLabel: this.options.tenantLabel,
          sink,
          counted,
          clock: this.options.clock ?? systemClock,
          onForeign: (samples) => {
            this.foreignPulledSamples += samples;
          },
        }),
      });
    }
    return jobs;
  }

  /** Gives the pull source every running policy's jobs; removed policies' cursors are forgotten when asked. */
  private syncPullJobs(forgetRemoved: boolean): void {
    if (this.options.pull === undefined) return;
    const jobs = [...this.policies.values()].flatMap((p) => p.pullJobs);
    this.options.pull.setJobs(jobs, { forgetRemoved });
  }

  /** A sink's runtime: its log lines carry the project, policy and sink they are about. */
  private sinkRuntime(plan: PolicyPlan, sink: string): SinkRuntime {
    const logger = lazyChild(this.logger, {
      project: plan.project,
      namespace: plan.namespace,
      policy: plan.name,
      sink,
    });
    return { ...this.options.sinkRuntime, logger, metadata: this.metadata };
  }

  /** Stops a sink that a plan no longer has, or has changed; resolves when it has stopped. */
  private retire(sink: RemoteWriteSink, reason: "removed" | "replaced"): Promise<void> {
    // A replaced sink with a durable backlog stops at once: its successor sends the rest.
    const drainMs =
      reason === "replaced" && sink.durable !== undefined ? 0 : SINK_RUNTIME_DEFAULTS.drainTimeoutMs;
    const closing = sink.close(drainMs, reason).catch((error: unknown) => {
      this.logger.error("closing a sink failed", { error: errorField(error) });
    });
    this.closing.add(closing);
    void closing.finally(() => this.closing.delete(closing));
    return closing;
  }

  private index(project: string, uid: string): void {
    let uids = this.projectPolicies.get(project);
    if (uids === undefined) {
      uids = new Set();
      this.projectPolicies.set(project, uids);
    }
    uids.add(uid);
    this.recompileProject(project);
  }

  private unindex(project: string, uid: string): void {
    const uids = this.projectPolicies.get(project);
    uids?.delete(uid);
    if (uids?.size === 0) this.projectPolicies.delete(project);
    this.recompileProject(project);
  }

  private recompileProject(project: string): void {
    const sources: CompiledSource[] = [];
    for (const uid of this.projectPolicies.get(project) ?? []) {
      sources.push(...(this.policies.get(uid)?.compiled ?? this.forwarded.get(uid)?.compiled ?? []));
    }
    this.router.setProject(project, sources);
    if (sources.some((source) => source.selfMatcher !== undefined)) this.selfMetricProjects.add(project);
    else this.selfMetricProjects.delete(project);
  }

  /**
   * Generates the delivery metrics of every policy this replica runs, in
   * the projects where some policy selects them (self-metrics.ts), and
   * routes them as that project's series: in push mode through the ingest
   * path (the durable buffer, and in a fleet forwarded to the replica that
   * runs the selecting policy), in pull mode straight to the sinks. Called
   * every --self-metrics-interval by telex serve; returns once the samples
   * are written (push mode with a durable buffer) or pushed.
   */
  async emitSelfMetrics(nowMs: number): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const project of this.selfMetricProjects) {
      const running: SelfMetricsPolicy[] = [];
      for (const uid of this.projectPolicies.get(project) ?? []) {
        const policy = this.policies.get(uid);
        if (policy !== undefined) running.push(policy);
      }
      const samples = selfMetricsSamples(this.options.tenantLabel, running);
      if (samples.length === 0) continue;
      this.selfMetrics.generated += samples.length;
      if (this.options.pull !== undefined) {
        writes.push(this.pushSelfMetrics(samples, nowMs));
        continue;
      }
      if (this.selfIngest.overloaded) {
        this.selfMetrics.skipped += samples.length;
        continue;
      }
      const routedBefore = this.selfIngest.stats.samplesRouted;
      try {
        const written = this.selfIngest.apply(selfMetricsRequest(samples, nowMs));
        if (written !== undefined) {
          writes.push(
            written.catch((error: unknown) => {
              this.selfMetrics.skipped += samples.length;
              this.logger.debug("self-metrics not delivered this interval", {
                project,
                error: errorField(error),
              });
            }),
          );
        }
      } catch (error: unknown) {
        // Never expected: the series are well-formed by construction.
        this.selfMetrics.skipped += samples.length;
        this.logger.error("self-metrics could not be routed", { project, error: errorField(error) });
      }
      this.selfMetrics.routed += this.selfIngest.stats.samplesRouted - routedBefore;
    }
    await Promise.all(writes);
  }

  /**
   * Pull mode: the sinks' memory rings hold what was read from the store, and
   * must not drop it for room (pull-emitter.ts). A sink that is down or full
   * skips this interval's self-metrics instead, like a missed scrape.
   *
   * In a fleet the samples that select policies another replica runs go to
   * that replica (once per replica, however many of its policies match), over
   * the hop push mode forwards on (src/fleet/forwarder.ts, the ingest token),
   * to its self-metrics intake. A send that fails is skipped, not retried
   * after its deadline: the next interval brings newer values.
   */
  private async pushSelfMetrics(samples: readonly SelfSample[], nowMs: number): Promise<void> {
    const batches = new Map<string, PeerSelfBatch>();
    const sends: Promise<void>[] = [];
    const fleet = this.options.fleet;
    for (let i = 0; i < samples.length; i++) {
      const sample = samples[i] as SelfSample;
      const route = this.router.resolve(sample.labelBytes);
      if (typeof route === "string") continue;
      for (const source of route.sources) source.matchedSamples++;
      for (const target of route.targets) {
        if (target.forwardTo === undefined) {
          this.deliverSelf(target, route.series, sample.value, nowMs);
          continue;
        }
        const peer = target.forwardTo();
        if (peer === undefined || fleet === undefined) {
          this.selfMetrics.skipped++;
          continue;
        }
        let batch = batches.get(peer);
        if (batch === undefined) {
          batch = { builder: new WriteRequestBuilder({ initialCapacity: 4096 }), last: -1, samples: 0 };
          batches.set(peer, batch);
        }
        if (batch.last === i) continue;
        batch.last = i;
        batch.builder.addSample(route.series.labelBytes, sample.value, nowMs);
        batch.samples++;
        if (batch.samples === SELF_METRICS_DEFAULTS.maxForwardedSamples) {
          sends.push(this.sendSelf(fleet, peer, batch));
          batches.delete(peer);
        }
      }
    }
    if (fleet !== undefined)
      for (const [peer, batch] of batches) sends.push(this.sendSelf(fleet, peer, batch));
    await Promise.all(sends);
  }

  private async sendSelf(fleet: FleetForwarding, peer: string, batch: PeerSelfBatch): Promise<void> {
    try {
      await fleet.send(peer, snappyCompress(batch.builder.finish()), batch.samples);
      this.selfMetrics.forwarded += batch.samples;
    } catch (error: unknown) {
      this.selfMetrics.skipped += batch.samples;
      this.logger.debug("self-metrics not forwarded this interval", { peer, error: errorField(error) });
    }
  }

  /** A pull-mode sink takes a self-metrics sample unless it is down, closed or full (skipped). */
  private deliverSelf(target: SampleTarget, series: SeriesRef, value: number, timestampMs: number): void {
    if (!(target instanceof RemoteWriteSink)) return;
    if (target.isDown || target.closed || target.queued >= target.capacity) {
      this.selfMetrics.skipped++;
      return;
    }
    target.push(series, value, timestampMs);
    this.selfMetrics.routed++;
  }

  /**
   * A pull-mode fleet's receiving end of the delivery metrics other replicas
   * generate for the policies this one runs (its listener serves only
   * FORWARD_PATH). Each series is routed as a series of the project its
   * tenant label names, so only that project's sources that name the
   * metrics can pick it (tenant-scoped, opt-in by name, as at home), and
   * goes straight into this replica's sinks like locally generated ones. A
   * forwarded series is never forwarded again: targets of policies another
   * replica runs are left out (that replica gets the series from the
   * generator itself), and a series no policy here takes is skipped (the
   * replicas' views of the fleet differ for a moment). The request is
   * refused whole (400) when it carries anything but delivery metrics —
   * platform series come from the store — or more than
   * SELF_METRICS_DEFAULTS.maxForwardedSamples samples.
   */
  readonly selfMetricsIntake: RequestProcessor = {
    overloaded: false,
    apply: (request) => {
      this.applyForwardedSelfMetrics(request);
      return undefined;
    },
  };

  private applyForwardedSelfMetrics(request: Uint8Array): void {
    const max = SELF_METRICS_DEFAULTS.maxForwardedSamples;
    const routes: (Route | undefined)[] = [];
    const values: number[] = [];
    const timestamps: number[] = [];
    let route: Route | undefined;
    // First pass: nothing is pushed until the whole request is known to be acceptable.
    decodeWriteRequest(request, {
      onSeries: (labels, labelBytes) => {
        if (!isSelfMetric(labels))
          throw new RefusedRequestError(
            "a pull-mode replica takes only the fleet's delivery metrics (telex_export_*) on this path",
          );
        const resolved = this.router.resolve(labelBytes);
        route = typeof resolved === "string" ? undefined : resolved;
      },
      onSample: (value, timestampMs) => {
        if (routes.length === max)
          throw new RefusedRequestError(`more than ${max} samples in one forwarded request`);
        routes.push(route);
        values.push(value);
        timestamps.push(timestampMs);
      },
      onItem: () => {
        throw new RefusedRequestError("delivery metrics carry no exemplars or histograms");
      },
    });
    this.selfMetrics.received += routes.length;
    for (let i = 0; i < routes.length; i++) {
      const resolved = routes[i];
      let local = 0;
      for (const target of resolved?.targets ?? []) {
        if (target.forwardTo !== undefined || !(target instanceof RemoteWriteSink)) continue;
        local++;
        this.deliverSelf(target, (resolved as Route).series, values[i] ?? NaN, timestamps[i] ?? 0);
      }
      if (local === 0) this.selfMetrics.skipped++;
      else for (const source of resolved?.sources ?? []) source.matchedSamples++;
    }
  }
}

/** One interval's self-metrics for one other replica (pull-mode fleet). */
interface PeerSelfBatch {
  readonly builder: WriteRequestBuilder;
  /** Index of the last sample added: a sample selected by several of the peer's policies is sent once. */
  last: number;
  samples: number;
}

const EXPIRED = { reason: "expired" };
/** How often a drained sink whose log still holds samples (their delivery not yet recorded) looks again. */
const DRAIN_RECHECK_MS = 50;

/** A source's matchers: all its groups, and those that may select Telex's own metrics. */
function compileSource(selector: Selector): Pick<CompiledSource, "matcher" | "selfMatcher"> {
  const self = selfMetricsSelector(selector);
  return {
    matcher: compileSelector(selector),
    selfMatcher: self === undefined ? undefined : compileSelector(self),
  };
}

/**
 * The label objects of a policy's series, made once per plan: the exposition
 * writer renders a label object once and copies it on later scrapes.
 */
interface PolicyMetricLabels {
  sink(name: string): LabelSet;
  source(name: string): LabelSet;
}

const planLabels = new WeakMap<PolicyPlan, PolicyMetricLabels>();

function metricLabels(plan: PolicyPlan): PolicyMetricLabels {
  let labels = planLabels.get(plan);
  if (labels === undefined) {
    const policy = { project: plan.project, namespace: plan.namespace, policy: plan.name };
    const sinks = new Map<string, LabelSet>();
    const sources = new Map<string, LabelSet>();
    labels = {
      sink: (name) => getOrSet(sinks, name, () => ({ ...policy, sink: name })),
      source: (name) => getOrSet(sources, name, () => ({ ...policy, source: name })),
    };
    planLabels.set(plan, labels);
  }
  return labels;
}

function getOrSet<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** A sink's identity in the durable log: stable while the policy and the sink's name are. */
function sinkKey(policyUid: string, sinkName: string): string {
  return `${policyUid}/${sinkName}`;
}
