import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import {
  allocateLists,
  type Allocation,
  type PoolList,
  type PoolView,
} from "../../core/allocate.ts";
import { AllocationError } from "../../core/allocation_error.ts";
import { assignmentEnv } from "../../core/assignment_env.ts";
import { CpuSet, parseCpuList } from "../../core/cpuset.ts";
import { ResourceError } from "../../core/errors.ts";
import { readTopology } from "../../core/sysfs.ts";
import { Topology } from "../../core/topology.ts";
import { arbitraryShape, buildTopology } from "../_helpers/random_topology.ts";
import { REPO_ROOT } from "../_helpers/run_cli.ts";

const FIXTURES = join(REPO_ROOT, "tests/fixtures/sysfs");
const SNC = await readTopology(join(FIXTURES, "dual_snc2_2x20x2"));
const EPYC = await readTopology(join(FIXTURES, "epyc_2x64x2_nps4"));
const HYBRID = await readTopology(join(FIXTURES, "hybrid_4p_8e"));

/** A core's list name, as `init` names dataplane lists. */
function coreName(cpus: CpuSet): string {
  return cpus.toArray().join(",");
}

/**
 * A pool of one list per physical core (like `init`'s dataplane over the
 * whole machine), in name order; `taken` are cores given by any CPU.
 */
function corePool(
  topology: Topology,
  taken: Iterable<number> = [],
  exclusive = true,
): PoolView {
  const takenCores = new Set(
    [...taken].map((cpu) => coreName(topology.coreOf(cpu)!.cpus)),
  );
  const lists = topology.cores.map((core) => ({
    name: coreName(core.cpus),
    cpus: core.cpus,
    free: !takenCores.has(coreName(core.cpus)),
  })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { name: "dataplane", exclusive, lists };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function names(allocation: Allocation): string[] {
  return allocation.lists.map((list) => list.name);
}

function failure(run: () => unknown): AllocationError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof AllocationError, String(error));
    assert.ok(error instanceof ResourceError);
    assert.equal(error.exitCode, 1);
    return error;
  }
  assert.fail("the allocation did not fail");
}

// One node, one L3: the reference's choice.

Deno.test("allocateLists() takes the first free list in name order on a fresh pool", () => {
  assert.deepEqual(names(allocateLists(corePool(SNC), SNC, {})), ["0,40"]);
  assert.deepEqual(names(allocateLists(corePool(EPYC), EPYC, {})), ["0,128"]);
  assert.deepEqual(
    names(allocateLists(corePool(HYBRID), HYBRID, { count: 3 })),
    ["0,1", "10", "11"],
  );
  // Inside one node and one L3, name order decides, whatever is taken.
  const pool = corePool(HYBRID, [0, 10]);
  assert.deepEqual(names(allocateLists(pool, HYBRID, { count: 2 })), [
    "11",
    "12",
  ]);
});

Deno.test("allocateLists() returns the union, its NUMA nodes and no warning", () => {
  const allocation = allocateLists(corePool(SNC, range(0, 5)), SNC, {
    count: 3,
  });
  assert.deepEqual(names(allocation), ["6,46", "7,47", "8,48"]);
  assert.equal(allocation.cpus.toString(), "6-8,46-48");
  assert.deepEqual(allocation.numaNodes, [0]);
  assert.deepEqual(allocation.warnings, []);
});

// NUMA nodes (SNC-2: nodes of 10 cores, the L3 shared per socket).

Deno.test("allocateLists() packs a claim into the fullest NUMA node that holds it", () => {
  // Node 1 has 3 free cores, node 2 has 5: four cores fit on node 2 only
  // among the used nodes, and nodes 0 and 3 stay whole.
  const pool = corePool(SNC, [...range(10, 16), ...range(20, 24)]);
  const allocation = allocateLists(pool, SNC, { count: 4 });
  assert.deepEqual(allocation.numaNodes, [2]);
  assert.deepEqual(names(allocation), ["25,65", "26,66", "27,67", "28,68"]);
  // Three cores go to node 1, the fullest.
  assert.deepEqual(allocateLists(pool, SNC, { count: 3 }).numaNodes, [1]);
});

Deno.test("allocateLists() spans the fewest nodes, best fit, then the fewest sockets", () => {
  // Free: node 0: 4, node 1: 4 (socket 0); node 2: 5, node 3: 1 (socket 1):
  // of the pairs that hold 8, nodes 0 and 1 leave nothing free.
  const taken = [...range(0, 5), ...range(10, 15), ...range(20, 24)];
  taken.push(...range(30, 38));
  const allocation = allocateLists(corePool(SNC, taken), SNC, { count: 8 });
  assert.deepEqual(allocation.numaNodes, [0, 1]);
  assert.equal(allocation.lists.length, 8);
  const [warning] = allocation.warnings;
  assert.equal(warning?.code, "spans-numa-nodes");
  assert.deepEqual(warning?.numaNodes, [0, 1]);
  assert.equal(
    warning?.message,
    "Claim of 8 cpu lists spans NUMA nodes 0,1: no NUMA node has 8 free " +
      "cpu lists in pool dataplane (at most 5)",
  );
  // Free: 5, 4 | 4, 5. Four pairs hold 9 with nothing left over; the two
  // inside one socket win, the first in name order of those.
  const even = [
    ...range(0, 4),
    ...range(10, 15),
    ...range(20, 25),
    ...range(30, 34),
  ];
  assert.deepEqual(
    allocateLists(corePool(SNC, even), SNC, { count: 9 }).numaNodes,
    [0, 1],
  );
});

Deno.test("allocateLists() takes a wholly free node whole when a claim spans it", () => {
  // Free: node 1: 7 (3 taken), node 3: all 10; nodes 0 and 2 full.
  const taken = [...range(0, 9), ...range(10, 12), ...range(20, 29)];
  const allocation = allocateLists(corePool(SNC, taken), SNC, { count: 13 });
  assert.deepEqual(allocation.numaNodes, [1, 3]);
  assert.ok(SNC.cpusInNumaNode(3).isSubsetOf(allocation.cpus));
  assert.equal(
    allocation.cpus.intersection(SNC.cpusInNumaNode(1)).size,
    3 * 2,
  );
});

Deno.test("allocateLists() crosses sockets when no socket holds the claim in as few nodes", () => {
  // Free: node 0: 2, node 1: 2 (socket 0); node 2: 3, node 3: 0.
  const taken = [
    ...range(0, 7),
    ...range(10, 17),
    ...range(20, 26),
    ...range(30, 39),
  ];
  const allocation = allocateLists(corePool(SNC, taken), SNC, { count: 5 });
  assert.equal(allocation.numaNodes.length, 2);
  assert.ok(allocation.numaNodes.includes(2), "takes the largest node whole");
  assert.deepEqual(
    SNC.placementOf(allocation.cpus).packages,
    [0, 1],
  );
});

// L3 groups (EPYC NPS4: nodes of 16 cores, two L3s of 8 cores each).

Deno.test("allocateLists() packs into the fullest L3 group that holds the claim", () => {
  // Node 0: L3 0 has cores 5-7 free, L3 1 all of 8-15.
  const pool = corePool(EPYC, range(0, 4));
  const three = allocateLists(pool, EPYC, { count: 3 });
  assert.deepEqual(names(three), ["5,133", "6,134", "7,135"]);
  assert.deepEqual(EPYC.placementOf(three.cpus).l3Ids, [0]);
  const four = allocateLists(pool, EPYC, { count: 4 });
  assert.deepEqual(EPYC.placementOf(four.cpus).l3Ids, [1]);
  assert.deepEqual(four.numaNodes, [0]);
});

Deno.test("allocateLists() prefers a node where one L3 holds the claim over a fuller one", () => {
  // Node 0 (fullest) has 3 free in L3 0 and 2 in L3 1; node 1 is empty.
  const pool = corePool(EPYC, [...range(0, 4), ...range(8, 13)]);
  const allocation = allocateLists(pool, EPYC, { count: 4 });
  assert.equal(allocation.numaNodes.length, 1);
  assert.notEqual(allocation.numaNodes[0], 0);
  assert.equal(EPYC.placementOf(allocation.cpus).l3Ids.length, 1);
  // Among the empty nodes, the one whose first list comes first in name
  // order ("100,228": node 6).
  assert.deepEqual(allocation.numaNodes, [6]);
  // Two cores fit in node 0's L3 1, the fullest L3 of the fullest node.
  assert.deepEqual(names(allocateLists(pool, EPYC, { count: 2 })), [
    "14,142",
    "15,143",
  ]);
});

Deno.test("allocateLists() uses the fewest L3 groups when none holds the claim", () => {
  const allocation = allocateLists(corePool(EPYC), EPYC, { count: 12 });
  assert.deepEqual(allocation.numaNodes, [0]);
  assert.equal(EPYC.placementOf(allocation.cpus).l3Ids.length, 2);
  // A 16-core claim takes one whole node.
  const node = allocateLists(corePool(EPYC, [0]), EPYC, { count: 16 });
  assert.equal(node.numaNodes.length, 1);
  assert.notEqual(node.numaNodes[0], 0);
});

// Constraints.

Deno.test("allocateLists() keeps a claim on the NUMA node or socket asked for", () => {
  const pool = corePool(SNC, range(20, 22));
  const onNode = allocateLists(pool, SNC, { count: 3, numaNode: 2 });
  assert.deepEqual(names(onNode), ["23,63", "24,64", "25,65"]);
  const onSocket = allocateLists(pool, SNC, { count: 9, socketId: 1 });
  assert.deepEqual(SNC.placementOf(onSocket.cpus).packages, [1]);
  assert.deepEqual(onSocket.numaNodes, [3], "the node with 9 free is 3");
  const epycSocket = allocateLists(corePool(EPYC), EPYC, {
    count: 2,
    socketId: 1,
  });
  assert.deepEqual(EPYC.placementOf(epycSocket.cpus).packages, [1]);
  assert.equal(EPYC.placementOf(epycSocket.cpus).l3Ids.length, 1);
});

Deno.test("allocateLists() names the node and what is free elsewhere when the node is full", () => {
  const pool = corePool(SNC, [...range(10, 19), ...range(20, 27)]);
  const none = failure(() =>
    allocateLists(pool, SNC, { count: 1, numaNode: 1 })
  );
  assert.deepEqual(none.failure, {
    reason: "not-enough-free-there",
    requested: 1,
    where: { numaNode: 1 },
    freeThere: 0,
    freeElsewhere: [
      { id: 0, free: 10 },
      { id: 2, free: 2 },
      { id: 3, free: 10 },
    ],
  });
  assert.equal(
    none.message,
    "Not enough free cpu lists on NUMA node 1 in pool dataplane: asked for " +
      "1, 0 free there (free elsewhere: node 0: 10, node 2: 2, node 3: 10)",
  );
  assert.match(none.hint ?? "", /kcm reconcile/);
  const few = failure(() =>
    allocateLists(pool, SNC, { count: 3, numaNode: 2 })
  );
  assert.equal(few.failure.reason, "not-enough-free-there");
  assert.ok(few.message.includes("asked for 3, 2 free there"), few.message);
  const socket = failure(() =>
    allocateLists(corePool(SNC, range(20, 39)), SNC, { socketId: 1 })
  );
  assert.equal(
    socket.message,
    "Not enough free cpu lists on socket 1 in pool dataplane: asked for 1, " +
      "0 free there (free elsewhere: socket 0: 20)",
  );
});

Deno.test("allocateLists() rejects a NUMA node or socket the topology lacks", () => {
  const node = failure(() =>
    allocateLists(corePool(SNC), SNC, { numaNode: 4 })
  );
  assert.deepEqual(node.failure, {
    reason: "unknown-numa-node",
    numaNode: 4,
    known: [0, 1, 2, 3],
  });
  assert.equal(
    node.message,
    "Unknown NUMA node 4: the topology has nodes 0,1,2,3",
  );
  assert.equal(node.hint, undefined);
  const socket = failure(() =>
    allocateLists(corePool(HYBRID), HYBRID, { socketId: 1 })
  );
  assert.equal(socket.message, "Unknown socket 1: the topology has sockets 0");
  assert.throws(
    () => allocateLists(corePool(SNC), SNC, { numaNode: 0, socketId: 0 }),
    { name: "RangeError" },
  );
  const noNuma = failure(() =>
    allocateLists(corePool(SNC), new Topology([]), { numaNode: 0 })
  );
  assert.equal(
    noNuma.message,
    "Unknown NUMA node 0: the topology has no NUMA nodes",
  );
});

// Counts.

Deno.test("allocateLists() rejects counts that are not positive integers", () => {
  for (const count of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(
      () => allocateLists(corePool(SNC), SNC, { count }),
      { name: "RangeError" },
      String(count),
    );
  }
});

Deno.test("allocateLists() fails on more lists than the pool has, or than are free", () => {
  const tooMany = failure(() =>
    allocateLists(corePool(SNC), SNC, { count: 41 })
  );
  assert.deepEqual(tooMany.failure, {
    reason: "pool-too-small",
    requested: 41,
    lists: 40,
  });
  assert.equal(
    tooMany.message,
    "Cannot claim 41 cpu lists in pool dataplane: it has 40",
  );
  const busy = failure(() =>
    allocateLists(corePool(SNC, range(0, 35)), SNC, { count: 5 })
  );
  assert.equal(
    busy.message,
    "Not enough free cpu lists in pool dataplane: asked for 5, 4 free " +
      "(40 lists, 36 taken)",
  );
  // One list: the message isolate printed before multi-core claims.
  const full = failure(() =>
    allocateLists(corePool(HYBRID, range(0, 15)), HYBRID, {})
  );
  assert.equal(
    full.message,
    "No free cpu lists in pool dataplane (12 lists, 12 taken)",
  );
  assert.match(full.hint ?? "", /kcm reconcile/);
  const empty = failure(() =>
    allocateLists({ name: "dp", exclusive: true, lists: [] }, SNC, {})
  );
  // One list of an empty pool: the reference's message too.
  assert.equal(
    empty.message,
    "No free cpu lists in pool dp (0 lists, 0 taken)",
  );
  assert.equal(empty.hint, undefined);
  const two = failure(() =>
    allocateLists({ name: "dp", exclusive: true, lists: [] }, SNC, {
      count: 2,
    })
  );
  assert.equal(two.message, "Cannot claim 2 cpu lists in pool dp: it has 0");
});

// Shared pools.

Deno.test("allocateLists() gives a shared pool one random list, ignoring the count", () => {
  const pool = corePool(SNC, range(0, 39), false);
  const picks = [0, 0.5, 0.999].map((r) =>
    names(allocateLists(pool, SNC, { count: 7, random: () => r }))
  );
  assert.deepEqual(picks, [["0,40"], ["27,67"], ["9,49"]]);
  const onNode = allocateLists(pool, SNC, {
    numaNode: 3,
    random: () => 0.99,
  });
  assert.deepEqual(names(onNode), ["39,79"]);
  // An infra list spanning every node lies on none of them.
  const infra: PoolView = {
    name: "infra",
    exclusive: false,
    lists: [{ name: "0-39", cpus: parseCpuList("0-39"), free: false }],
  };
  assert.equal(allocateLists(infra, SNC, {}).cpus.toString(), "0-39");
  assert.deepEqual(allocateLists(infra, SNC, {}).numaNodes, [0, 1, 2, 3]);
  const error = failure(() => allocateLists(infra, SNC, { numaNode: 0 }));
  assert.ok(
    error.message.endsWith("(free elsewhere: no single node: 1)"),
    error.message,
  );
  const none = failure(() =>
    allocateLists({ name: "cp", exclusive: false, lists: [] }, SNC, {})
  );
  assert.equal(none.message, "No free cpu lists in pool cp (0 lists, 0 taken)");
});

// Unknown topology.

Deno.test("allocateLists() falls back to name order for CPUs the topology does not know", () => {
  const pool = corePool(SNC, [0]);
  const unknown = allocateLists(pool, new Topology([]), { count: 3 });
  assert.deepEqual(names(unknown), ["1,41", "10,50", "11,51"]);
  assert.deepEqual(unknown.numaNodes, []);
  // A list with a CPU the topology lacks is used last.
  const lists: PoolList[] = [
    { name: "0,40", cpus: parseCpuList("0,40"), free: true },
    { name: "1,41", cpus: parseCpuList("1,41"), free: true },
    { name: "1,200", cpus: parseCpuList("1,200"), free: true },
  ].sort((a, b) => a.name < b.name ? -1 : 1);
  const mixed = { name: "dp", exclusive: true, lists };
  assert.deepEqual(names(allocateLists(mixed, SNC, { count: 2 })), [
    "0,40",
    "1,41",
  ]);
  assert.equal(allocateLists(mixed, SNC, { count: 3 }).lists.length, 3);
});

// The child's environment.

Deno.test("assignmentEnv() keeps one list's name and gives the union for several", () => {
  const one = allocateLists(
    {
      name: "infra",
      exclusive: false,
      lists: [{ name: "0,8,1,9", cpus: parseCpuList("0,8,1,9"), free: true }],
    },
    SNC,
    {},
  );
  assert.deepEqual(assignmentEnv(one), {
    KCM_CPUS_ASSIGNED: "0,8,1,9",
    KCM_CPUS_ASSIGNED_MASK: "0x303",
    KCM_NUMA_NODES_ASSIGNED: "0",
  });
  const spanning = allocateLists(
    corePool(SNC, [...range(0, 7), ...range(10, 17)]),
    SNC,
    { count: 4, socketId: 0 },
  );
  assert.deepEqual(assignmentEnv(spanning), {
    KCM_CPUS_ASSIGNED: "8-9,18-19,48-49,58-59",
    KCM_CPUS_ASSIGNED_MASK: "0xc030000000c0300",
    KCM_NUMA_NODES_ASSIGNED: "0-1",
  });
  const unknown = allocateLists(corePool(SNC), new Topology([]), {});
  assert.equal(assignmentEnv(unknown).KCM_NUMA_NODES_ASSIGNED, "");
});

// Properties over random machines and claim/release sequences.

type Step =
  | { kind: "claim"; count: number; node: number | undefined }
  | { kind: "release"; pick: number };

const arbitraryStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("claim" as const),
    count: fc.integer({ min: 1, max: 8 }),
    node: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }),
);

/** The pool with `free` as its free list names. */
function withFree(pool: PoolView, free: ReadonlySet<string>): PoolView {
  return {
    ...pool,
    lists: pool.lists.map((l) => ({ ...l, free: free.has(l.name) })),
  };
}

Deno.test("allocateLists() over claim/release sequences: no CPU twice, no split that fits, exact releases", () => {
  fc.assert(
    fc.property(
      arbitraryShape,
      fc.array(arbitraryStep, { maxLength: 40 }),
      (shape, steps) => {
        const topology = buildTopology(shape);
        const pool = corePool(topology);
        const all = new Set(pool.lists.map((l) => l.name));
        const free = new Set(all);
        const live: Allocation[] = [];
        const nodeOf = (list: PoolList) =>
          topology.placementOf(list.cpus).numaNodes[0]!;
        for (const step of steps) {
          if (step.kind === "release") {
            if (live.length === 0) continue;
            const [gone] = live.splice(step.pick % live.length, 1);
            for (const list of gone!.lists) free.add(list.name);
            const held = new Set(
              live.flatMap((a) => a.lists.map((l) => l.name)),
            );
            assert.deepEqual(
              [...free].sort(),
              [...all].filter((n) => !held.has(n)).sort(),
              "a release gives back exactly its lists",
            );
            continue;
          }
          const view = withFree(pool, free);
          const freeLists = view.lists.filter((l) => l.free);
          const freeOn = (node: number) =>
            freeLists.filter((l) => nodeOf(l) === node).length;
          const request = { count: step.count, numaNode: step.node };
          let allocation: Allocation;
          try {
            allocation = allocateLists(view, topology, request);
          } catch (error) {
            assert.ok(error instanceof AllocationError, String(error));
            const { reason } = error.failure;
            if (step.node === undefined) {
              assert.ok(
                step.count > freeLists.length,
                `${reason} with ${freeLists.length} free`,
              );
            } else if (reason === "unknown-numa-node") {
              assert.ok(!topology.numaNodes().includes(step.node));
            } else {
              assert.ok(
                step.count > freeOn(step.node) ||
                  step.count > pool.lists.length,
                reason,
              );
            }
            continue;
          }
          assert.equal(allocation.lists.length, step.count);
          const cpus = CpuSet.of(
            allocation.lists.flatMap((l) => l.cpus.toArray()),
          );
          assert.ok(cpus.equals(allocation.cpus));
          for (const list of allocation.lists) {
            assert.ok(free.has(list.name), `${list.name} was free`);
          }
          for (const other of live) {
            assert.ok(
              other.cpus.intersection(allocation.cpus).isEmpty(),
              "no CPU in two live claims",
            );
          }
          const fitsOnOne = topology.numaNodes().some((node) =>
            freeOn(node) >= step.count
          );
          if (step.node !== undefined) {
            assert.deepEqual(allocation.numaNodes, [step.node]);
          } else if (fitsOnOne) {
            assert.equal(allocation.numaNodes.length, 1, "not split");
            assert.deepEqual(allocation.warnings, []);
          } else {
            assert.equal(allocation.warnings.length, 1, "split is reported");
          }
          for (const list of allocation.lists) free.delete(list.name);
          live.push(allocation);
        }
        // Releasing everything restores the fresh pool: the next claim is
        // the one a fresh pool gives.
        for (const claim of live) {
          for (const list of claim.lists) free.add(list.name);
        }
        assert.equal(free.size, all.size);
        assert.deepEqual(
          allocateLists(withFree(pool, free), topology, { count: 1 }),
          allocateLists(pool, topology, { count: 1 }),
        );
      },
    ),
  );
});

Deno.test("allocateLists() is all or nothing and never changes its input", () => {
  const pool = corePool(EPYC, range(0, 100));
  const before = JSON.stringify(pool);
  failure(() => allocateLists(pool, EPYC, { count: 28 }));
  assert.equal(allocateLists(pool, EPYC, { count: 27 }).lists.length, 27);
  assert.equal(JSON.stringify(pool), before);
});
