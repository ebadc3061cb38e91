import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { CpuSet, parseCpuList } from "../../core/cpuset.ts";
import { ResourceError } from "../../core/errors.ts";
import {
  IsolatedCoresError,
  type LayoutOptions,
  type LayoutPlan,
  ListNameTooLongError,
  NAME_MAX,
  planLayout,
  planPools,
  type PoolLayout,
} from "../../core/layout.ts";
import { PLACEMENT_MODES } from "../../core/placement_mode.ts";
import { readIsolatedCpus, readTopology } from "../../core/sysfs.ts";
import { arbitraryShape, buildTopology } from "../_helpers/random_topology.ts";
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

// The reference's worked table, on the map {0:"0,4",1:"1,5",2:"2,6",3:"3,7"}.
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
      error instanceof ListNameTooLongError && error.pool === "infra" &&
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

Deno.test("planLayout() gives each fixture its expected init result, and so does planPools() with the fixture's isolated CPUs", async () => {
  // What `kcm init` without flags writes stays the reference layout: the
  // fixtures' isolated cores are the ones these cases use.
  let checked = 0;
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (!entry.isDirectory) continue;
    const root = join(FIXTURES, entry.name);
    const { cases } = JSON.parse(
      await Deno.readTextFile(join(root, "expected_init.json")),
    ) as { cases: ExpectedCase[] };
    assert.ok(cases.length > 0, entry.name);
    const topology = await readTopology(root);
    const isolated = await readIsolatedCpus(root);
    for (const { dataplane, controlplane, layout, error } of cases) {
      const where = `${entry.name}: dp ${dataplane}, cp ${controlplane}`;
      const counts = { dataplane, controlplane };
      for (
        const plan of [
          () => planLayout(topology, counts),
          () => planPools(topology, counts, { isolated }).pools,
        ]
      ) {
        if (error !== undefined) {
          assert.throws(plan, { name: "ResourceError", message: error }, where);
        } else {
          assert.deepEqual(plan(), layout, where);
        }
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

// isolcpus and placement modes (planPools).

/** Two nodes of `perNode` 2-thread cores; siblings c and c + cores. */
function twoNodes(perNode: number): Topology {
  const cores = 2 * perNode;
  const cpus: LogicalCpu[] = [];
  for (let t = 0; t < 2; t++) {
    for (let c = 0; c < cores; c++) {
      const node = Math.floor(c / perNode);
      cpus.push({
        id: t * cores + c,
        packageId: node,
        dieId: 0,
        coreId: c % perNode,
        numaNode: node,
        l3Id: node,
      });
    }
  }
  return new Topology(cpus);
}

function lists(plan: LayoutPlan): string[][] {
  return plan.pools.map((pool) => pool.cpuLists);
}

Deno.test("planPools() gives dataplane and controlplane only fully isolated cores", () => {
  // 8 cores 0,8 .. 7,15; cores 2,10 / 3,11 / 5,13 fully isolated, core
  // 6,14 partly (14 only).
  const topology = twoNodes(4);
  const plan = planPools(topology, { dataplane: 2, controlplane: 1 }, {
    isolated: parseCpuList("2,3,5,10,11,13,14"),
  });
  assert.deepEqual(lists(plan), [
    ["5,13", "3,11"],
    ["2,10"],
    ["0,8,1,9,4,12,6,14,7,15"],
  ]);
  assert.deepEqual(
    plan.warnings.map((w) => [w.code, w.cpus.toString(), w.message]),
    [[
      "partly-isolated-core",
      "6,14",
      "Physical core of CPUs 6,14 is only partly isolated (isolated: 14): left to infra",
    ]],
  );
  assert.equal(plan.isolatedCores.toString(), "2-3,5,10-11,13");
});

Deno.test("planPools() warns about isolated cores left to infra", () => {
  const plan = planPools(twoNodes(4), { dataplane: 1, controlplane: 0 }, {
    isolated: parseCpuList("4-7,12-15"),
  });
  assert.deepEqual(lists(plan), [["7,15"], [], [
    "0,8,1,9,2,10,3,11,4,12,5,13,6,14",
  ]]);
  assert.deepEqual(plan.warnings.map((w) => [w.code, w.cpus.toString()]), [
    ["isolated-cores-in-infra", "4-6,12-14"],
  ]);
});

Deno.test("planPools() ignores isolated CPUs that are offline or unknown", () => {
  const topology = twoNodes(2); // CPUs 0-7
  const plain = planPools(topology, { dataplane: 1, controlplane: 1 });
  const offline = planPools(topology, { dataplane: 1, controlplane: 1 }, {
    isolated: parseCpuList("8-63"),
  });
  assert.deepEqual(offline, plain);
  assert.ok(plain.isolatedCores.isEmpty());
  assert.deepEqual(plain.warnings, []);
});

Deno.test("planPools() with ignoreIsolcpus gives the plain layout", () => {
  const topology = twoNodes(4);
  const isolated = parseCpuList("2,10,14");
  assert.deepEqual(
    planPools(topology, { dataplane: 2, controlplane: 1 }, {
      isolated,
      ignoreIsolcpus: true,
    }),
    planPools(topology, { dataplane: 2, controlplane: 1 }),
  );
  assert.throws(
    () => planPools(topology, { dataplane: 2, controlplane: 1 }, { isolated }),
    IsolatedCoresError,
  );
});

Deno.test("planPools() names found and needed isolated cores when too few", () => {
  const error = (() => {
    try {
      planPools(twoNodes(4), { dataplane: 2, controlplane: 1 }, {
        isolated: parseCpuList("6,7,14,15,5"),
      });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof IsolatedCoresError, String(error));
  assert.ok(error instanceof ResourceError);
  assert.deepEqual([error.found, error.needed, error.exitCode], [2, 3, 1]);
  assert.equal(
    error.message,
    "Not enough isolated physical cores: need 3 (2 dataplane + 1 " +
      "controlplane), found 2 with every thread isolated",
  );
  assert.match(error.hint ?? "", /--ignore-isolcpus/);
});

Deno.test("planPools() checks the total core count before the isolated one", () => {
  assert.throws(
    () =>
      planPools(twoNodes(2), { dataplane: 4, controlplane: 0 }, {
        isolated: parseCpuList("0-7"),
      }),
    (e: unknown) =>
      e instanceof ResourceError && !(e instanceof IsolatedCoresError) &&
      /^Not enough physical cores: need 5/.test(e.message),
  );
});

Deno.test("planPools() spreads round robin over nodes, skipping a node that ran out", () => {
  // Node 0: cores 0..3, node 1: cores 4..7; only core 3 of node 0 and all
  // of node 1 are isolated.
  const plan = planPools(twoNodes(4), { dataplane: 4, controlplane: 1 }, {
    isolated: parseCpuList("3-7,11-15"),
    dataplaneMode: "spread",
    controlplaneMode: "spread",
  });
  assert.deepEqual(lists(plan), [
    ["7,15", "3,11", "6,14", "5,13"],
    ["4,12"],
    ["0,8,1,9,2,10"],
  ]);
  // Without NUMA nodes, spread is packed.
  const flat = machine(6);
  assert.deepEqual(
    planPools(flat, { dataplane: 3, controlplane: 2 }, {
      dataplaneMode: "spread",
      controlplaneMode: "spread",
    }),
    planPools(flat, { dataplane: 3, controlplane: 2 }),
  );
});

// Every fixture against its expected_init.json placement_cases.

interface ExpectedPlacement extends ExpectedCase {
  options: LayoutOptions;
  warnings?: { code: string; cpus: string; message: string }[];
}

Deno.test("planPools() gives each fixture its expected placement results", async () => {
  const seen: string[] = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (!entry.isDirectory) continue;
    const root = join(FIXTURES, entry.name);
    const expected = JSON.parse(
      await Deno.readTextFile(join(root, "expected_init.json")),
    ) as { placement_cases?: ExpectedPlacement[] };
    const topology = await readTopology(root);
    const isolated = await readIsolatedCpus(root);
    for (const c of expected.placement_cases ?? []) {
      const where = `${entry.name}: ${JSON.stringify(c.options)} ` +
        `dp ${c.dataplane}, cp ${c.controlplane}`;
      const plan = () => planPools(topology, c, { isolated, ...c.options });
      if (c.error !== undefined) {
        assert.throws(plan, { message: c.error }, where);
      } else {
        const result = plan();
        assert.deepEqual(result.pools, c.layout, where);
        assert.deepEqual(
          result.warnings.map((w) => ({
            code: w.code,
            cpus: w.cpus.toString(),
            message: w.message,
          })),
          c.warnings,
          where,
        );
      }
      seen.push(entry.name);
    }
  }
  for (
    const name of [
      "dual_snc2_2x20x2",
      "epyc_2x64x2_nps4",
      "hybrid_4p_8e",
      "xeon_d_1x8x2",
      "dual_2x3x2_interleaved",
    ]
  ) {
    assert.ok(seen.includes(name), `${name} has placement cases`);
  }
});

// Properties of planPools over random machines.

/**
 * A shuffled 256-CPU machine can leave infra a list no file name can hold:
 * refused, as the NAME_MAX test above shows, and not the business of the
 * properties below. True when `error` is that refusal, for a name that
 * really is too long.
 */
function refusedForNameLength(error: unknown): boolean {
  return error instanceof ListNameTooLongError &&
    new TextEncoder().encode(error.ranges).length > NAME_MAX;
}

/** Such a machine, as a random run of CI drew it (infra's ranges: 268 bytes). */
const SCATTERED_256 = (() => {
  const shape = {
    packages: 2,
    nodesPerPackage: 4,
    coresPerNode: 8,
    threads: 4,
    l3PerNode: 1,
    numbering: "shuffled" as const,
    seed: 1203155230,
  };
  return {
    shape,
    topology: buildTopology(shape),
    isolated: CpuSet.EMPTY,
    dataplane: 20,
    controlplane: 1,
    dataplaneMode: "spread" as const,
    controlplaneMode: "packed" as const,
  };
})();

Deno.test("a scattered 256-CPU machine is refused for infra's list name, with the name as data", () => {
  assert.throws(
    () => planPools(SCATTERED_256.topology, SCATTERED_256, SCATTERED_256),
    (error: unknown) =>
      refusedForNameLength(error) &&
      (error as ListNameTooLongError).pool === "infra",
  );
});

const arbitraryIsolatedPlan = arbitraryShape.chain((shape) => {
  const topology = buildTopology(shape);
  const cores = topology.cores.length;
  return fc.record({
    shape: fc.constant(shape),
    topology: fc.constant(topology),
    isolated: fc.subarray(topology.allCpus().toArray()).map((ids) =>
      CpuSet.of(ids)
    ),
    dataplane: fc.integer({ min: 0, max: cores - 1 }),
    controlplane: fc.integer({ min: 0, max: cores - 1 }),
    dataplaneMode: fc.constantFrom(...PLACEMENT_MODES),
    controlplaneMode: fc.constantFrom(...PLACEMENT_MODES),
  });
}).filter(({ topology, dataplane, controlplane }) =>
  dataplane + controlplane < topology.cores.length
);

Deno.test("planPools() puts isolated pools on fully isolated cores only, or fails", () => {
  fc.assert(
    fc.property(arbitraryIsolatedPlan, (p) => {
      const counts = { dataplane: p.dataplane, controlplane: p.controlplane };
      const full = p.topology.cores.filter((c) =>
        c.cpus.isSubsetOf(p.isolated)
      );
      const partial = p.topology.cores.filter((c) =>
        !c.cpus.isSubsetOf(p.isolated) &&
        !c.cpus.intersection(p.isolated).isEmpty()
      );
      const active = !p.isolated.isEmpty();
      let plan: LayoutPlan;
      try {
        plan = planPools(p.topology, counts, p);
      } catch (error) {
        if (refusedForNameLength(error)) return;
        assert.ok(error instanceof IsolatedCoresError, String(error));
        assert.ok(active && full.length < p.dataplane + p.controlplane);
        assert.equal(error.found, full.length);
        return;
      }
      const [dp, cp, infra] = plan.pools;
      const seen = plan.pools.flatMap((pool) =>
        pool.cpuLists.flatMap((list) => parseCpuList(list).toArray())
      );
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        p.topology.allCpus().toArray(),
      );
      assert.equal(dp!.cpuLists.length, p.dataplane);
      assert.equal(infra!.cpuLists.length, 1);
      for (const list of [...dp!.cpuLists, ...cp!.cpuLists]) {
        const cpus = parseCpuList(list);
        if (active) assert.ok(cpus.isSubsetOf(p.isolated), list);
      }
      assert.deepEqual(
        plan.warnings.filter((w) => w.code === "partly-isolated-core")
          .map((w) => w.cpus.toString()),
        active ? partial.map((c) => c.cpus.toString()) : [],
      );
    }),
    { examples: [[SCATTERED_256]] },
  );
});

Deno.test("planPools() with spread gives each NUMA node its share", () => {
  fc.assert(
    fc.property(arbitraryIsolatedPlan, (p) => {
      let plan: ReturnType<typeof planPools>;
      try {
        plan = planPools(p.topology, p, { dataplaneMode: "spread" });
      } catch (error) {
        if (refusedForNameLength(error)) return;
        throw error;
      }
      const nodeOf = (list: string) =>
        p.topology.cpu(parseCpuList(list).toArray()[0]!)!.numaNode!;
      const taken = new Map<number, number>();
      for (const list of plan.pools[0]!.cpuLists) {
        taken.set(nodeOf(list), (taken.get(nodeOf(list)) ?? 0) + 1);
      }
      // A node that still had cores when the dealing ended got at least
      // as many as any other node, minus one.
      const most = Math.max(0, ...taken.values());
      for (const node of p.topology.numaNodes()) {
        const capacity = p.topology.coresInNumaNode(node).length;
        const got = taken.get(node) ?? 0;
        assert.ok(got === capacity || got >= most - 1, `node ${node}`);
      }
    }),
  );
});

Deno.test("planPools() without isolated CPUs or modes is the reference layout", () => {
  fc.assert(
    fc.property(arbitraryPlan, ({ topology, dataplane, controlplane }) => {
      const counts = { dataplane, controlplane };
      assert.deepEqual(
        planPools(topology, counts, {
          isolated: CpuSet.EMPTY,
          dataplaneMode: "packed",
          controlplaneMode: "packed",
        }),
        {
          pools: planLayout(topology, counts),
          warnings: [],
          isolatedCores: CpuSet.EMPTY,
        },
      );
    }),
  );
});
