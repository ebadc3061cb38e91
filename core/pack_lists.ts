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

/** Beyond this many candidate sets, {@linkcode fewestGroups} goes greedy. */
const SEARCH_LIMIT = 4096;

/** The number of ways to choose `k` of `n` things, capped above the limit. */
function combinations(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k && result <= SEARCH_LIMIT; i++) {
    result = result * (n - k + i) / i;
  }
  return result;
}

/** Calls `visit` with every `k`-element subset of `items`. */
function eachSubset<T>(
  items: readonly T[],
  k: number,
  visit: (subset: T[]) => void,
): void {
  const subset: T[] = [];
  const walk = (start: number) => {
    if (subset.length === k) return visit([...subset]);
    for (let i = start; i <= items.length - (k - subset.length); i++) {
      subset.push(items[i]!);
      walk(i + 1);
      subset.pop();
    }
  };
  walk(0);
}

/** Lexicographic order of equally long number tuples. */
function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return 0;
}

function total(groups: readonly Group[], of: (g: Group) => number): number {
  return groups.reduce((sum, g) => sum + of(g), 0);
}

function firstRank(groups: readonly Group[]): number {
  return Math.min(...groups.map((g) => g.members[0]!.rank));
}

/**
 * The fewest groups whose free members add up to `count` (undefined when
 * all of them do not), best fit among the sets of that size: the fewest
 * free members in total, so that the emptiest groups stay whole, then the
 * fewest sockets (`spread` counts them; 0 when it does not matter), then
 * the most taken, then the first in name order. With more than
 * {@linkcode SEARCH_LIMIT} sets to weigh, the largest groups instead.
 */
function fewestGroups(
  groups: readonly Group[],
  count: number,
  spread: (groups: readonly Group[]) => number,
): Group[] | undefined {
  const bySize = [...groups].sort((a, b) =>
    b.members.length - a.members.length || fuller(a, b)
  );
  let k = 0, reach = 0;
  while (k < bySize.length && reach < count) {
    reach += bySize[k++]!.members.length;
  }
  if (reach < count) return undefined;
  if (combinations(groups.length, k) > SEARCH_LIMIT) return bySize.slice(0, k);
  let best: { set: Group[]; key: number[] } | undefined;
  eachSubset(groups, k, (set) => {
    const free = total(set, (g) => g.members.length);
    if (free < count) return;
    const key = [free, spread(set), -total(set, (g) => g.used), firstRank(set)];
    if (best === undefined || compareKeys(key, best.key) < 0) {
      best = { set, key };
    }
  });
  return best?.set;
}

/**
 * `count` members of `groups` (as {@linkcode fewestGroups} chose them):
 * wholly free groups whole first, then the fuller groups; `take` chooses
 * inside the group that gives only part of its members.
 */
function takeFrom(
  groups: readonly Group[],
  count: number,
  take: (group: Group, count: number) => Candidate[],
): Candidate[] {
  // Wholly free groups first, largest first, so a claim that needs a whole
  // group's worth takes a whole group; then the fuller groups.
  const ordered = [...groups].sort((a, b) =>
    Number(a.used > 0) - Number(b.used > 0) ||
    (a.used === 0 ? b.members.length - a.members.length : 0) || fuller(a, b)
  );
  const chosen: Candidate[] = [];
  for (const group of ordered) {
    const rest = count - chosen.length;
    if (rest === 0) break;
    chosen.push(
      ...(group.members.length <= rest ? group.members : take(group, rest)),
    );
  }
  return chosen;
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
  const l3s = fewestGroups(groups, count, () => 0);
  return l3s === undefined
    ? [...groups.flatMap((g) => g.members), ...spanning].slice(0, count)
    : takeFrom(l3s, count, (g, n) => g.members.slice(0, n));
}

/** How many sockets the members of `groups` lie on. */
function socketCount(groups: readonly Group[]): number {
  return new Set(
    groups.flatMap((g) => g.members.flatMap((c) => c.placement.packages)),
  ).size;
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
 *    free lists gives its first `count` in name order; else the fewest L3
 *    groups that hold them, best fit (see step 3).
 * 3. If no node has `count` free lists, span the fewest nodes: among the
 *    sets of that many nodes that hold `count`, the one with the fewest
 *    free lists in all (best fit: the emptiest nodes stay whole), then on
 *    the fewest sockets, then with the most taken. Inside the set, wholly
 *    free nodes are taken whole first (largest first), so a claim aligns
 *    to whole nodes and gives them back whole; then the fuller nodes; the
 *    last node taken gives only what is still missing, chosen as in
 *    step 2. Lists kept for last fill any gap.
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

/** Step 3: `count` lists from the fewest nodes. */
function chooseFewestNodes(
  nodes: readonly Group[],
  spanning: readonly Candidate[],
  taken: readonly Candidate[],
  count: number,
): Candidate[] {
  const chosen = fewestGroups(nodes, count, socketCount);
  if (chosen === undefined) {
    // Only with the lists kept for last do the free lists add up.
    return [...nodes.flatMap((node) => node.members), ...spanning]
      .slice(0, count);
  }
  return takeFrom(chosen, count, (node, n) => takeInNode(node, taken, n));
}
