/**
 * The pools and cpu lists `kcm init` creates, planned from a topology:
 * the reference assignment (SPEC §3.2), kept exactly, including the
 * cpu-list directory names, plus one departure for very large machines
 * (see {@linkcode planLayout}).
 */

import { CpuSet } from "./cpuset.ts";
import { ResourceError } from "./errors.ts";
import type { PhysicalCore, Topology } from "./topology.ts";

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
  throw new ResourceError(
    `Cannot name the cpu list of pool "${pool}": even its range form ` +
      `"${ranges}" is ${ranges.length} bytes, above the ${NAME_MAX}-byte ` +
      "file name limit",
  );
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `The ${name} core count must be a non-negative integer, got ${value}`,
    );
  }
}

/**
 * Plans `init`'s pools: `[dataplane, controlplane, infra]`.
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
  counts: { dataplane: number; controlplane: number },
): PoolLayout[] {
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

  const remaining = [...topology.cores];
  const dataplane = remaining.splice(remaining.length - counts.dataplane)
    .reverse();
  const controlplane = remaining.splice(
    remaining.length - counts.controlplane,
  ).reverse();

  return [
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
      cpuLists: [listName("infra", remaining)],
    },
  ];
}
