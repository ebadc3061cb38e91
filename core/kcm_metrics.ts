/**
 * The metrics kcm's daemons (`reconcile` and `node-report` with
 * `--interval` and `--metrics-listen`) expose: every name, help text and
 * label in one place, and the functions that turn what a loop iteration
 * saw into metric values.
 *
 * Pure: the loop passes in its config snapshot, report and timings;
 * `metrics_server.ts` serves the result and adds the process metrics.
 *
 * | name | type | labels |
 * |---|---|---|
 * | `kcm_build_info` | gauge (always 1) | `version` |
 * | `kcm_pool_cpu_lists` | gauge | `pool` |
 * | `kcm_pool_cpu_lists_in_use` | gauge | `pool` |
 * | `kcm_pool_tasks` | gauge | `pool` |
 * | `kcm_reclaimed_cpu_lists_total` | counter | `pool` |
 * | `kcm_node_report_check_ok` | gauge 0/1 | `check` |
 * | `kcm_report_publish_total` | counter | `kind`, `result` (`success`, `failure`) |
 * | `kcm_report_publish_skipped_total` | counter | `kind` |
 * | `kcm_report_last_publish_timestamp_seconds` | gauge | `kind` |
 * | `kcm_loop_duration_seconds` | histogram | `command` |
 * | `process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_start_time_seconds`, `deno_heap_size_used_bytes`, `deno_heap_size_total_bytes` | process | |
 */

import {
  type Counter,
  DURATION_BUCKETS,
  type Gauge,
  type Histogram,
  MetricRegistry,
} from "./metrics.ts";

/** What a pool looks like to the metrics (a `ConfigState` pool fits). */
export interface PoolUsage {
  readonly name: string;
  readonly cpuLists: readonly { readonly tasks: readonly number[] }[];
}

/** The commands that run a metrics loop. */
export type LoopCommand = "reconcile" | "node-report";

/** The report kinds that are published. */
export type PublishedKind = "NodeReport" | "ReconcileReport";

/** The metric handles of one kcm process. */
export interface KcmMetrics {
  readonly registry: MetricRegistry;
  readonly buildInfo: Gauge;
  readonly poolCpuLists: Gauge;
  readonly poolCpuListsInUse: Gauge;
  readonly poolTasks: Gauge;
  readonly reclaimedCpuLists: Counter;
  readonly checkOk: Gauge;
  readonly publishes: Counter;
  readonly publishSkips: Counter;
  readonly lastPublish: Gauge;
  readonly loopDuration: Histogram;
  readonly residentMemory: Gauge;
  readonly cpuSeconds: Counter;
  readonly startTime: Gauge;
  readonly heapUsed: Gauge;
  readonly heapTotal: Gauge;
}

/**
 * Defines kcm's metrics in a new registry; `version` goes into
 * `kcm_build_info`.
 */
export function createKcmMetrics(version: string): KcmMetrics {
  const registry = new MetricRegistry();
  const pool = ["pool"];
  const metrics: KcmMetrics = {
    registry,
    buildInfo: registry.gauge({
      name: "kcm_build_info",
      help: "Always 1; the kcm version in a label",
      labelNames: ["version"],
    }),
    poolCpuLists: registry.gauge({
      name: "kcm_pool_cpu_lists",
      help: "Cpu lists in the pool",
      labelNames: pool,
    }),
    poolCpuListsInUse: registry.gauge({
      name: "kcm_pool_cpu_lists_in_use",
      help: "Cpu lists of the pool that hold at least one task",
      labelNames: pool,
    }),
    poolTasks: registry.gauge({
      name: "kcm_pool_tasks",
      help: "Task pids recorded in the pool's cpu lists",
      labelNames: pool,
    }),
    reclaimedCpuLists: registry.counter({
      name: "kcm_reclaimed_cpu_lists_total",
      help: "Cpu list claims reconcile gave back because their task had exited",
      labelNames: pool,
    }),
    checkOk: registry.gauge({
      name: "kcm_node_report_check_ok",
      help:
        "1 when the node-report check passed in the last run, 0 when it failed",
      labelNames: ["check"],
    }),
    publishes: registry.counter({
      name: "kcm_report_publish_total",
      help: "Attempts to write the report object, by result",
      labelNames: ["kind", "result"],
    }),
    publishSkips: registry.counter({
      name: "kcm_report_publish_skipped_total",
      help:
        "Loop runs that did not write the report: unchanged and heartbeat not due",
      labelNames: ["kind"],
    }),
    lastPublish: registry.gauge({
      name: "kcm_report_last_publish_timestamp_seconds",
      help: "Unix time of the last successful write of the report object",
      labelNames: ["kind"],
    }),
    loopDuration: registry.histogram({
      name: "kcm_loop_duration_seconds",
      help:
        "Time one iteration of the --interval loop took, publishing included",
      labelNames: ["command"],
      buckets: DURATION_BUCKETS,
    }),
    residentMemory: registry.gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes",
    }),
    cpuSeconds: registry.counter({
      name: "process_cpu_seconds_total",
      help: "Total user and system CPU time spent in seconds",
    }),
    startTime: registry.gauge({
      name: "process_start_time_seconds",
      help: "Start time of the process since unix epoch in seconds",
    }),
    heapUsed: registry.gauge({
      name: "deno_heap_size_used_bytes",
      help: "V8 heap in use, in bytes",
    }),
    heapTotal: registry.gauge({
      name: "deno_heap_size_total_bytes",
      help: "V8 heap reserved, in bytes",
    }),
  };
  metrics.buildInfo.set({ version }, 1);
  return metrics;
}

/**
 * Sets the per-pool gauges from a config snapshot; pools that are gone
 * disappear from the output.
 *
 * @example
 * ```ts
 * import { createKcmMetrics, observePools } from "./kcm_metrics.ts";
 * import assert from "node:assert/strict";
 * const metrics = createKcmMetrics("0.0.0");
 * observePools(metrics, [{ name: "dataplane", cpuLists: [{ tasks: [7, 8] }, { tasks: [] }] }]);
 * assert.equal(metrics.poolCpuListsInUse.get({ pool: "dataplane" }), 1);
 * assert.equal(metrics.poolTasks.get({ pool: "dataplane" }), 2);
 * ```
 */
export function observePools(
  metrics: KcmMetrics,
  pools: readonly PoolUsage[],
): void {
  metrics.poolCpuLists.reset();
  metrics.poolCpuListsInUse.reset();
  metrics.poolTasks.reset();
  for (const { name, cpuLists } of pools) {
    const labels = { pool: name };
    metrics.poolCpuLists.set(labels, cpuLists.length);
    metrics.poolCpuListsInUse.set(
      labels,
      cpuLists.filter((list) => list.tasks.length > 0).length,
    );
    metrics.poolTasks.set(
      labels,
      cpuLists.reduce((sum, list) => sum + list.tasks.length, 0),
    );
  }
}

/** Counts reclaimed claims (one per `reclaimedCpuLists` entry) by pool. */
export function observeReclaimed(
  metrics: KcmMetrics,
  reclaimed: readonly { readonly pool: string }[],
): void {
  for (const { pool } of reclaimed) {
    metrics.reclaimedCpuLists.inc({ pool });
  }
}

/** Sets each check's gauge; checks no longer reported disappear. */
export function observeChecks(
  metrics: KcmMetrics,
  checks: Readonly<Record<string, { readonly ok: boolean }>>,
): void {
  metrics.checkOk.reset();
  for (const [check, { ok }] of Object.entries(checks)) {
    metrics.checkOk.set({ check }, ok ? 1 : 0);
  }
}

/** Records one publication attempt; a success also sets its timestamp. */
export function observePublish(
  metrics: KcmMetrics,
  kind: PublishedKind,
  outcome: { readonly ok: boolean; readonly at: Date },
): void {
  metrics.publishes.inc({ kind, result: outcome.ok ? "success" : "failure" });
  if (outcome.ok) {
    metrics.lastPublish.set({ kind }, outcome.at.getTime() / 1000);
  }
}

/** Records one loop iteration's duration. */
export function observeLoop(
  metrics: KcmMetrics,
  command: LoopCommand,
  seconds: number,
): void {
  metrics.loopDuration.observe({ command }, seconds);
}

/** What the process reports about itself (see `metrics_server.ts`). */
export interface ProcessSample {
  readonly residentBytes: number;
  readonly cpuSeconds: number;
  readonly startTimeSeconds: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
}

/** Sets the process metrics from a fresh sample. */
export function observeProcess(
  metrics: KcmMetrics,
  sample: ProcessSample,
): void {
  metrics.residentMemory.set({}, sample.residentBytes);
  metrics.cpuSeconds.advanceTo({}, sample.cpuSeconds);
  metrics.startTime.set({}, sample.startTimeSeconds);
  metrics.heapUsed.set({}, sample.heapUsedBytes);
  metrics.heapTotal.set({}, sample.heapTotalBytes);
}
