/**
 * The environment variables `isolate` gives its child to say which CPUs
 * (and NUMA nodes) it holds.
 */

import { CpuSet } from "./cpuset.ts";
import type { Allocation } from "./allocate.ts";

/**
 * The environment `isolate` gives its child for an allocation:
 * `KCM_CPUS_ASSIGNED` (the list's name verbatim when one list was claimed,
 * as before; else the union in canonical list form),
 * `KCM_CPUS_ASSIGNED_MASK` (the kernel's hex mask of the union) and
 * `KCM_NUMA_NODES_ASSIGNED` (the NUMA nodes in list form, `""` when
 * unknown).
 *
 * @example
 * ```ts
 * import { assignmentEnv } from "./assignment_env.ts";
 * import { parseCpuList } from "./cpuset.ts";
 * import assert from "node:assert/strict";
 * const list = (name: string) => ({ name, cpus: parseCpuList(name), free: true });
 * assert.deepEqual(
 *   assignmentEnv({
 *     lists: [list("4,12"), list("5,13")],
 *     cpus: parseCpuList("4,5,12,13"),
 *     numaNodes: [0],
 *     warnings: [],
 *   }),
 *   {
 *     KCM_CPUS_ASSIGNED: "4-5,12-13",
 *     KCM_CPUS_ASSIGNED_MASK: "0x3030",
 *     KCM_NUMA_NODES_ASSIGNED: "0",
 *   },
 * );
 * ```
 */
export function assignmentEnv(allocation: Allocation): Record<string, string> {
  const only = allocation.lists.length === 1 ? allocation.lists[0] : undefined;
  return {
    KCM_CPUS_ASSIGNED: only?.name ?? allocation.cpus.toString(),
    KCM_CPUS_ASSIGNED_MASK: allocation.cpus.toMask(),
    // Node lists use the same list syntax as CPU lists (cpuset(7)).
    KCM_NUMA_NODES_ASSIGNED: CpuSet.of(allocation.numaNodes).toString(),
  };
}
