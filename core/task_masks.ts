/**
 * The recorded tasks of a config snapshot set against what procfs said of
 * them: which pids are recorded, and which live ones may run on CPUs other
 * than their list's. `reconcile` and `node-report` both report the latter,
 * from this one function. Pure.
 */

import type { ConfigState, CpuListState, PoolFlag } from "./config_read.ts";
import type { CpuSet } from "./cpuset.ts";

/**
 * What procfs said of a recorded pid: the CPUs it may run on, or null when
 * the process no longer exists.
 */
export type PidObservation = CpuSet | null;

/** A live task whose CPU mask is not its list's CPUs. */
export interface MaskMismatch {
  readonly pool: string;
  readonly list: CpuListState;
  readonly pid: number;
  /** The CPUs the task may run on. */
  readonly actual: CpuSet;
}

/** Every distinct pid recorded anywhere in the config, in first-seen order. */
export function recordedPids(state: ConfigState<PoolFlag>): number[] {
  const pids = new Set<number>();
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      for (const pid of list.tasks) pids.add(pid);
    }
  }
  return [...pids];
}

/**
 * Live tasks whose mask differs from their list's CPUs, in config order
 * (pools, lists, then file order). A pid not in `observed`, or observed
 * dead, is no mismatch.
 *
 * @example
 * ```ts
 * import { findMaskMismatches } from "./task_masks.ts";
 * import { parseCpuList } from "./cpuset.ts";
 * import assert from "node:assert/strict";
 * const list = { name: "2", cpus: parseCpuList("2"), tasks: [7, 8] };
 * const state = { path: "x", pools: [{ name: "p", exclusive: true, cpuLists: [list] }] };
 * const observed = new Map([[7, parseCpuList("0-3")], [8, parseCpuList("2")]]);
 * const found = findMaskMismatches(state, observed);
 * assert.deepEqual(found.map((m) => [m.pid, `${m.actual}`]), [[7, "0-3"]]);
 * ```
 */
export function findMaskMismatches(
  state: ConfigState<PoolFlag>,
  observed: ReadonlyMap<number, PidObservation>,
): MaskMismatch[] {
  const found: MaskMismatch[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      for (const pid of list.tasks) {
        const actual = observed.get(pid);
        if (actual && !actual.equals(list.cpus)) {
          found.push({ pool: pool.name, list, pid, actual });
        }
      }
    }
  }
  return found;
}
