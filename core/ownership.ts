/**
 * Whether a recorded pid still holds its cpu list. Pure: `reconcile`
 * gathers the facts (procfs, claim files) and this module judges.
 *
 * A pid with an `owners` record (core/owners.ts) holds its list while its
 * claim lives: while the claim file's lock is held (by kcm, or by the
 * command it runs, which inherited the descriptor), or while any process
 * the claim file lists, or the pid itself, runs with the start time
 * recorded. A live pid with another start time is an unrelated process
 * that reused the number: it holds nothing. A pid without a record (written
 * by the original tool, or before kcm kept records) holds its list while
 * `<procfs>/<pid>` exists, as it always did.
 *
 * Facts that were not gathered count as "alive", so a judgement never
 * frees a list for want of a look.
 */

import type { ClaimState } from "./claim_file.ts";
import type { ConfigState, CpuListState, PoolFlag } from "./config_read.ts";
import type { OwnerRecord } from "./owners.ts";
import type { PidObservation } from "./task_masks.ts";

/** What was found out about recorded processes besides their CPU masks. */
export interface Ownership {
  /** Start times; null when the process is gone. A pid not here was not looked up. */
  readonly starts: ReadonlyMap<number, number | null>;
  /** Claim files by id; null when there is none. An id not here was not looked up. */
  readonly claims: ReadonlyMap<string, ClaimState | null>;
}

/** No facts beyond procfs presence: every record counts as alive. */
export const NO_OWNERSHIP: Ownership = { starts: new Map(), claims: new Map() };

/**
 * Is `pid` still the process that started at `start`? Undefined when its
 * start time was not looked up.
 */
function isSameProcess(
  pid: number,
  start: number,
  ownership: Ownership,
): boolean | undefined {
  const seen = ownership.starts.get(pid);
  if (seen === undefined) return undefined;
  return seen === start;
}

function claimLives(claim: string, ownership: Ownership): boolean {
  const state = ownership.claims.get(claim);
  if (state === undefined) return true; // not looked up
  if (state === null) return false;
  return state.held ||
    state.processes.some((p) =>
      isSameProcess(p.pid, p.start, ownership) !== false
    );
}

function recordLives(
  pid: number,
  record: OwnerRecord,
  ownership: Ownership,
): boolean {
  return claimLives(record.claim, ownership) ||
    isSameProcess(pid, record.start, ownership) !== false;
}

/**
 * The pids of `list` that no longer hold it, in file order. A pid
 * missing from `observed` (without a record) is left alone.
 *
 * @example
 * ```ts
 * import { deadTasks } from "./ownership.ts";
 * import { parseCpuList } from "./cpuset.ts";
 * import assert from "node:assert/strict";
 * const list = {
 *   name: "1", cpus: parseCpuList("1"), tasks: [5, 6],
 *   owners: new Map([[5, { start: 100, claim: "5-100" }]]),
 * };
 * // Pid 5 runs, but started at 200: a reuse. Its claim file is gone.
 * const ownership = { starts: new Map([[5, 200]]), claims: new Map([["5-100", null]]) };
 * const observed = new Map([[5, parseCpuList("0-3")], [6, parseCpuList("1")]]);
 * assert.deepEqual(deadTasks(list, observed, ownership), [5]);
 * ```
 */
export function deadTasks(
  list: CpuListState,
  observed: ReadonlyMap<number, PidObservation>,
  ownership: Ownership,
): number[] {
  return list.tasks.filter((pid) => {
    const record = list.owners?.get(pid);
    if (record !== undefined) return !recordLives(pid, record, ownership);
    return observed.get(pid) === null;
  });
}

/**
 * Recorded pids whose live process is not the one recorded (same number,
 * another start time): their CPU masks say nothing about the list.
 */
export function strangers(
  state: ConfigState<PoolFlag>,
  ownership: Ownership,
): Set<number> {
  const found = new Set<number>();
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      for (const [pid, record] of list.owners ?? []) {
        if (isSameProcess(pid, record.start, ownership) === false) {
          found.add(pid);
        }
      }
    }
  }
  return found;
}

/**
 * The pids whose start time `reconcile` must look up: every recorded pid
 * with a record, and every process its claim files list.
 */
export function pidsToIdentify(
  state: ConfigState<PoolFlag>,
  claims: ReadonlyMap<string, ClaimState | null>,
): number[] {
  const pids = new Set<number>();
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      for (const pid of list.owners?.keys() ?? []) pids.add(pid);
    }
  }
  for (const claim of claims.values()) {
    for (const process of claim?.processes ?? []) pids.add(process.pid);
  }
  return [...pids];
}

/** The claim ids the records of `state` name. */
export function recordedClaims(state: ConfigState<PoolFlag>): Set<string> {
  const ids = new Set<string>();
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      for (const record of list.owners?.values() ?? []) ids.add(record.claim);
    }
  }
  return ids;
}
