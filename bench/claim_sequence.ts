/**
 * Seeded sequences of multi-core claims and releases for comparing
 * allocators (bench/kubelet_compare.ts), and the pool both replay them
 * against: one cpu list per physical core, as `kcm init` makes dataplane.
 */

import type { PoolView } from "../core/allocate.ts";
import { mulberry32 } from "../tests/_helpers/chaos.ts";
import type { Topology } from "../core/topology.ts";

/** One step: claim `cores` whole cores under `id`, or release `id`. */
export type ClaimStep =
  | { readonly op: "claim"; readonly id: string; readonly cores: number }
  | { readonly op: "release"; readonly id: string };

/**
 * `steps` claims and releases on a machine of `cores` physical cores:
 * each claim asks for 2 to `maxCores` cores (uniformly), and is only made
 * when that many cores are free, so that any allocator can meet it; the
 * machine fills up to between half and all its cores, then claims and
 * releases interleave at random, which fragments the free cores.
 */
export function claimSequence(
  cores: number,
  options: { seed: number; steps: number; maxCores: number },
): ClaimStep[] {
  const random = mulberry32(options.seed);
  const maxCores = Math.max(1, Math.min(options.maxCores, cores));
  const minCores = Math.min(2, maxCores);
  const live = new Map<string, number>();
  let free = cores, next = 0;
  const steps: ClaimStep[] = [];
  while (steps.length < options.steps) {
    const size = minCores +
      Math.floor(random() * (maxCores - minCores + 1));
    const claim = live.size === 0 || (random() < 0.55 && size <= free);
    if (claim && size <= free) {
      const id = `r${next++}`;
      live.set(id, size);
      free -= size;
      steps.push({ op: "claim", id, cores: size });
    } else if (live.size > 0) {
      const ids = [...live.keys()];
      const id = ids[Math.floor(random() * ids.length)]!;
      free += live.get(id)!;
      live.delete(id);
      steps.push({ op: "release", id });
    }
  }
  return steps;
}

/** A pool of one free list per physical core, in name order. */
export function corePool(topology: Topology): PoolView {
  const lists = topology.cores.map((core) => ({
    name: core.cpus.toArray().join(","),
    cpus: core.cpus,
    free: true,
  })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { name: "dataplane", exclusive: true, lists };
}
