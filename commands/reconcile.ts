/**
 * `kcm reconcile`: find recorded pids that no longer hold their cpu lists,
 * give the lists back, and report them (and live tasks whose CPU mask
 * drifted) as JSON; with `--publish` also as a ReconcileReport object.
 *
 * A pid holds its list while it runs, or, when `isolate` recorded it with
 * a claim (core/claim_file.ts, core/owners.ts), while that claim lives: a
 * command whose `isolate` died keeps the list, and a reused pid does not
 * (core/ownership.ts). Entries that cannot be read (a link, a FIFO where
 * `tasks` should be, a malformed name) are logged once each and left
 * alone; every other list is reconciled. Claim files nobody holds and
 * staging folders of a killed `init` are removed.
 */

import {
  type Invocation,
  type ReportOptions,
  reportOptions,
} from "../core/command.ts";
import {
  type ClaimState,
  inspectClaim,
  listClaimIds,
  removeClaim,
} from "../core/claim_file.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { removeStaleStaging } from "../core/config_create.ts";
import { surveyConfig } from "../core/config_read.ts";
import { removeStaleTemps, writeManyTasks } from "../core/config_write.ts";
import type { ConfinedDir } from "../core/confined_dir.ts";
import { OpenConfig } from "../core/config_open.ts";
import { errorMessage, ProcfsError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import type { JsonValue } from "../core/json.ts";
import { pidsToIdentify, recordedClaims } from "../core/ownership.ts";
import { ownNamespaceProblem, readStartTimes } from "../core/proc_identity.ts";
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
  host: Pick<Host, "procRoot" | "lockTimeoutMs" | "log" | "env">,
): Promise<JsonValue> {
  return (await reconcileRound(confDir, host)).report;
}

/**
 * Every claim file the config directory holds or its records name, read
 * and lock-tested (null: no such file). A claim that cannot be read is
 * left out, which counts as alive.
 */
function inspectClaims(
  root: ConfinedDir,
  ids: Iterable<string>,
  host: Pick<Host, "log">,
): Map<string, ClaimState | null> {
  const claims = new Map<string, ClaimState | null>();
  for (const id of ids) {
    if (claims.has(id)) continue;
    try {
      claims.set(id, inspectClaim(root, id) ?? null);
    } catch (error) {
      host.log.warning(`Claim ${id} left alone: ${errorMessage(error)}`);
    }
  }
  return claims;
}

/** Refuses a procfs whose pids are not the ones isolate recorded. */
function checkNamespace(host: Pick<Host, "procRoot" | "env">): void {
  const problem = ownNamespaceProblem(host.procRoot);
  if (problem === undefined || host.env.KCM_SHARED_PID_NAMESPACE === "1") {
    return;
  }
  throw new ProcfsError(problem, 1, {
    hint:
      "mount the host's /proc (say at /host/proc) and set KCM_PROC_FS to it; set KCM_SHARED_PID_NAMESPACE=1 if every kcm using this config directory runs in this pid namespace",
  });
}

/**
 * How many tasks files a round rewrites between two looks at its stop
 * signal: a few hundred milliseconds of work on a loaded node, so SIGTERM
 * ends a loop within its 2 s even in a round that frees thousands of lists.
 */
const REWRITE_BATCH = 200;

/**
 * {@linkcode reconcileOnce} with what the loop needs besides the report,
 * both from the plan: the pools as the rewrites leave them (for the
 * metrics) and the claims given back (for Events); `signal` ends a wait
 * for the lock, and a round's rewrites between two batches.
 */
export function reconcileRound(
  confDir: string,
  host: Pick<Host, "procRoot" | "lockTimeoutMs" | "log" | "env">,
  signal?: AbortSignal,
  reported: Set<string> = new Set(),
): Promise<RoundResult> {
  checkNamespace(host);
  for (const path of removeStaleStaging(confDir)) {
    host.log.info(`Removed the staging folder of a killed init: ${path}`);
  }
  return withConfigLock(
    confDir,
    true,
    { timeoutMs: host.lockTimeoutMs, ...(signal ? { signal } : {}) },
    async () => {
      // The pools' exclusive flags play no part here, and are not read: a
      // pool without one is reclaimed like any other.
      const { state, findings } = surveyConfig(confDir);
      for (const finding of findings) {
        const line = `Skipped: ${finding.message}`;
        if (reported.has(line)) host.log.debug(line);
        else host.log.warning(line);
        reported.add(line);
      }
      for (const path of removeStaleTemps(confDir, state)) {
        host.log.info(
          `Removed a temporary file left by a killed writer: ${path}`,
        );
      }
      using config = OpenConfig.open(confDir);
      const { root } = config;
      const claims = inspectClaims(
        root,
        [...recordedClaims(state), ...listClaimIds(root)],
        host,
      );
      const observed = observePids(host.procRoot, recordedPids(state));
      const starts = readStartTimes(
        host.procRoot,
        pidsToIdentify(state, claims),
      );
      const plan = planReconcile(state, observed, { starts, claims });
      const surveyed = new Map(
        state.pools.flatMap((pool) =>
          pool.cpuLists.map((list) => [`${pool.name}/${list.name}`, list])
        ),
      );
      for (let at = 0; at < plan.rewrites.length; at += REWRITE_BATCH) {
        if (at > 0 && signal !== undefined) {
          // Between batches, a SIGTERM gets its turn: a loop told to stop
          // ends here, every file whole, the rest left for the next run.
          await new Promise((resolve) => setTimeout(resolve, 0));
          signal.throwIfAborted();
        }
        const batch = plan.rewrites.slice(at, at + REWRITE_BATCH);
        // Each list as the survey read it, in this hold of the lock (the
        // plan rewrites only lists of the survey).
        writeManyTasks(
          config,
          batch.map((r) => ({
            ...r,
            read: surveyed.get(`${r.pool}/${r.list}`)!,
          })),
        );
        for (const { pool, list, reclaimed } of batch) {
          host.log.info(
            `Reclaimed ${pool}:${list} from pids ${reclaimed.join(",")}`,
          );
        }
      }
      for (const id of plan.staleClaims) removeClaim(root, id);
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
  const reported = new Set<string>();
  return runReportLoop(
    { ...options, command: "reconcile", kind: "ReconcileReport" },
    host,
    (signal) => reconcileRound(options.confDir, host, signal, reported),
  );
}
