/**
 * Chooses the cpu lists a claim takes from a pool, topology-aware: for an
 * exclusive pool, `count` free lists in one step, all on one NUMA node and
 * under one L3 cache when the free lists allow it, packed so that big
 * empty blocks survive (the way the kubelet's static CPU manager packs
 * CPUs); for a shared pool, one random list. Pure: the caller reads the
 * pool and the topology, and writes the claim.
 */

import { CpuSet } from "./cpuset.ts";
import {
  AllocationError,
  type FreeCount,
  type PlacementConstraint,
} from "./allocation_error.ts";
import { type Candidate, packLists } from "./pack_lists.ts";
import type { Topology } from "./topology.ts";

/** One cpu list of a pool, as the allocator sees it. */
export interface PoolList {
  /** The directory name, verbatim. */
  readonly name: string;
  readonly cpus: CpuSet;
  /** True when no task holds the list. */
  readonly free: boolean;
}

/** A pool, as the allocator sees it. */
export interface PoolView {
  readonly name: string;
  readonly exclusive: boolean;
  /** The pool's lists in name order (the order `isolate` prefers). */
  readonly lists: readonly PoolList[];
}

/** What to claim. */
export interface AllocationRequest {
  /** Lists to claim in an exclusive pool (`--cores`); default 1. */
  readonly count?: number | undefined;
  /** Only lists whose CPUs all lie on this NUMA node (`--numa-node`). */
  readonly numaNode?: number | undefined;
  /**
   * Only lists whose CPUs all lie on this socket (`--socket-id`); not
   * together with `numaNode` (a node lies in one socket).
   */
  readonly socketId?: number | undefined;
  /** Source of [0, 1) numbers for a shared pool; default `Math.random`. */
  readonly random?: () => number;
}

/** A claim that crosses NUMA nodes, to be logged. */
export interface AllocationWarning {
  readonly code: "spans-numa-nodes";
  readonly numaNodes: readonly number[];
  readonly message: string;
}

/** The chosen lists. */
export interface Allocation {
  /** The lists to claim, in name order. */
  readonly lists: readonly PoolList[];
  /** Every CPU of those lists. */
  readonly cpus: CpuSet;
  /** NUMA nodes of those CPUs, ascending; empty when unknown. */
  readonly numaNodes: readonly number[];
  readonly warnings: readonly AllocationWarning[];
}

function constraintOf(request: AllocationRequest): PlacementConstraint | null {
  if (request.numaNode !== undefined && request.socketId !== undefined) {
    throw new RangeError("A claim takes a NUMA node or a socket, not both");
  }
  if (request.numaNode !== undefined) return { numaNode: request.numaNode };
  if (request.socketId !== undefined) return { socketId: request.socketId };
  return null;
}

/** Checks the constraint and keeps the lists that lie wholly inside it. */
function restrict(
  pool: PoolView,
  topology: Topology,
  candidates: Candidate[],
  where: PlacementConstraint | null,
): Candidate[] {
  if (where === null) return candidates;
  const byNode = "numaNode" in where;
  const id = byNode ? where.numaNode : where.socketId;
  const known = byNode ? topology.numaNodes() : topology.packages();
  if (!known.includes(id)) {
    throw new AllocationError(
      pool.name,
      byNode
        ? { reason: "unknown-numa-node", numaNode: id, known }
        : { reason: "unknown-socket", socketId: id, known },
    );
  }
  const idsOf = (c: Candidate) =>
    byNode ? c.placement.numaNodes : c.placement.packages;
  return candidates.filter((c) =>
    c.placement.unknown.isEmpty() && idsOf(c).length === 1 &&
    idsOf(c)[0] === id
  );
}

/**
 * Lists outside the constraint (only free ones for an exclusive pool),
 * counted per node or socket.
 */
function freeElsewhere(
  all: readonly Candidate[],
  there: ReadonlySet<Candidate>,
  where: PlacementConstraint,
  exclusive: boolean,
): FreeCount[] {
  const counts = new Map<number | null, number>();
  for (const c of all) {
    if ((exclusive && !c.list.free) || there.has(c)) continue;
    const ids = "numaNode" in where
      ? c.placement.numaNodes
      : c.placement.packages;
    const id = ids.length === 1 && c.placement.unknown.isEmpty()
      ? ids[0]!
      : null;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return [...counts].map(([id, free]) => ({ id, free }))
    .sort((a, b) => (a.id ?? Infinity) - (b.id ?? Infinity));
}

/** The allocation of `chosen`; `why` explains a claim that may span nodes. */
function result(chosen: readonly Candidate[], why: string | null): Allocation {
  const ordered = [...chosen].sort((a, b) => a.rank - b.rank);
  const cpus = CpuSet.of(ordered.flatMap((c) => c.list.cpus.toArray()));
  const numaNodes = [...new Set(ordered.flatMap((c) => c.placement.numaNodes))]
    .sort((a, b) => a - b);
  const warnings: AllocationWarning[] = why === null || numaNodes.length < 2
    ? []
    : [{
      code: "spans-numa-nodes",
      numaNodes,
      message: `Claim of ${ordered.length} cpu lists spans NUMA nodes ` +
        `${numaNodes.join(",")}: ${why}`,
    }];
  return { lists: ordered.map((c) => c.list), cpus, numaNodes, warnings };
}

/**
 * Chooses the lists a claim takes from `pool`.
 *
 * Exclusive pool, `count` = n lists, all or nothing:
 * 1. n must not exceed the pool's lists (`pool-too-small`; for n = 1, an
 *    empty pool is `not-enough-free`, the reference's message).
 * 2. With `numaNode` or `socketId`, only lists whose CPUs all lie on that
 *    node or socket count; an id the topology lacks is `unknown-numa-node`
 *    or `unknown-socket`, fewer than n free there is
 *    `not-enough-free-there` with the free lists per node (or socket)
 *    elsewhere. Fewer than n free lists at all is `not-enough-free`.
 * 3. Pack (`packLists()` in `core/pack_lists.ts`): if some NUMA node has
 *    n free lists, all n come from one node, preferring a node where one
 *    L3 group holds them, then the fullest node (fewest free lists, then
 *    most taken), so that emptier nodes stay whole for bigger claims.
 * 4. Inside that node, the fullest L3 group with n free lists gives its
 *    first n in name order; else the fewest L3 groups are used.
 * 5. If no node has n free lists, the claim spans the fewest nodes (best
 *    fit, then the fewest sockets; wholly free nodes are taken whole) and
 *    the allocation carries a `spans-numa-nodes` warning.
 *
 * On a pool that lies on one node and under one L3, step 4 gives the
 * first n free lists in name order: for n = 1, the reference's choice.
 *
 * Shared pool: `count` is ignored; one list at random among those that
 * lie on `numaNode`/`socketId` when given, else among all.
 *
 * @throws {RangeError} when `count` is not a positive integer, or both
 * `numaNode` and `socketId` are given.
 * @throws {AllocationError} when the claim cannot be met; `failure` holds
 * the data of the message.
 *
 * @example
 * ```ts
 * import { allocateLists } from "./allocate.ts";
 * import { parseCpuList } from "./cpuset.ts";
 * import { Topology } from "./topology.ts";
 * import assert from "node:assert/strict";
 * // Two nodes of two single-thread cores: node 0 = CPUs 0,1, node 1 = 2,3.
 * const topology = new Topology([0, 1, 2, 3].map((id) => ({
 *   id, packageId: 0, dieId: 0, coreId: id, numaNode: id >> 1, l3Id: id >> 1,
 * })));
 * const list = (name: string, free = true) =>
 *   ({ name, cpus: parseCpuList(name), free });
 * const pool = {
 *   name: "dataplane",
 *   exclusive: true,
 *   lists: [list("0"), list("1", false), list("2"), list("3")],
 * };
 * // Node 0 has one free list, node 1 two: two lists fit only on node 1.
 * const two = allocateLists(pool, topology, { count: 2 });
 * assert.equal(two.cpus.toString(), "2-3");
 * assert.deepEqual(two.numaNodes, [1]);
 * // One list goes to the fuller node 0, keeping node 1 whole.
 * assert.equal(allocateLists(pool, topology, {}).cpus.toString(), "0");
 * ```
 */
export function allocateLists(
  pool: PoolView,
  topology: Topology,
  request: AllocationRequest,
): Allocation {
  const count = request.count ?? 1;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`A claim needs a positive whole count, got ${count}`);
  }
  const all: Candidate[] = pool.lists.map((list, rank) => ({
    list,
    rank,
    placement: topology.placementOf(list.cpus),
  }));
  const where = constraintOf(request);
  const candidates = restrict(pool, topology, all, where);

  if (!pool.exclusive) {
    if (candidates.length === 0) {
      throw new AllocationError(
        pool.name,
        where === null
          ? { reason: "not-enough-free", requested: 1, lists: 0, taken: 0 }
          : {
            reason: "not-enough-free-there",
            requested: 1,
            where,
            freeThere: 0,
            freeElsewhere: freeElsewhere(all, new Set(), where, false),
          },
      );
    }
    const random = request.random ?? Math.random;
    return result(
      [candidates[Math.floor(random() * candidates.length)]!],
      null,
    );
  }

  // One list from an empty pool keeps the reference's "No free cpu lists".
  if (count > 1 && count > pool.lists.length) {
    throw new AllocationError(pool.name, {
      reason: "pool-too-small",
      requested: count,
      lists: pool.lists.length,
    });
  }
  const free = candidates.filter((c) => c.list.free);
  if (free.length < count) {
    const taken = pool.lists.filter((l) => !l.free).length;
    throw new AllocationError(
      pool.name,
      where === null
        ? {
          reason: "not-enough-free",
          requested: count,
          lists: pool.lists.length,
          taken,
        }
        : {
          reason: "not-enough-free-there",
          requested: count,
          where,
          freeThere: free.length,
          freeElsewhere: freeElsewhere(all, new Set(candidates), where, true),
        },
    );
  }

  const packed = packLists(free, all.filter((c) => !c.list.free), count);
  return result(
    packed.chosen,
    packed.mostOnOneNode === undefined
      ? null
      : `no NUMA node has ${count} free cpu lists in pool ${pool.name} ` +
        `(at most ${packed.mostOnOneNode})`,
  );
}
