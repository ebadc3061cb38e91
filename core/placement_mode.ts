/**
 * Placement modes: the order in which a pool of `kcm init` takes its
 * physical cores (`--dp-mode`, `--cp-mode`).
 */

import type { PhysicalCore, Topology } from "./topology.ts";

/**
 * The order in which a pool takes its cores: `packed` (the order
 * given, for `init` the reference order) or `spread` (round robin over
 * NUMA nodes); see {@linkcode takeCores}.
 */
export type PlacementMode = "packed" | "spread";

/** Every {@linkcode PlacementMode}, the default first. */
export const PLACEMENT_MODES: readonly PlacementMode[] = ["packed", "spread"];

/** True when `text` names a {@linkcode PlacementMode}. */
export function isPlacementMode(text: string): text is PlacementMode {
  return (PLACEMENT_MODES as readonly string[]).includes(text);
}

/** The NUMA node of a core (of its lowest CPU); null when unknown. */
function nodeOf(topology: Topology, core: PhysicalCore): number | null {
  return topology.cpu(core.cpus.toArray()[0]!)?.numaNode ?? null;
}

/**
 * Takes `count` cores of `candidates` in `mode`, removing them from
 * `candidates` (which must hold at least `count`).
 *
 * - `packed`: the first `count` candidates, in the order given.
 * - `spread`: one core per NUMA node in turn, the nodes in the order the
 *   candidates first reach them, each node's cores in the order given; a
 *   node that runs out is skipped.
 *
 * @example
 * ```ts
 * import { takeCores } from "./placement_mode.ts";
 * import { Topology } from "./topology.ts";
 * import assert from "node:assert/strict";
 * const cpu = (id: number) => ({
 *   id, packageId: 0, dieId: 0, coreId: id, numaNode: id >> 1, l3Id: 0,
 * });
 * const topology = new Topology([0, 1, 2, 3].map(cpu));
 * const candidates = [...topology.cores].reverse(); // 3, 2, 1, 0
 * const spread = takeCores(topology, candidates, 2, "spread");
 * assert.deepEqual(spread.map((c) => c.cpus.toString()), ["3", "1"]);
 * assert.deepEqual(candidates.map((c) => c.cpus.toString()), ["2", "0"]);
 * ```
 */
export function takeCores(
  topology: Topology,
  candidates: PhysicalCore[],
  count: number,
  mode: PlacementMode,
): PhysicalCore[] {
  if (count > candidates.length) {
    throw new RangeError(
      `Cannot take ${count} cores out of ${candidates.length} candidates`,
    );
  }
  if (mode === "packed") return candidates.splice(0, count);
  // Deal round robin over the nodes, in the order the reference order
  // first reaches them; a node that runs out is skipped.
  const byNode = new Map<number | null, PhysicalCore[]>();
  for (const core of candidates) {
    const node = nodeOf(topology, core);
    const queue = byNode.get(node) ?? [];
    queue.push(core);
    byNode.set(node, queue);
  }
  const queues = [...byNode.values()];
  const taken: PhysicalCore[] = [];
  for (let turn = 0; taken.length < count; turn++) {
    const core = queues[turn % queues.length]!.shift();
    if (core !== undefined) taken.push(core);
  }
  const chosen = new Set(taken);
  const rest = candidates.filter((core) => !chosen.has(core));
  candidates.splice(0, candidates.length, ...rest);
  return taken;
}
