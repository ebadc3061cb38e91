/**
 * `kcm reconcile`: find recorded pids that no longer run, give their cpu
 * lists back, and report them (and live tasks whose CPU mask drifted) as
 * JSON; with `--publish` also as a ReconcileReport object.
 */

import {
  type Invocation,
  type ReportOptions,
  reportOptions,
} from "../core/command.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { readConfigLists } from "../core/config_read.ts";
import { removeStaleTemps, writeManyTasks } from "../core/config_write.ts";
import type { Host } from "../core/host.ts";
import type { JsonValue } from "../core/json.ts";
import { observePids } from "../core/procfs.ts";
import { planReconcile } from "../core/reconcile_plan.ts";
import { type RoundResult, runReportLoop } from "../core/report_loop.ts";
import { recordedPids } from "../core/task_masks.ts";

/** Options of `kcm reconcile`. */
export type ReconcileOptions = ReportOptions;

/** Validates the flags. */
export function parse(invocation: Invocation<"reconcile">): ReconcileOptions {
  return reportOptions(invocation);
}

/**
 * One reconciliation under the exclusive lock: observe every recorded pid,
 * plan (core/reconcile_plan.ts), perform the plan's rewrites, return its
 * report.
 */
export async function reconcileOnce(
  confDir: string,
  host: Pick<Host, "procRoot" | "lockTimeoutMs" | "log">,
): Promise<JsonValue> {
  return (await reconcileRound(confDir, host)).report;
}

/**
 * {@linkcode reconcileOnce} with what the loop needs besides the report,
 * both from the plan: the pools as the rewrites leave them (for the
 * metrics) and the claims given back (for Events); `signal` ends a wait
 * for the lock.
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
    () => {
      // The pools' exclusive flags play no part here, and are not read: a
      // pool without one is reclaimed like any other.
      const state = readConfigLists(confDir);
      for (const path of removeStaleTemps(confDir, state)) {
        host.log.info(
          `Removed a temporary file left by a killed writer: ${path}`,
        );
      }
      const observed = observePids(host.procRoot, recordedPids(state));
      const plan = planReconcile(state, observed);
      writeManyTasks(confDir, plan.rewrites);
      for (const { pool, list, reclaimed } of plan.rewrites) {
        host.log.info(
          `Reclaimed ${pool}:${list} from pids ${reclaimed.join(",")}`,
        );
      }
      const rewritten = new Map(
        plan.rewrites.map((r) => [`${r.pool}/${r.list}`, r.tasks]),
      );
      return {
        report: plan.report,
        pools: state.pools.map((pool) => ({
          name: pool.name,
          cpuLists: pool.cpuLists.map((list) => ({
            tasks: rewritten.get(`${pool.name}/${list.name}`) ?? list.tasks,
          })),
        })),
        reclaimed: plan.rewrites.flatMap(({ pool, list, reclaimed }) =>
          reclaimed.map((pid) => ({ pool, cpus: list, pid }))
        ),
      };
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
