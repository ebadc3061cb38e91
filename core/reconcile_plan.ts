/**
 * The reconcile plan: from a config snapshot and what procfs said of every
 * recorded pid, the tasks files to rewrite (dead pids dropped, live ones
 * kept in file order) and the report to print. `kcm reconcile` performs the
 * rewrites and prints the report; it decides nothing itself. Pure.
 */

import type { ConfigState, PoolFlag } from "./config_read.ts";
import type { JsonValue } from "./json.ts";
import { findMaskMismatches, type PidObservation } from "./task_masks.ts";

/** One tasks file to rewrite. */
export interface TasksRewrite {
  readonly pool: string;
  /** The cpu list's directory name. */
  readonly list: string;
  /** The pids to keep, in file order. */
  readonly tasks: readonly number[];
  /** The dead pids dropped, in file order (for the log). */
  readonly reclaimed: readonly number[];
}

/** What reconcile is to do and say. */
export interface ReconcilePlan {
  /** Tasks files to rewrite, in config order; none when nothing died. */
  readonly rewrites: readonly TasksRewrite[];
  /** `reclaimedCpuLists` and `mismatchedCpuMasks`, each sorted by pid. */
  readonly report: JsonValue;
}

function byPid<T extends { pid: number }>(entries: T[]): T[] {
  return entries.sort((a, b) => a.pid - b.pid); // stable since ES2019
}

/**
 * Plans a reconciliation. A pid observed null is dead: it is dropped from
 * every list holding it and reported once per occurrence. A pid missing
 * from `observed` is left alone. Live pids whose mask differs from their
 * list are reported, not changed.
 *
 * @example
 * ```ts
 * import { planReconcile } from "./reconcile_plan.ts";
 * import { parseCpuList } from "./cpuset.ts";
 * import assert from "node:assert/strict";
 * const list = { name: "1", cpus: parseCpuList("1"), tasks: [5, 6] };
 * const state = { path: "x", pools: [{ name: "p", exclusive: true, cpuLists: [list] }] };
 * const plan = planReconcile(state, new Map([[5, null], [6, parseCpuList("1")]]));
 * assert.deepEqual(plan.rewrites, [{ pool: "p", list: "1", tasks: [6], reclaimed: [5] }]);
 * ```
 */
export function planReconcile(
  state: ConfigState<PoolFlag>,
  observed: ReadonlyMap<number, PidObservation>,
): ReconcilePlan {
  const rewrites: TasksRewrite[] = [];
  const reclaimed: { cpus: string; pid: number; pool: string }[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const dead = list.tasks.filter((pid) => observed.get(pid) === null);
      if (dead.length === 0) continue;
      for (const pid of dead) {
        reclaimed.push({ cpus: list.name, pid, pool: pool.name });
      }
      rewrites.push({
        pool: pool.name,
        list: list.name,
        tasks: list.tasks.filter((pid) => observed.get(pid) !== null),
        reclaimed: dead,
      });
    }
  }
  const mismatched = findMaskMismatches(state, observed).map((m) => ({
    actualCpus: m.actual.toArray(),
    cpus: m.list.name,
    pid: m.pid,
    pool: m.pool,
  }));
  return {
    rewrites,
    report: {
      mismatchedCpuMasks: byPid(mismatched),
      reclaimedCpuLists: byPid(reclaimed),
    },
  };
}
