/**
 * The topology part of `node-report`: where each cpu list of each pool
 * sits (NUMA nodes, packages, L3 caches), and the check that no exclusive
 * list spans NUMA nodes. Pure: the command reads the pools and the
 * topology (`loadTopology()` in `core/topology_file.ts`).
 */

import { CpuSet } from "./cpuset.ts";
import type { JsonValue } from "./json.ts";
import type { LogicalCpu, Topology } from "./topology.ts";

/** A pool and its cpu lists with their CPUs. */
export interface PoolCpus {
  readonly name: string;
  readonly exclusive: boolean;
  readonly lists: readonly { readonly name: string; readonly cpus: CpuSet }[];
}

/** Id to CPUs, in list form, for the ids `idOf` gives. */
function cpusBy(
  topology: Topology,
  idOf: (cpu: LogicalCpu) => number | null,
): Record<string, string> {
  const groups = new Map<number, number[]>();
  for (const cpu of topology.cpus) {
    const id = idOf(cpu);
    if (id !== null) groups.set(id, [...groups.get(id) ?? [], cpu.id]);
  }
  const out: Record<string, string> = {};
  for (const [id, cpus] of groups) out[String(id)] = CpuSet.of(cpus).toString();
  return out;
}

/**
 * node-report's `topology` section: where the topology came from
 * (`record` or `sysfs`), the isolated CPUs, the CPUs of each NUMA node and
 * L3, and for each pool and list its `numaNodes`, `packages`, `l3Caches`
 * and `unknownCpus` (CPUs the topology does not know, in list form).
 *
 * @example
 * ```ts
 * import { topologySection } from "./topology_report.ts";
 * import { CpuSet, parseCpuList } from "./cpuset.ts";
 * import { Topology } from "./topology.ts";
 * import assert from "node:assert/strict";
 * const topology = new Topology([0, 1].map((id) => ({
 *   id, packageId: 0, dieId: 0, coreId: id, numaNode: id, l3Id: 0,
 * })));
 * const section = topologySection(
 *   [{ name: "dp", exclusive: true, lists: [{ name: "1", cpus: parseCpuList("1") }] }],
 *   { topology, isolated: CpuSet.EMPTY, source: "record" },
 * ) as { pools: Record<string, unknown> };
 * assert.deepEqual(section.pools, {
 *   dp: { "1": { l3Caches: [0], numaNodes: [1], packages: [0], unknownCpus: "" } },
 * });
 * ```
 */
export function topologySection(
  pools: readonly PoolCpus[],
  loaded: {
    readonly topology: Topology;
    readonly isolated: CpuSet;
    readonly source: string;
  },
): JsonValue {
  const { topology } = loaded;
  const byPool: Record<string, JsonValue> = {};
  for (const pool of pools) {
    const lists: Record<string, JsonValue> = {};
    for (const list of pool.lists) {
      const placement = topology.placementOf(list.cpus);
      lists[list.name] = {
        l3Caches: [...placement.l3Ids],
        numaNodes: [...placement.numaNodes],
        packages: [...placement.packages],
        unknownCpus: placement.unknown.toString(),
      };
    }
    byPool[pool.name] = lists;
  }
  return {
    isolated: loaded.isolated.toString(),
    l3Caches: cpusBy(topology, (cpu) => cpu.l3Id),
    numaNodes: cpusBy(topology, (cpu) => cpu.numaNode),
    pools: byPool,
    source: loaded.source,
  };
}

/**
 * Exclusive lists whose CPUs lie on more than one NUMA node: a task on
 * such a list reaches half its memory across the interconnect. One
 * message per list, for a node-report check.
 *
 * @example
 * ```ts
 * import { findSpanningExclusiveLists } from "./topology_report.ts";
 * import { parseCpuList } from "./cpuset.ts";
 * import { Topology } from "./topology.ts";
 * import assert from "node:assert/strict";
 * const topology = new Topology([0, 1].map((id) => ({
 *   id, packageId: 0, dieId: 0, coreId: id, numaNode: id, l3Id: 0,
 * })));
 * assert.deepEqual(
 *   findSpanningExclusiveLists(
 *     [{ name: "dp", exclusive: true, lists: [{ name: "0-1", cpus: parseCpuList("0-1") }] }],
 *     topology,
 *   ),
 *   ["Exclusive CPU list dp:0-1 spans NUMA nodes 0,1"],
 * );
 * ```
 */
export function findSpanningExclusiveLists(
  pools: readonly PoolCpus[],
  topology: Topology,
): string[] {
  const errors: string[] = [];
  for (const pool of pools) {
    if (!pool.exclusive) continue;
    for (const list of pool.lists) {
      const nodes = topology.placementOf(list.cpus).numaNodes;
      if (nodes.length > 1) {
        errors.push(
          `Exclusive CPU list ${pool.name}:${list.name} spans NUMA nodes ` +
            nodes.join(","),
        );
      }
    }
  }
  return errors;
}
