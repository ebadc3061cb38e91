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
import { readConfig } from "../core/config_read.ts";
import { removeStaleTemps, writeManyTasks } from "../core/config_write.ts";
import type { Host } from "../core/host.ts";
import { formatJson, type JsonValue } from "../core/json.ts";
import { observePids } from "../core/procfs.ts";
import { planReconcile } from "../core/reconcile_plan.ts";
import { recordedPids } from "../core/task_masks.ts";
import { repeatEvery } from "../core/repeat.ts";

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
export function reconcileOnce(
  confDir: string,
  host: Pick<Host, "procRoot" | "lockTimeoutMs" | "log">,
): Promise<JsonValue> {
  return withConfigLock(
    confDir,
    true,
    { timeoutMs: host.lockTimeoutMs },
    () => {
      const state = readConfig(confDir);
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
      return plan.report;
    },
  );
}

/** Runs `kcm reconcile`. */
export function run(options: ReconcileOptions, host: Host): Promise<number> {
  return repeatEvery(
    options.intervalSeconds,
    host,
    "reconciliation",
    async () => {
      const report = await reconcileOnce(options.confDir, host);
      await host.write(formatJson(report));
      if (options.publish) {
        const { publishReport } = await import("../core/k8s/reports.ts");
        await publishReport(host, "ReconcileReport", report, {
          loop: options.intervalSeconds > 0,
        });
      }
    },
  );
}
