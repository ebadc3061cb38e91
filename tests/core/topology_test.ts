import assert from "node:assert/strict";
import { type LogicalCpu, Topology } from "../../core/topology.ts";

function cpu(
  id: number,
  fields: Partial<Omit<LogicalCpu, "id">> = {},
): LogicalCpu {
  return {
    id,
    packageId: 0,
    dieId: 0,
    coreId: id,
    numaNode: 0,
    l3Id: 0,
    ...fields,
  };
}

/** Two sockets x 2 cores x 2 threads, CPUs interleaved across sockets. */
function dualSocket(): Topology {
  // cpu n: socket n % 2, core floor((n % 4) / 2), siblings n and n+4.
  return new Topology(
    [7, 6, 5, 4, 3, 2, 1, 0].map((n) =>
      cpu(n, {
        packageId: n % 2,
        coreId: Math.floor((n % 4) / 2),
        numaNode: n % 2,
        l3Id: n % 2,
      })
    ),
  );
}

Deno.test("Topology() sorts CPUs by id and groups siblings into cores", () => {
  const topology = dualSocket();
  assert.deepEqual(topology.cpus.map((c) => c.id), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(
    topology.cores.map((c) => [c.packageId, c.coreId, c.cpus.toString()]),
    [[0, 0, "0,4"], [1, 0, "1,5"], [0, 1, "2,6"], [1, 1, "3,7"]],
  );
  assert.equal(topology.allCpus().toString(), "0-7");
});

Deno.test("Topology() keeps equal core ids in different packages apart", () => {
  const topology = dualSocket();
  const first = topology.coreOf(0);
  const second = topology.coreOf(1);
  assert.equal(first?.coreId, second?.coreId);
  assert.notEqual(first, second);
  assert.equal(topology.cores.length, 4);
});

Deno.test("Topology() keeps equal core ids in different dies apart", () => {
  const topology = new Topology([
    cpu(0, { dieId: 0, coreId: 0 }),
    cpu(1, { dieId: 1, coreId: 0 }),
    cpu(2, { dieId: 0, coreId: 0 }),
  ]);
  assert.deepEqual(topology.cores.map((c) => c.cpus.toString()), ["0,2", "1"]);
  assert.deepEqual(topology.diesInPackage(0), [0, 1]);
  assert.deepEqual(topology.diesInPackage(5), []);
});

Deno.test("Topology() orders cores by lowest CPU, not by core id", () => {
  const topology = new Topology([
    cpu(0, { coreId: 12 }),
    cpu(1, { coreId: 12 }),
    cpu(2, { coreId: 0 }),
    cpu(3, { coreId: 4 }),
  ]);
  assert.deepEqual(topology.cores.map((c) => c.coreId), [12, 0, 4]);
});

Deno.test("Topology.packages() and numaNodes() list distinct ids ascending", () => {
  const topology = new Topology([
    cpu(0, { packageId: 1, numaNode: 3 }),
    cpu(1, { packageId: 0, numaNode: null }),
    cpu(2, { packageId: 1, numaNode: 2 }),
  ]);
  assert.deepEqual(topology.packages(), [0, 1]);
  assert.deepEqual(topology.numaNodes(), [2, 3]);
});

Deno.test("Topology.l3Ids() skips CPUs without an L3", () => {
  const topology = new Topology([
    cpu(0, { l3Id: 8 }),
    cpu(1, { l3Id: null }),
    cpu(2, { l3Id: 0 }),
  ]);
  assert.deepEqual(topology.l3Ids(), [0, 8]);
  assert.equal(topology.cpusInL3(8).toString(), "0");
  assert.equal(topology.cpu(1)?.l3Id, null);
});

Deno.test("Topology queries select cores and CPUs by package and node", () => {
  const topology = dualSocket();
  assert.deepEqual(
    topology.coresInPackage(1).map((c) => c.cpus.toString()),
    ["1,5", "3,7"],
  );
  assert.deepEqual(
    topology.coresInNumaNode(0).map((c) => c.cpus.toString()),
    ["0,4", "2,6"],
  );
  assert.deepEqual(topology.coresInPackage(9), []);
  assert.equal(topology.cpusInPackage(0).toString(), "0,2,4,6");
  assert.equal(topology.cpusInNumaNode(1).toString(), "1,3,5,7");
  assert.equal(
    topology.cpusInCore({ packageId: 1, dieId: 0, coreId: 1 }).toString(),
    "3,7",
  );
  assert.ok(
    topology.cpusInCore({ packageId: 2, dieId: 0, coreId: 1 }).isEmpty(),
  );
});

Deno.test("Topology.coreOf() finds the core of a CPU, or undefined", () => {
  const topology = dualSocket();
  assert.equal(topology.coreOf(6)?.cpus.toString(), "2,6");
  assert.equal(topology.coreOf(8), undefined);
  assert.equal(topology.cpu(8), undefined);
});

Deno.test("Topology() copies its input", () => {
  const input = [cpu(0), cpu(1)];
  const topology = new Topology(input);
  input[0]!.coreId = 1;
  assert.equal(topology.cpus[0]?.coreId, 0);
  assert.equal(topology.cores.length, 2);
  assert.ok(Object.isFrozen(topology.cpus[0]));
});

Deno.test("Topology() accepts no CPUs", () => {
  const topology = new Topology([]);
  assert.deepEqual(topology.cores, []);
  assert.ok(topology.allCpus().isEmpty());
});

// Invalid input.
Deno.test("Topology() rejects a duplicate CPU id", () => {
  assert.throws(
    () => new Topology([cpu(0), cpu(1), cpu(1, { coreId: 5 })]),
    { name: "RangeError", message: "Duplicate logical CPU id 1" },
  );
});

Deno.test("Topology() rejects ids that are not non-negative integers", () => {
  for (
    const [bad, message] of [
      [cpu(-1), "Logical CPU -1 has invalid id -1"],
      [cpu(0, { coreId: 1.5 }), "Logical CPU 0 has invalid coreId 1.5"],
      [cpu(0, { packageId: -1 }), "Logical CPU 0 has invalid packageId -1"],
      [cpu(0, { numaNode: NaN }), "Logical CPU 0 has invalid numaNode NaN"],
    ] as const
  ) {
    assert.throws(() => new Topology([bad]), { name: "RangeError", message });
  }
});
