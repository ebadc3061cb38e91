/**
 * `kcm reconcile`: find recorded pids that no longer run, give their cpu
 * lists back, and report them (and live tasks whose CPU mask drifted) as
 * JSON; with `--publish` also as a ReconcileReport object.
 */

import {
  type Invocation,
  parseReportOptions,
  type ReportOptions,
} from "../core/command.ts";
import {
  formatTasks,
  readConfig,
  removeStaleTemps,
  tasksPath,
  withConfigLock,
  writeFilesAtomic,
} from "../core/config_dir.ts";
import type { Host } from "../core/host.ts";
import type { JsonValue } from "../core/json.ts";
import { observePids } from "../core/procfs.ts";
import { type RoundResult, runReportLoop } from "../core/report_loop.ts";
import { planReconcile, recordedPids } from "../core/reports.ts";

/** Options of `kcm reconcile`. */
export type ReconcileOptions = ReportOptions;

/** Validates the flags. */
export function parse(invocation: Invocation): ReconcileOptions {
  return parseReportOptions(invocation);
}

/**
 * One reconciliation under the exclusive lock: observe every recorded pid,
 * drop the dead ones from their tasks files, return the report.
 */
export async function reconcileOnce(
  confDir: string,
  host: Pick<Host, "procRoot" | "lockTimeoutMs" | "log">,
): Promise<JsonValue> {
  return (await reconcileRound(confDir, host)).report;
}

/**
 * {@linkcode reconcileOnce} with what the loop needs besides the report:
 * the pools as left behind (for the metrics) and the reclaimed claims (for
 * Events); `signal` ends a wait for the lock.
 */
export function reconcileRound(
  confDir: string,
  host: Pick<Host, "procRoot" | "lockTimeoutMs" | "log">,
  signal?: AbortSignal,
): Promise<RoundResult> {
  return withConfigLock(
    confDir,
    true,
    { timeoutMs: host.lockTimeoutMs, ...(signal ? { signal } : {}) },
    async () => {
      const state = readConfig(confDir);
      for (const path of removeStaleTemps(confDir, state)) {
        host.log.info(
          `Removed a temporary file left by a killed writer: ${path}`,
        );
      }
      const observed = observePids(host.procRoot, recordedPids(state));
      const plan = planReconcile(state, observed);
      const rewrites: { path: string; data: string }[] = [];
      for (const pool of state.pools) {
        for (const list of pool.cpuLists) {
          const dead = list.tasks.filter((pid) => observed.get(pid) === null);
          if (dead.length === 0) continue;
          const alive = list.tasks.filter((pid) => observed.get(pid) !== null);
          rewrites.push({
            path: tasksPath(confDir, pool.name, list.name),
            data: formatTasks(alive),
          });
          host.log.info(
            `Reclaimed ${pool.name}:${list.name} from pids ${dead.join(",")}`,
          );
        }
      }
      await writeFilesAtomic(rewrites);
      const pools = state.pools.map((pool) => ({
        name: pool.name,
        cpuLists: pool.cpuLists.map((list) => ({
          tasks: list.tasks.filter((pid) => observed.get(pid) !== null),
        })),
      }));
      return { report: plan.report, pools, reclaimed: plan.reclaimed };
    },
  );
}

/** Runs `kcm reconcile`. */
export function run(options: ReconcileOptions, host: Host): Promise<number> {
  return runReportLoop(
    { ...options, command: "reconcile", kind: "ReconcileReport" },
    host,
    (signal) => reconcileRound(options.confDir, host, signal),
  );
}
