/**
 * Config snapshots for the pure planners' tests, from a compact spec
 * (pool -> exclusive flag and lists -> pids), without touching disk.
 */

import type { ConfigState } from "../../core/config_read.ts";
import { parseCpuList } from "../../core/cpuset.ts";

/** Pools: name -> flag and cpu lists (directory name -> pids). */
export type StateSpec = Record<
  string,
  { exclusive?: boolean; lists: Record<string, number[]> }
>;

/** A snapshot as readConfig would return it for `spec` (names sorted). */
export function configState(spec: StateSpec): ConfigState {
  const sorted = <T>(o: Record<string, T>) =>
    Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    path: "/etc/kcm",
    pools: sorted(spec).map(([name, pool]) => ({
      name,
      exclusive: pool.exclusive ?? false,
      cpuLists: sorted(pool.lists).map(([list, tasks]) => ({
        name: list,
        cpus: parseCpuList(list),
        tasks,
      })),
    })),
  };
}

/** An observation map from pid -> cpu list text (null: dead). */
export function observed(
  entries: Record<number, string | null>,
): Map<number, ReturnType<typeof parseCpuList> | null> {
  return new Map(
    Object.entries(entries).map((
      [pid, cpus],
    ) => [Number(pid), cpus === null ? null : parseCpuList(cpus)]),
  );
}
