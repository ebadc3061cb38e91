/**
 * The packing steps of the allocator (`allocateLists()` in
 * `core/allocate.ts`): which `count` of a pool's free cpu lists to take so
 * that the claim stays on one NUMA node and under one L3 when it can, and
 * packs into the fullest node and L3 so that emptier ones stay whole.
 */

import type { PoolList } from "./allocate.ts";
import type { Placement } from "./topology.ts";

/** A list with where it sits and its rank in the pool (name order). */
export interface Candidate {
  readonly list: PoolList;
  readonly rank: number;
  readonly placement: Placement;
}

/** Free candidates sharing a NUMA node or an L3, and the group's usage. */
interface Group {
  readonly key: number | null;
  readonly members: Candidate[];
  /** Taken lists of the pool in this group (its "fullness"). */
  readonly used: number;
}

/** Group key: the one id all of a list's CPUs share, null for none. */
type KeyOf = (candidate: Candidate) => number | null | "span";

function single(ids: readonly number[], placement: Placement) {
  if (!placement.unknown.isEmpty() || ids.length > 1) return "span";
  return ids.length === 1 ? ids[0]! : null;
}
const nodeKey: KeyOf = (c) => single(c.placement.numaNodes, c.placement);
const l3Key: KeyOf = (c) => single(c.placement.l3Ids, c.placement);

/** Groups `free` by `keyOf`, counting taken lists of `taken` per group. */
function groupBy(
  free: readonly Candidate[],
  taken: readonly Candidate[],
  keyOf: KeyOf,
): { groups: Group[]; spanning: Candidate[] } {
  const members = new Map<number | null, Candidate[]>();
  const spanning: Candidate[] = [];
  for (const c of free) {
    const key = keyOf(c);
    if (key === "span") spanning.push(c);
    else members.set(key, [...members.get(key) ?? [], c]);
  }
  const used = new Map<number | null | "span", number>();
  for (const c of taken) used.set(keyOf(c), (used.get(keyOf(c)) ?? 0) + 1);
  const groups = [...members].map(([key, list]) => ({
    key,
    members: list,
    used: used.get(key) ?? 0,
  }));
  return { groups, spanning };
}

/** Best fit: fewest free members, then most used, then first in name order. */
function fuller(a: Group, b: Group): number {
  return a.members.length - b.members.length || b.used - a.used ||
    a.members[0]!.rank - b.members[0]!.rank;
}

/** Most free members first, for covering a count with few groups. */
function larger(a: Group, b: Group): number {
  return b.members.length - a.members.length || fuller(a, b);
}

/**
 * Takes `count` of `groups`' members from as few groups as possible: the
 * largest groups whole, the rest from the fullest group that can give it,
 * through `take` (which chooses inside a group). Undefined when all the
 * groups together have fewer than `count`.
 */
function fewestGroups(
  groups: readonly Group[],
  count: number,
  take: (group: Group, count: number) => Candidate[],
): Candidate[] | undefined {
  const bySize = [...groups].sort(larger);
  const chosen: Candidate[] = [];
  let i = 0;
  while (
    i < bySize.length && chosen.length + bySize[i]!.members.length < count
  ) {
    chosen.push(...bySize[i++]!.members);
  }
  const rest = count - chosen.length;
  if (rest === 0) return chosen;
  const last = bySize.slice(i).filter((g) => g.members.length >= rest)
    .sort(fuller)[0];
  return last === undefined ? undefined : [...chosen, ...take(last, rest)];
}

/** `count` members of one node's group, under one L3 when possible. */
function takeInNode(
  node: Group,
  taken: readonly Candidate[],
  count: number,
): Candidate[] {
  const { groups, spanning } = groupBy(node.members, taken, l3Key);
  const fit = groups.filter((g) => g.members.length >= count).sort(fuller)[0];
  if (fit !== undefined) return fit.members.slice(0, count);
  const byL3 = (g: Group, n: number) => g.members.slice(0, n);
  return fewestGroups(groups, count, byL3) ??
    [...groups.flatMap((g) => g.members), ...spanning].slice(0, count);
}

/** The socket of a node group's members; undefined if they span sockets. */
function packageOf(group: Group): number | undefined {
  const packages = new Set(group.members.flatMap((c) => c.placement.packages));
  return packages.size === 1 ? [...packages][0] : undefined;
}

/** What {@linkcode packLists} chose. */
export interface Packing {
  readonly chosen: Candidate[];
  /**
   * Undefined when the claim fits on one node; else the most free lists
   * any one node had (the claim may span nodes).
   */
  readonly mostOnOneNode: number | undefined;
}

/**
 * Chooses `count` of the `free` lists (`taken`: the pool's other lists,
 * which tell how full each node and L3 is). Needs `free.length >= count`.
 *
 * 1. Group the free lists by NUMA node (lists with no known node form one
 *    group; lists spanning nodes, or with CPUs the topology does not know,
 *    are kept for last). If some node has `count` free lists, take them
 *    all there: prefer a node where one L3 group holds them all, then the
 *    fullest node (fewest free lists, then most taken lists, then the one
 *    whose first free list comes first in name order), so that emptier
 *    nodes stay whole for bigger claims.
 * 2. Inside the chosen node, group by L3 id: the fullest L3 with `count`
 *    free lists gives its first `count` in name order; else take the
 *    largest L3 groups whole and the rest from the fullest L3 that can
 *    give it (the fewest L3 groups).
 * 3. If no node has `count` free lists, span the fewest nodes the same way
 *    (largest nodes whole, the rest from the fullest node that can give
 *    it, inside each node as in step 2), within one socket when one socket
 *    can do it with that few nodes (the fullest such socket). Lists kept
 *    for last fill any gap.
 */
export function packLists(
  free: readonly Candidate[],
  taken: readonly Candidate[],
  count: number,
): Packing {
  const { groups: nodes, spanning } = groupBy(free, taken, nodeKey);
  const oneNode = chooseOneNode(nodes, taken, count);
  if (oneNode !== undefined) {
    return { chosen: oneNode, mostOnOneNode: undefined };
  }
  return {
    chosen: chooseFewestNodes(nodes, spanning, taken, count),
    mostOnOneNode: Math.max(0, ...nodes.map((node) => node.members.length)),
  };
}

/** Steps 3 and 4: `count` lists on one node, or undefined if none can. */
function chooseOneNode(
  nodes: readonly Group[],
  taken: readonly Candidate[],
  count: number,
): Candidate[] | undefined {
  const holdsInL3 = (node: Group) =>
    groupBy(node.members, taken, l3Key).groups
      .some((g) => g.members.length >= count);
  const best = nodes.filter((node) => node.members.length >= count)
    .map((node) => ({ node, l3: holdsInL3(node) }))
    .sort((a, b) => Number(b.l3) - Number(a.l3) || fuller(a.node, b.node))[0];
  return best && takeInNode(best.node, taken, count);
}

/** Step 5: `count` lists from the fewest nodes, in one socket if it can. */
function chooseFewestNodes(
  nodes: readonly Group[],
  spanning: readonly Candidate[],
  taken: readonly Candidate[],
  count: number,
): Candidate[] {
  const plan = (groups: readonly Group[]) =>
    fewestGroups(groups, count, (node, n) => takeInNode(node, taken, n));
  const widest = plan(nodes);
  if (widest === undefined) {
    // Only with the lists kept for last do the free lists add up.
    return [...nodes.flatMap((node) => node.members), ...spanning]
      .slice(0, count);
  }
  const spanned = new Set(widest.map(nodeKey)).size;
  const inOneSocket = [...new Set(nodes.map(packageOf))]
    .filter((p): p is number => p !== undefined)
    .map((p) => nodes.filter((node) => packageOf(node) === p))
    .map((groups) => ({ groups, chosen: plan(groups) }))
    .filter((s) =>
      s.chosen !== undefined && new Set(s.chosen.map(nodeKey)).size <= spanned
    )
    .sort((a, b) =>
      sum(a.groups) - sum(b.groups) ||
      firstRank(a.groups) - firstRank(b.groups)
    );
  return inOneSocket[0]?.chosen ?? widest;
}

function firstRank(groups: readonly Group[]): number {
  return Math.min(...groups.map((g) => g.members[0]!.rank));
}

function sum(groups: readonly Group[]): number {
  return groups.reduce((total, g) => total + g.members.length, 0);
}
