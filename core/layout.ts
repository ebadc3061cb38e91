/**
 * The pools and cpu lists `kcm init` creates, planned from a topology:
 * the reference assignment, kept exactly (cpu-list directory names
 * included) when no CPU is isolated and no placement mode is asked for,
 * plus isolcpus-aware planning and the `packed`/`spread` placement modes
 * (see {@linkcode planPools}), and one departure for very large machines
 * (see {@linkcode planLayout}).
 */

import { CpuSet } from "./cpuset.ts";
import { type KcmErrorOptions, ResourceError } from "./errors.ts";
import { type PlacementMode, takeCores } from "./placement_mode.ts";
import type { PhysicalCore, Topology } from "./topology.ts";
import { quote } from "./quote.ts";

/** One pool of the config directory and the names of its cpu lists. */
export interface PoolLayout {
  /** `dataplane`, `controlplane` or `infra`. */
  name: string;
  /** True for the dataplane pool: one task per cpu list. */
  exclusive: boolean;
  /** Names of the pool's cpu-list directories, in creation order. */
  cpuLists: string[];
}

/** Longest file name Linux allows (NAME_MAX), in bytes. */
export const NAME_MAX = 255;

const encoder = new TextEncoder();

/** A core's CPU string: its logical CPU ids ascending, joined by ",". */
function coreName(core: PhysicalCore): string {
  return core.cpus.toArray().join(",");
}

/**
 * The directory name of a cpu list made of `cores`: their CPU strings
 * joined by "," in the given order, as the reference names it; when that
 * is longer than {@linkcode NAME_MAX} bytes, the canonical range form.
 */
function listName(pool: string, cores: readonly PhysicalCore[]): string {
  const reference = cores.map(coreName).join(",");
  if (encoder.encode(reference).length <= NAME_MAX) return reference;
  const ranges = CpuSet.of(cores.flatMap((c) => c.cpus.toArray())).toString();
  if (encoder.encode(ranges).length <= NAME_MAX) return ranges;
  throw new ListNameTooLongError(pool, ranges);
}

/**
 * A cpu list no file name can hold: even its range form is over
 * {@linkcode NAME_MAX} bytes (a big machine whose CPU ids are scattered).
 */
export class ListNameTooLongError extends ResourceError {
  readonly pool: string;
  /** The range form that is too long. */
  readonly ranges: string;

  constructor(pool: string, ranges: string) {
    super(
      `Cannot name the cpu list of pool ${quote(pool)}: even its range form ` +
        `${quote(ranges)} is ${ranges.length} bytes, above the ` +
        `${NAME_MAX}-byte file name limit`,
    );
    this.pool = pool;
    this.ranges = ranges;
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `The ${name} core count must be a non-negative integer, got ${value}`,
    );
  }
}

/** How many cores `dataplane` and `controlplane` get. */
export interface CoreCounts {
  readonly dataplane: number;
  readonly controlplane: number;
}

/** How {@linkcode planPools} places the pools. */
export interface LayoutOptions {
  /**
   * The CPUs the kernel isolates (`readIsolatedCpus()`); CPUs not in the
   * topology are ignored. Default: none.
   */
  readonly isolated?: CpuSet;
  /** Plan as if no CPU were isolated (`--ignore-isolcpus`). */
  readonly ignoreIsolcpus?: boolean;
  /** Order of the dataplane cores (`--dp-mode`), default `packed`. */
  readonly dataplaneMode?: PlacementMode;
  /** Order of the controlplane cores (`--cp-mode`), default `packed`. */
  readonly controlplaneMode?: PlacementMode;
}

/** What a {@linkcode LayoutWarning} is about. */
export type LayoutWarningCode =
  /** A core with some, not all, of its online threads isolated. */
  | "partly-isolated-core"
  /** Fully isolated cores that dataplane and controlplane left to infra. */
  | "isolated-cores-in-infra";

/** Something the operator should know about a plan; the command logs it. */
export interface LayoutWarning {
  readonly code: LayoutWarningCode;
  /** The CPUs concerned. */
  readonly cpus: CpuSet;
  /** One line for the log. */
  readonly message: string;
}

/** The result of {@linkcode planPools}. */
export interface LayoutPlan {
  /** `[dataplane, controlplane, infra]`. */
  readonly pools: PoolLayout[];
  /** Warnings to log, in a stable order. */
  readonly warnings: LayoutWarning[];
  /**
   * The fully isolated cores the plan chose from; empty when no online
   * CPU is isolated or `ignoreIsolcpus` was set (the plain layout).
   */
  readonly isolatedCores: CpuSet;
}

/** Too few fully isolated physical cores for dataplane + controlplane. */
export class IsolatedCoresError extends ResourceError {
  /** Fully isolated physical cores found. */
  readonly found: number;
  /** Cores asked for: dataplane + controlplane. */
  readonly needed: number;

  constructor(found: number, counts: CoreCounts, options: KcmErrorOptions) {
    const needed = counts.dataplane + counts.controlplane;
    super(
      `Not enough isolated physical cores: need ${needed} ` +
        `(${counts.dataplane} dataplane + ${counts.controlplane} ` +
        `controlplane), found ${found} with every thread isolated`,
      1,
      options,
    );
    this.found = found;
    this.needed = needed;
  }
}

/** The cores whose online threads are all in `isolated`, and those with some. */
function classifyIsolation(
  topology: Topology,
  isolated: CpuSet,
): { full: PhysicalCore[]; partial: PhysicalCore[] } {
  const full: PhysicalCore[] = [], partial: PhysicalCore[] = [];
  for (const core of topology.cores) {
    const inside = core.cpus.intersection(isolated).size;
    if (inside === core.cpus.size) full.push(core);
    else if (inside > 0) partial.push(core);
  }
  return { full, partial };
}

function unionOf(cores: readonly PhysicalCore[]): CpuSet {
  return CpuSet.of(cores.flatMap((core) => core.cpus.toArray()));
}

/**
 * Plans `init`'s pools, `[dataplane, controlplane, infra]`, and the
 * warnings to log.
 *
 * 1. Check the counts: at least `dataplane + controlplane + 1` physical
 *    cores (infra needs one).
 * 2. Candidates. When no online CPU is isolated, or `ignoreIsolcpus` is
 *    set, every core is a candidate (the plain layout). Otherwise only the
 *    fully isolated cores (every online thread in `isolated`) are; fewer
 *    than `dataplane + controlplane` is an {@linkcode IsolatedCoresError}.
 *    A partly isolated core is never a candidate: it stays in infra with a
 *    `partly-isolated-core` warning naming its CPUs.
 * 3. Order. Candidates start in the reference order: the highest physical
 *    core first (cores ordered by their lowest CPU id).
 *    - `packed` takes them in that order. Where the firmware numbers CPUs
 *      node by node (every fixture but the interleaved dual socket), this
 *      fills one NUMA node completely before the next: dataplane starts on
 *      the highest node, controlplane continues downwards, and infra keeps
 *      node 0 and up. Where the numbering alternates between sockets, so
 *      does `packed`, exactly as the reference did.
 *    - `spread` deals one core per NUMA node in turn, the nodes in the
 *      order `packed` would reach them, each node's cores in `packed`
 *      order, skipping nodes that have run out.
 * 4. `dataplane` (exclusive) takes `dataplane` candidates in its mode, one
 *    cpu list per core, named by the core's CPU string (`"3,7"`);
 *    `controlplane` (shared) takes `controlplane` of the remaining
 *    candidates in its mode, as one cpu list named by their CPU strings in
 *    the order taken (`"2,6,1,5"`); with a count of 0 the pool has no
 *    list. `infra` (shared) gets one list of every other core, in
 *    ascending core order (`"0,4,1,5"`).
 * 5. Fully isolated cores left to infra give an `isolated-cores-in-infra`
 *    warning: the scheduler does not balance load onto isolated CPUs.
 *
 * Example, SNC-2 dual socket (40 cores, node `n` holds cores `10n`..
 * `10n+9`, siblings `c` and `c+40`), 4 dataplane cores: `packed` gives
 * `39,79 38,78 37,77 36,76` (all on node 3), `spread` gives
 * `39,79 29,69 19,59 9,49` (one per node, node 3 first).
 *
 * Cpu-list names longer than {@linkcode NAME_MAX} bytes use the canonical
 * range form (see {@linkcode planLayout}).
 *
 * @throws {RangeError} when a count is not a non-negative integer.
 * @throws {ResourceError} when there are too few physical cores, or a list
 * cannot be named in 255 bytes.
 * @throws {IsolatedCoresError} when there are too few fully isolated cores.
 *
 * @example
 * ```ts
 * import { planPools } from "./layout.ts";
 * import { parseCpuList } from "./cpuset.ts";
 * import { Topology } from "./topology.ts";
 * import assert from "node:assert/strict";
 * const cpu = (id: number) => ({
 *   id, packageId: 0, dieId: 0, coreId: id % 4, numaNode: 0, l3Id: 0,
 * });
 * const topology = new Topology([0, 1, 2, 3, 4, 5, 6, 7].map(cpu));
 * // isolcpus=1,2,5,6: cores 1,5 and 2,6 are fully isolated.
 * const plan = planPools(topology, { dataplane: 1, controlplane: 1 }, {
 *   isolated: parseCpuList("1,2,5,6"),
 * });
 * assert.deepEqual(plan.pools.map((pool) => pool.cpuLists), [
 *   ["2,6"], ["1,5"], ["0,4,3,7"],
 * ]);
 * assert.deepEqual(plan.warnings, []);
 * ```
 */
export function planPools(
  topology: Topology,
  counts: CoreCounts,
  options: LayoutOptions = {},
): LayoutPlan {
  checkCount("dataplane", counts.dataplane);
  checkCount("controlplane", counts.controlplane);
  const needed = counts.dataplane + counts.controlplane + 1;
  const found = topology.cores.length;
  if (found < needed) {
    throw new ResourceError(
      `Not enough physical cores: need ${needed} (${counts.dataplane} ` +
        `dataplane + ${counts.controlplane} controlplane + 1 infra), ` +
        `found ${found}`,
    );
  }

  const isolated = options.ignoreIsolcpus === true
    ? CpuSet.EMPTY
    : (options.isolated ?? CpuSet.EMPTY).intersection(topology.allCpus());
  const warnings: LayoutWarning[] = [];
  let candidates = [...topology.cores];
  let isolatedCores = CpuSet.EMPTY;
  if (!isolated.isEmpty()) {
    const { full, partial } = classifyIsolation(topology, isolated);
    for (const core of partial) {
      warnings.push({
        code: "partly-isolated-core",
        cpus: core.cpus,
        message: `Physical core of CPUs ${core.cpus} is only partly ` +
          `isolated (isolated: ${core.cpus.intersection(isolated)}): ` +
          "left to infra",
      });
    }
    if (full.length < counts.dataplane + counts.controlplane) {
      throw new IsolatedCoresError(full.length, counts, {
        hint: "isolate every thread of more cores (isolcpus=), ask for " +
          "fewer cores, or pass --ignore-isolcpus",
      });
    }
    candidates = full;
    isolatedCores = unionOf(full);
  }

  candidates.reverse();
  const dataplane = takeCores(
    topology,
    candidates,
    counts.dataplane,
    options.dataplaneMode ?? "packed",
  );
  const controlplane = takeCores(
    topology,
    candidates,
    counts.controlplane,
    options.controlplaneMode ?? "packed",
  );
  const used = new Set([...dataplane, ...controlplane]);
  const infra = topology.cores.filter((core) => !used.has(core));
  if (!isolatedCores.isEmpty() && candidates.length > 0) {
    const left = unionOf(candidates);
    warnings.push({
      code: "isolated-cores-in-infra",
      cpus: left,
      message: `Isolated CPUs ${left} are not used by dataplane or ` +
        "controlplane and stay in infra, where the scheduler does not " +
        "balance load onto them",
    });
  }

  return {
    pools: [
      {
        name: "dataplane",
        exclusive: true,
        cpuLists: dataplane.map((core) => listName("dataplane", [core])),
      },
      {
        name: "controlplane",
        exclusive: false,
        cpuLists: controlplane.length === 0
          ? []
          : [listName("controlplane", controlplane)],
      },
      {
        name: "infra",
        exclusive: false,
        cpuLists: [listName("infra", infra)],
      },
    ],
    warnings,
    isolatedCores,
  };
}

/**
 * The plain reference layout: {@linkcode planPools} with no isolated CPU
 * and `packed` placement, i.e.
 *
 * 1. `dataplane` (exclusive) takes `counts.dataplane` cores from the end of
 *    the core order (highest first), one cpu list per core, named by the
 *    core's CPU string (`"3,7"`).
 * 2. `controlplane` (shared) takes `counts.controlplane` more cores from
 *    the end and gets one cpu list named by their CPU strings in the order
 *    taken (`"2,6,1,5"`); with a count of 0 the pool has no list.
 * 3. `infra` (shared) gets one cpu list with all remaining cores, in
 *    ascending core order (`"0,4,1,5"`); it needs at least one core.
 *
 * Departure from the reference: a directory name has at most
 * {@linkcode NAME_MAX} (255) bytes, and on big machines (infra on a
 * 256-CPU EPYC) the reference name is longer, so `mkdir` would fail. Such a
 * list is named by the canonical range form of its CPUs instead
 * (`"0-122,128-250"`), which every cpu-list reader parses the same way.
 *
 * @throws {RangeError} when a count is not a non-negative integer.
 * @throws {ResourceError} when there are fewer than `dataplane +
 * controlplane + 1` physical cores, or a list cannot be named in 255 bytes.
 *
 * @example
 * ```ts
 * import { planLayout } from "./layout.ts";
 * import { Topology } from "./topology.ts";
 * import assert from "node:assert/strict";
 * const cpu = (id: number) => ({
 *   id, packageId: 0, dieId: 0, coreId: id % 4, numaNode: 0, l3Id: 0,
 * });
 * const topology = new Topology([0, 1, 2, 3, 4, 5, 6, 7].map(cpu));
 * assert.deepEqual(planLayout(topology, { dataplane: 1, controlplane: 2 }), [
 *   { name: "dataplane", exclusive: true, cpuLists: ["3,7"] },
 *   { name: "controlplane", exclusive: false, cpuLists: ["2,6,1,5"] },
 *   { name: "infra", exclusive: false, cpuLists: ["0,4"] },
 * ]);
 * ```
 */
export function planLayout(
  topology: Topology,
  counts: CoreCounts,
): PoolLayout[] {
  return planPools(topology, counts).pools;
}
