import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { parseCpuList } from "../../core/cpuset.ts";
import { ResourceError } from "../../core/errors.ts";
import { NAME_MAX, planLayout, type PoolLayout } from "../../core/layout.ts";
import { readTopology } from "../../core/sysfs.ts";
import { type LogicalCpu, Topology } from "../../core/topology.ts";

const FIXTURES = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "sysfs",
);

/** `cores` physical cores with `threads` threads, siblings n, n+cores, ... */
function machine(cores: number, threads = 2): Topology {
  const cpus: LogicalCpu[] = [];
  for (let t = 0; t < threads; t++) {
    for (let c = 0; c < cores; c++) {
      cpus.push({
        id: t * cores + c,
        packageId: 0,
        dieId: 0,
        coreId: c,
        numaNode: 0,
        l3Id: 0,
      });
    }
  }
  return new Topology(cpus);
}

function pools(
  dataplane: string[],
  controlplane: string[],
  infra: string[],
): PoolLayout[] {
  return [
    { name: "dataplane", exclusive: true, cpuLists: dataplane },
    { name: "controlplane", exclusive: false, cpuLists: controlplane },
    { name: "infra", exclusive: false, cpuLists: infra },
  ];
}

// SPEC §3.2's worked table, on the map {0:"0,4",1:"1,5",2:"2,6",3:"3,7"}.
const WORKED: [number, number, PoolLayout[]][] = [
  [2, 1, pools(["3,7", "2,6"], ["1,5"], ["0,4"])],
  [1, 2, pools(["3,7"], ["2,6,1,5"], ["0,4"])],
  [1, 1, pools(["3,7"], ["2,6"], ["0,4,1,5"])],
  [0, 1, pools([], ["3,7"], ["0,4,1,5,2,6"])],
];

Deno.test("planLayout() reproduces the reference's worked examples", () => {
  const topology = machine(4);
  assert.deepEqual(
    topology.cores.map((c) => c.cpus.toString()),
    ["0,4", "1,5", "2,6", "3,7"],
  );
  for (const [dataplane, controlplane, expected] of WORKED) {
    assert.deepEqual(
      planLayout(topology, { dataplane, controlplane }),
      expected,
      `dp ${dataplane}, cp ${controlplane}`,
    );
  }
});

Deno.test("planLayout() allows counts of 0", () => {
  assert.deepEqual(
    planLayout(machine(4), { dataplane: 0, controlplane: 0 }),
    pools([], [], ["0,4,1,5,2,6,3,7"]),
  );
  assert.deepEqual(
    planLayout(machine(1), { dataplane: 0, controlplane: 0 }),
    pools([], [], ["0,1"]),
  );
  assert.deepEqual(
    planLayout(machine(3), { dataplane: 2, controlplane: 0 }),
    pools(["2,5", "1,4"], [], ["0,3"]),
  );
});

Deno.test("planLayout() names 4-way SMT cores by all their threads", () => {
  assert.deepEqual(
    planLayout(machine(3, 4), { dataplane: 1, controlplane: 1 }),
    pools(["2,5,8,11"], ["1,4,7,10"], ["0,3,6,9"]),
  );
});

Deno.test("planLayout() uses every core when counts fit exactly", () => {
  assert.deepEqual(
    planLayout(machine(6), { dataplane: 4, controlplane: 1 }),
    pools(["5,11", "4,10", "3,9", "2,8"], ["1,7"], ["0,6"]),
  );
});

// Too few cores, bad counts.

Deno.test("planLayout() names needed and found cores when too few", () => {
  for (
    const [cores, dataplane, controlplane, message] of [
      [
        2,
        4,
        1,
        "Not enough physical cores: need 6 (4 dataplane + 1 controlplane + 1 infra), found 2",
      ],
      [
        4,
        3,
        1,
        "Not enough physical cores: need 5 (3 dataplane + 1 controlplane + 1 infra), found 4",
      ],
      [
        0,
        0,
        0,
        "Not enough physical cores: need 1 (0 dataplane + 0 controlplane + 1 infra), found 0",
      ],
    ] as const
  ) {
    assert.throws(
      () => planLayout(machine(cores), { dataplane, controlplane }),
      (error: unknown) =>
        error instanceof ResourceError && error.message === message &&
        error.exitCode === 1,
    );
  }
});

Deno.test("planLayout() rejects counts that are not non-negative integers", () => {
  for (
    const [dataplane, controlplane, message] of [
      [
        -1,
        1,
        "The dataplane core count must be a non-negative integer, got -1",
      ],
      [
        1,
        1.5,
        "The controlplane core count must be a non-negative integer, got 1.5",
      ],
      [
        NaN,
        1,
        "The dataplane core count must be a non-negative integer, got NaN",
      ],
      [
        1,
        Infinity,
        "The controlplane core count must be a non-negative integer, got Infinity",
      ],
    ] as const
  ) {
    assert.throws(
      () => planLayout(machine(8), { dataplane, controlplane }),
      { name: "RangeError", message },
    );
  }
});

// File names above NAME_MAX.

Deno.test("planLayout() names a list over 255 bytes by its ranges (EPYC)", async () => {
  const topology = await readTopology(join(FIXTURES, "epyc_2x64x2_nps4"));
  const [, controlplane, infra] = planLayout(topology, {
    dataplane: 4,
    controlplane: 1,
  });
  const reference = topology.cores.slice(0, 123)
    .map((c) => c.cpus.toArray().join(",")).join(",");
  assert.ok(reference.length > NAME_MAX, `${reference.length} bytes`);
  assert.deepEqual(infra?.cpuLists, ["0-122,128-250"]);
  assert.deepEqual(controlplane?.cpuLists, ["123,251"]);
});

/** Single-thread cores with the given CPU ids. */
function singleThreaded(ids: number[]): Topology {
  return new Topology(ids.map((id) => ({
    id,
    packageId: 0,
    dieId: 0,
    coreId: id,
    numaNode: 0,
    l3Id: 0,
  })));
}

Deno.test("planLayout() keeps the reference name up to exactly 255 bytes", () => {
  const all = { dataplane: 0, controlplane: 0 };
  // "0,1,...,86" is 10 + 77 * 2 + 86 commas = 250 bytes; ",1000" makes 255.
  const low = [...Array(87).keys()];
  const atLimit = planLayout(singleThreaded([...low, 1000]), all)[2];
  assert.equal(atLimit?.cpuLists[0]?.length, NAME_MAX);
  assert.equal(atLimit?.cpuLists[0], [...low, 1000].join(","));
  const over = planLayout(singleThreaded([...low, 1000, 1001]), all)[2];
  assert.deepEqual(over?.cpuLists, ["0-86,1000-1001"]);
});

Deno.test("planLayout() fails when even the range form is over 255 bytes", () => {
  // Every other CPU: no ranges to shorten the name.
  const cpus: LogicalCpu[] = [];
  for (let c = 0; c < 200; c++) {
    cpus.push({
      id: 2 * c,
      packageId: 0,
      dieId: 0,
      coreId: c,
      numaNode: 0,
      l3Id: 0,
    });
  }
  assert.throws(
    () => planLayout(new Topology(cpus), { dataplane: 0, controlplane: 0 }),
    (error: unknown) =>
      error instanceof ResourceError &&
      /^Cannot name the cpu list of pool "infra": even its range form "0,2,4,.*,398" is \d+ bytes, above the 255-byte file name limit$/
        .test(error.message),
  );
});

// Every fixture against its expected_init.json.

interface ExpectedCase {
  dataplane: number;
  controlplane: number;
  layout?: PoolLayout[];
  error?: string;
}

Deno.test("planLayout() gives each fixture its expected init result", async () => {
  let checked = 0;
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (!entry.isDirectory) continue;
    const root = join(FIXTURES, entry.name);
    const { cases } = JSON.parse(
      await Deno.readTextFile(join(root, "expected_init.json")),
    ) as { cases: ExpectedCase[] };
    assert.ok(cases.length > 0, entry.name);
    const topology = await readTopology(root);
    for (const { dataplane, controlplane, layout, error } of cases) {
      const where = `${entry.name}: dp ${dataplane}, cp ${controlplane}`;
      const plan = () => planLayout(topology, { dataplane, controlplane });
      if (error !== undefined) {
        assert.throws(plan, { name: "ResourceError", message: error }, where);
      } else {
        assert.deepEqual(plan(), layout, where);
      }
      checked++;
    }
  }
  assert.ok(checked >= 18, `${checked} cases`);
});

// Properties.

/** A random machine: shuffled CPU ids, 1-4 threads per core, 1-2 packages. */
const arbitraryTopology = fc.record({
  cores: fc.integer({ min: 1, max: 24 }),
  threads: fc.integer({ min: 1, max: 4 }),
  packages: fc.integer({ min: 1, max: 2 }),
  seed: fc.integer(),
}).map(({ cores, threads, packages, seed }) => {
  const ids = [...Array(cores * threads).keys()];
  // Deterministic shuffle from the seed, so shrinking stays stable.
  let state = seed >>> 0;
  for (let i = ids.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return new Topology(ids.map((id, index) => {
    const core = index % cores;
    return {
      id,
      packageId: core % packages,
      dieId: 0,
      coreId: Math.floor(core / packages),
      numaNode: core % packages,
      l3Id: null,
    };
  }));
});

const arbitraryPlan = arbitraryTopology.chain((topology) =>
  fc.record({
    topology: fc.constant(topology),
    dataplane: fc.integer({ min: 0, max: topology.cores.length - 1 }),
    controlplane: fc.integer({ min: 0, max: topology.cores.length - 1 }),
  })
).filter(({ topology, dataplane, controlplane }) =>
  dataplane + controlplane < topology.cores.length
);

Deno.test("planLayout() puts every CPU in exactly one list", () => {
  fc.assert(
    fc.property(arbitraryPlan, ({ topology, dataplane, controlplane }) => {
      const layout = planLayout(topology, { dataplane, controlplane });
      const seen = layout.flatMap((pool) =>
        pool.cpuLists.flatMap((list) => parseCpuList(list).toArray())
      );
      assert.equal(seen.length, topology.cpus.length);
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        topology.allCpus().toArray(),
      );
    }),
  );
});

Deno.test("planLayout() gives dataplane whole cores, one list each, as many as asked", () => {
  fc.assert(
    fc.property(arbitraryPlan, ({ topology, dataplane, controlplane }) => {
      const [dp, cp, infra] = planLayout(topology, { dataplane, controlplane });
      assert.equal(dp?.cpuLists.length, dataplane);
      assert.equal(cp?.cpuLists.length, controlplane === 0 ? 0 : 1);
      assert.equal(infra?.cpuLists.length, 1);
      for (const list of dp?.cpuLists ?? []) {
        const cpus = parseCpuList(list);
        const core = topology.coreOf(cpus.toArray()[0]!);
        assert.ok(core !== undefined && core.cpus.equals(cpus), list);
      }
      // Dataplane takes the last cores of the order, highest first.
      assert.deepEqual(
        dp?.cpuLists,
        topology.cores.slice(topology.cores.length - dataplane).reverse()
          .map((c) => c.cpus.toArray().join(",")),
      );
    }),
  );
});

Deno.test("planLayout() fails exactly when cores are too few", () => {
  fc.assert(
    fc.property(
      arbitraryTopology,
      fc.nat(30),
      fc.nat(30),
      (topology, dataplane, controlplane) => {
        const fits = dataplane + controlplane + 1 <= topology.cores.length;
        try {
          planLayout(topology, { dataplane, controlplane });
          assert.ok(fits);
        } catch (error) {
          assert.ok(!fits && error instanceof ResourceError, String(error));
        }
      },
    ),
  );
});
