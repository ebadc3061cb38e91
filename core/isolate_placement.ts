/**
 * The topology-aware part of `kcm isolate`: the topology a placed claim
 * needs and the choice of its lists (`allocateLists()`), and the wording
 * of a refusal. `commands/isolate.ts` loads this module only when a claim
 * needs it (several lists, `--numa-node`, `--socket-id`) or fails, so a
 * claim of one list does not pay for loading the allocator at start-up.
 *
 * Side effects: reads the config directory's topology record, or sysfs
 * for a directory without one (core/topology_file.ts).
 */

import {
  allocateLists,
  type Allocation,
  type AllocationRequest,
} from "./allocate.ts";
import { AllocationError } from "./allocation_error.ts";
import type { PoolState } from "./config_read.ts";
import type { Topology } from "./topology.ts";
import { loadTopology } from "./topology_file.ts";

/** The topology of a claim and whether it came from sysfs. */
export interface ClaimTopology {
  readonly topology: Topology;
  /** True when the directory has no record and sysfs was read. */
  readonly fromSysfs: boolean;
}

/**
 * The topology of the machine `confDir` was made for: its record, else
 * sysfs below `sysRoot`.
 *
 * @throws {ConfigError} for a record that cannot be read or parsed.
 * @throws {SysfsError} when there is no record and sysfs cannot be read.
 */
export async function loadClaimTopology(
  confDir: string,
  sysRoot: string,
): Promise<ClaimTopology> {
  const loaded = await loadTopology(confDir, sysRoot);
  return { topology: loaded.topology, fromSysfs: loaded.source === "sysfs" };
}

/**
 * Chooses the lists of `pool` a claim takes (`allocateLists()` over the
 * pool as read under the lock).
 *
 * @throws {AllocationError} when the claim cannot be met.
 */
export function allocateFromPool(
  pool: PoolState,
  topology: Topology,
  request: AllocationRequest,
): Allocation {
  return allocateLists(
    {
      name: pool.name,
      exclusive: pool.exclusive,
      lists: pool.cpuLists.map((list) => ({
        name: list.name,
        cpus: list.cpus,
        free: list.tasks.length === 0,
      })),
    },
    topology,
    request,
  );
}

/** The refusal of a one-list claim on `pool`, which has no free list. */
export function noFreeListError(pool: PoolState): AllocationError {
  return new AllocationError(pool.name, {
    reason: "not-enough-free",
    requested: 1,
    lists: pool.cpuLists.length,
    taken: pool.cpuLists.filter((list) => list.tasks.length > 0).length,
  });
}
