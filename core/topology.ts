/**
 * The CPU topology of a node as data: logical CPUs with their package, die,
 * physical core, NUMA node and L3 cache, grouped into physical cores
 * (hyperthread siblings together). Built once (see `core/sysfs.ts`), then
 * queried. The vocabulary follows the kernel's CPU topology documentation
 * (Documentation/admin-guide/cputopology.rst): a core is identified by
 * `(physical_package_id, die_id, core_id)`, since `core_id` values repeat
 * across packages and need not be contiguous.
 */

import { CpuSet } from "./cpuset.ts";

/** One logical CPU (a hardware thread) and where it sits. */
export interface LogicalCpu {
  /** Logical CPU id, as in `/sys/devices/system/cpu/cpu<id>`. */
  id: number;
  /** `topology/physical_package_id`: the socket. */
  packageId: number;
  /** `topology/die_id`, 0 where the kernel does not report dies. */
  dieId: number;
  /** `topology/core_id`: unique within a package and die only. */
  coreId: number;
  /** The NUMA node listing this CPU, or null on a kernel without NUMA. */
  numaNode: number | null;
  /** Id of the L3 cache this CPU uses, or null when it has none. */
  l3Id: number | null;
}

/** One physical core: the logical CPUs sharing a `(package, die, core)`. */
export interface PhysicalCore {
  packageId: number;
  dieId: number;
  coreId: number;
  /** The core's logical CPUs (its hyperthread siblings). */
  cpus: CpuSet;
}

/**
 * Where a set of CPUs sits: the distinct NUMA nodes, packages and L3 ids of
 * its CPUs, each ascending. CPUs the topology does not know (offline, or
 * from another machine) are listed in `unknown` and counted nowhere else; a
 * known CPU without a NUMA node or L3 adds nothing to those lists.
 */
export interface Placement {
  readonly numaNodes: readonly number[];
  readonly packages: readonly number[];
  readonly l3Ids: readonly number[];
  readonly unknown: CpuSet;
}

/** Identifies a physical core. */
export type CoreKey = Pick<PhysicalCore, "packageId" | "dieId" | "coreId">;

function coreKey(core: CoreKey): string {
  return `${core.packageId}/${core.dieId}/${core.coreId}`;
}

function checkInteger(cpu: LogicalCpu, field: keyof LogicalCpu): void {
  const value = cpu[field];
  if (value === null && (field === "numaNode" || field === "l3Id")) return;
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw new RangeError(
      `Logical CPU ${cpu.id} has invalid ${field} ${String(value)}`,
    );
  }
}

function ascending(values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * The logical CPUs of a node and the physical cores they form.
 *
 * @example
 * ```ts
 * import { Topology } from "./topology.ts";
 * import assert from "node:assert/strict";
 * const cpu = (id: number, coreId: number) => ({
 *   id, packageId: 0, dieId: 0, coreId, numaNode: 0, l3Id: 0,
 * });
 * const topology = new Topology([cpu(0, 0), cpu(1, 1), cpu(2, 0), cpu(3, 1)]);
 * assert.equal(topology.cores.length, 2);
 * assert.equal(topology.coreOf(3)?.cpus.toString(), "1,3");
 * assert.equal(topology.allCpus().toString(), "0-3");
 * ```
 */
export class Topology {
  /** Every logical CPU, ascending by id. */
  readonly cpus: readonly LogicalCpu[];
  /** Every physical core, ordered by its lowest logical CPU id. */
  readonly cores: readonly PhysicalCore[];
  readonly #byId: ReadonlyMap<number, LogicalCpu>;
  readonly #coreOfCpu: ReadonlyMap<number, PhysicalCore>;

  /**
   * Builds the topology from its logical CPUs, in any order.
   *
   * @throws {RangeError} when two CPUs share an id, or an id is not a
   * non-negative integer (null is allowed for `numaNode` and `l3Id`).
   */
  constructor(cpus: LogicalCpu[]) {
    const byId = new Map<number, LogicalCpu>();
    for (const cpu of cpus) {
      for (
        const field of [
          "id",
          "packageId",
          "dieId",
          "coreId",
          "numaNode",
          "l3Id",
        ] as const
      ) {
        checkInteger(cpu, field);
      }
      if (byId.has(cpu.id)) {
        throw new RangeError(`Duplicate logical CPU id ${cpu.id}`);
      }
      byId.set(cpu.id, Object.freeze({ ...cpu }));
    }
    this.cpus = Object.freeze(
      [...byId.values()].sort((a, b) => a.id - b.id),
    );

    const members = new Map<string, { key: CoreKey; ids: number[] }>();
    for (const cpu of this.cpus) {
      const key = coreKey(cpu);
      const entry = members.get(key) ??
        { key: cpu, ids: [] as number[] };
      entry.ids.push(cpu.id);
      members.set(key, entry);
    }
    // Map iteration keeps insertion order, and CPUs were visited in
    // ascending order, so cores come out ordered by their lowest CPU id.
    const cores: PhysicalCore[] = [];
    const coreOfCpu = new Map<number, PhysicalCore>();
    for (const { key, ids } of members.values()) {
      const core: PhysicalCore = Object.freeze({
        packageId: key.packageId,
        dieId: key.dieId,
        coreId: key.coreId,
        cpus: CpuSet.of(ids),
      });
      cores.push(core);
      for (const id of ids) coreOfCpu.set(id, core);
    }
    this.cores = Object.freeze(cores);
    this.#byId = byId;
    this.#coreOfCpu = coreOfCpu;
  }

  /** Every logical CPU id. */
  allCpus(): CpuSet {
    return CpuSet.of(this.cpus.map((c) => c.id));
  }

  /** The logical CPU with this id, or undefined. */
  cpu(id: number): LogicalCpu | undefined {
    return this.#byId.get(id);
  }

  /** Package (socket) ids, ascending. */
  packages(): number[] {
    return ascending(this.cpus.map((c) => c.packageId));
  }

  /** Die ids found in package `packageId`, ascending. */
  diesInPackage(packageId: number): number[] {
    return ascending(
      this.cpus.filter((c) => c.packageId === packageId).map((c) => c.dieId),
    );
  }

  /** NUMA node ids that hold at least one CPU, ascending. */
  numaNodes(): number[] {
    return ascending(
      this.cpus.flatMap((c) => c.numaNode === null ? [] : [c.numaNode]),
    );
  }

  /** L3 cache ids, ascending. */
  l3Ids(): number[] {
    return ascending(this.cpus.flatMap((c) => c.l3Id === null ? [] : [c.l3Id]));
  }

  /** The physical core whose cpus include `cpu`, or undefined. */
  coreOf(cpu: number): PhysicalCore | undefined {
    return this.#coreOfCpu.get(cpu);
  }

  /** The logical CPUs of one physical core (empty when there is none). */
  cpusInCore(core: CoreKey): CpuSet {
    const key = coreKey(core);
    return this.cores.find((c) => coreKey(c) === key)?.cpus ?? CpuSet.EMPTY;
  }

  /** Physical cores of package `packageId`, by lowest CPU id. */
  coresInPackage(packageId: number): PhysicalCore[] {
    return this.cores.filter((c) => c.packageId === packageId);
  }

  /** Physical cores with at least one CPU on NUMA node `node`. */
  coresInNumaNode(node: number): PhysicalCore[] {
    return this.cores.filter((core) =>
      core.cpus.toArray().some((id) => this.#byId.get(id)?.numaNode === node)
    );
  }

  /**
   * Where `cpus` sits: their NUMA nodes, packages and L3 ids.
   *
   * @example
   * ```ts
   * import { Topology } from "./topology.ts";
   * import { parseCpuList } from "./cpuset.ts";
   * import assert from "node:assert/strict";
   * const cpu = (id: number) => ({
   *   id, packageId: 0, dieId: 0, coreId: id, numaNode: id >> 1, l3Id: 0,
   * });
   * const topology = new Topology([0, 1, 2, 3].map(cpu));
   * const placement = topology.placementOf(parseCpuList("1-2,9"));
   * assert.deepEqual(placement.numaNodes, [0, 1]);
   * assert.deepEqual(placement.l3Ids, [0]);
   * assert.equal(placement.unknown.toString(), "9");
   * ```
   */
  placementOf(cpus: CpuSet): Placement {
    const nodes = new Set<number>();
    const packages = new Set<number>();
    const l3Ids = new Set<number>();
    const unknown: number[] = [];
    for (const id of cpus.toArray()) {
      const cpu = this.#byId.get(id);
      if (cpu === undefined) {
        unknown.push(id);
        continue;
      }
      packages.add(cpu.packageId);
      if (cpu.numaNode !== null) nodes.add(cpu.numaNode);
      if (cpu.l3Id !== null) l3Ids.add(cpu.l3Id);
    }
    return {
      numaNodes: ascending(nodes),
      packages: ascending(packages),
      l3Ids: ascending(l3Ids),
      unknown: CpuSet.of(unknown),
    };
  }

  /** Logical CPUs of package `packageId`. */
  cpusInPackage(packageId: number): CpuSet {
    return this.#cpusWhere((c) => c.packageId === packageId);
  }

  /** Logical CPUs of NUMA node `node`. */
  cpusInNumaNode(node: number): CpuSet {
    return this.#cpusWhere((c) => c.numaNode === node);
  }

  /** Logical CPUs sharing the L3 cache `l3Id`. */
  cpusInL3(l3Id: number): CpuSet {
    return this.#cpusWhere((c) => c.l3Id === l3Id);
  }

  #cpusWhere(test: (cpu: LogicalCpu) => boolean): CpuSet {
    return CpuSet.of(this.cpus.filter(test).map((c) => c.id));
  }
}
