/**
 * The reconcile plan: from a config snapshot and what procfs said of every
 * recorded pid, the tasks files to rewrite (dead pids dropped, live ones
 * kept in file order) and the report to print. `kcm reconcile` performs the
 * rewrites and prints the report; it decides nothing itself. Pure.
 */

import type { ConfigState, PoolFlag } from "./config_read.ts";
import type { JsonValue } from "./json.ts";
import {
  deadTasks,
  NO_OWNERSHIP,
  type Ownership,
  strangers,
} from "./ownership.ts";
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
  /**
   * Claim files to delete: the ones no process holds any more and no
   * record that stays names.
   */
  readonly staleClaims: readonly string[];
}

function byPid<T extends { pid: number }>(entries: T[]): T[] {
  return entries.sort((a, b) => a.pid - b.pid); // stable since ES2019
}

/**
 * Plans a reconciliation. A pid that no longer holds its list
 * (core/ownership.ts: without a record, a pid observed null; with one, a
 * pid whose claim and process are both gone) is dropped from the list and
 * reported once per occurrence. A pid missing from `observed` is left
 * alone. Live pids whose mask differs from their list are reported, not
 * changed, unless the live process is not the one recorded.
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
  ownership: Ownership = NO_OWNERSHIP,
): ReconcilePlan {
  const rewrites: TasksRewrite[] = [];
  const reclaimed: { cpus: string; pid: number; pool: string }[] = [];
  const claimsKept = new Set<string>();
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const dropped = deadTasks(list, observed, ownership);
      const dead = new Set(dropped);
      for (const pid of list.tasks) {
        const claim = list.owners?.get(pid)?.claim;
        if (claim !== undefined && !dead.has(pid)) claimsKept.add(claim);
      }
      if (dead.size === 0) continue;
      for (const pid of dropped) {
        reclaimed.push({ cpus: list.name, pid, pool: pool.name });
      }
      rewrites.push({
        pool: pool.name,
        list: list.name,
        tasks: list.tasks.filter((pid) => !dead.has(pid)),
        reclaimed: dropped,
      });
    }
  }
  const others = strangers(state, ownership);
  const own = new Map([...observed].filter(([pid]) => !others.has(pid)));
  const mismatched = findMaskMismatches(state, own).map((m) => ({
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
    staleClaims: [...ownership.claims].flatMap(([id, claim]) =>
      claim !== null && !claim.held && !claimsKept.has(id) ? [id] : []
    ),
  };
}
