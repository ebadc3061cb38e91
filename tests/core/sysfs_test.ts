import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SysfsError } from "../../core/errors.ts";
import {
  readIsolatedCpus,
  readOnlineCpus,
  readTopology,
} from "../../core/sysfs.ts";
import type { Topology } from "../../core/topology.ts";

const FIXTURES = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "sysfs",
);

/** What each fixture must read as. */
interface Facts {
  cpus: string;
  cores: number;
  packages: number[];
  dies: number[];
  numaNodes: number[];
  l3Ids: number[] | "none";
  /** cpu -> the CPUs of its physical core. */
  siblings: Record<number, string>;
  /** NUMA node -> its CPUs. */
  nodeCpus?: Record<number, string>;
  /** L3 id -> its CPUs. */
  l3Cpus?: Record<number, string>;
  /** package -> its number of cores. */
  coresPerPackage: Record<number, number>;
}

const FACTS: Record<string, Facts> = {
  "this_machine_2": {
    cpus: "0-1",
    cores: 2,
    packages: [0],
    dies: [0],
    numaNodes: [0],
    l3Ids: [0],
    siblings: { 0: "0", 1: "1" },
    coresPerPackage: { 0: 2 },
  },
  "xeon_d_1x8x2": {
    cpus: "0-15",
    cores: 8,
    packages: [0],
    dies: [0],
    numaNodes: [0],
    l3Ids: [0],
    siblings: { 0: "0,8", 7: "7,15", 12: "4,12" },
    coresPerPackage: { 0: 8 },
  },
  "dual_2x3x2_interleaved": {
    cpus: "0-11",
    cores: 6,
    packages: [0, 1],
    dies: [0],
    numaNodes: [0, 1],
    l3Ids: [0, 1],
    siblings: { 0: "0,6", 1: "1,7", 8: "2,8", 11: "5,11" },
    nodeCpus: { 0: "0,2,4,6,8,10", 1: "1,3,5,7,9,11" },
    l3Cpus: { 0: "0,2,4,6,8,10", 1: "1,3,5,7,9,11" },
    coresPerPackage: { 0: 3, 1: 3 },
  },
  "dual_snc2_2x20x2": {
    cpus: "0-79",
    cores: 40,
    packages: [0, 1],
    dies: [0],
    numaNodes: [0, 1, 2, 3],
    l3Ids: [0, 1],
    siblings: { 0: "0,40", 19: "19,59", 20: "20,60", 79: "39,79" },
    nodeCpus: { 1: "10-19,50-59", 3: "30-39,70-79" },
    l3Cpus: { 1: "20-39,60-79" },
    coresPerPackage: { 0: 20, 1: 20 },
  },
  "epyc_2x64x2_nps4": {
    cpus: "0-255",
    cores: 128,
    packages: [0, 1],
    dies: [0],
    numaNodes: [0, 1, 2, 3, 4, 5, 6, 7],
    l3Ids: [...Array(16).keys()],
    siblings: { 0: "0,128", 64: "64,192", 255: "127,255" },
    nodeCpus: { 0: "0-15,128-143", 5: "80-95,208-223" },
    l3Cpus: { 0: "0-7,128-135", 9: "72-79,200-207", 15: "120-127,248-255" },
    coresPerPackage: { 0: 64, 1: 64 },
  },
  "hybrid_4p_8e": {
    cpus: "0-15",
    cores: 12,
    packages: [0],
    dies: [0],
    numaNodes: [0],
    l3Ids: [0],
    siblings: { 0: "0-1", 7: "6-7", 8: "8", 15: "15" },
    coresPerPackage: { 0: 12 },
  },
  "sparse_core_ids_2x10": {
    cpus: "0-39",
    cores: 20,
    packages: [0, 1],
    dies: [0],
    numaNodes: [0, 1],
    l3Ids: [0, 1],
    siblings: { 5: "5,25", 15: "15,35", 39: "19,39" },
    nodeCpus: { 0: "0-9,20-29", 1: "10-19,30-39" },
    coresPerPackage: { 0: 10, 1: 10 },
  },
  "smt4_1x8x4": {
    cpus: "0-31",
    cores: 8,
    packages: [0],
    dies: [0],
    numaNodes: [0],
    l3Ids: "none",
    siblings: { 0: "0,8,16,24", 27: "3,11,19,27", 31: "7,15,23,31" },
    coresPerPackage: { 0: 8 },
  },
  "offline_cpu_1x4x2": {
    cpus: "0-2,4-7",
    cores: 4,
    packages: [0],
    dies: [0],
    numaNodes: [0],
    l3Ids: [0],
    siblings: { 0: "0,4", 2: "2,6", 7: "7" },
    coresPerPackage: { 0: 4 },
  },
};

function checkFacts(name: string, topology: Topology, facts: Facts): void {
  const where = `fixture ${name}`;
  assert.equal(topology.allCpus().toString(), facts.cpus, where);
  assert.equal(topology.cores.length, facts.cores, where);
  assert.deepEqual(topology.packages(), facts.packages, where);
  assert.deepEqual(
    [...new Set(topology.cpus.map((c) => c.dieId))],
    facts.dies,
    where,
  );
  assert.deepEqual(topology.numaNodes(), facts.numaNodes, where);
  if (facts.l3Ids === "none") {
    assert.ok(topology.cpus.every((c) => c.l3Id === null), where);
  } else {
    assert.deepEqual(topology.l3Ids(), facts.l3Ids, where);
  }
  for (const [cpu, siblings] of Object.entries(facts.siblings)) {
    assert.equal(
      topology.coreOf(Number(cpu))?.cpus.toString(),
      siblings,
      `${where}, cpu ${cpu}`,
    );
  }
  for (const [node, cpus] of Object.entries(facts.nodeCpus ?? {})) {
    assert.equal(topology.cpusInNumaNode(Number(node)).toString(), cpus, where);
  }
  for (const [l3, cpus] of Object.entries(facts.l3Cpus ?? {})) {
    assert.equal(topology.cpusInL3(Number(l3)).toString(), cpus, where);
  }
  for (const [pkg, count] of Object.entries(facts.coresPerPackage)) {
    assert.equal(topology.coresInPackage(Number(pkg)).length, count, where);
  }
  // Every core is whole: its threads share package, die, core id and node.
  for (const core of topology.cores) {
    const threads = core.cpus.toArray().map((id) => topology.cpu(id)!);
    assert.ok(
      threads.every((t) =>
        t.packageId === core.packageId && t.dieId === core.dieId &&
        t.coreId === core.coreId && t.numaNode === threads[0]!.numaNode
      ),
      `${where}, core ${core.cpus}`,
    );
  }
}

Deno.test("readTopology() reads every fixture as its machine shape", async () => {
  const names = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (entry.isDirectory) names.push(entry.name);
  }
  assert.deepEqual(names.sort(), Object.keys(FACTS).sort());
  for (const name of names) {
    const facts = FACTS[name]!;
    checkFacts(name, await readTopology(join(FIXTURES, name)), facts);
  }
});

Deno.test("readTopology() tells apart cores with one core id in two sockets", async () => {
  const topology = await readTopology(join(FIXTURES, "sparse_core_ids_2x10"));
  const socket0 = topology.coreOf(5)!;
  const socket1 = topology.coreOf(15)!;
  assert.deepEqual([socket0.coreId, socket1.coreId], [8, 8]);
  assert.deepEqual([socket0.packageId, socket1.packageId], [0, 1]);
  assert.equal(socket0.cpus.intersection(socket1.cpus).size, 0);
  assert.deepEqual(
    topology.coresInPackage(1).map((c) => c.coreId),
    [0, 1, 2, 3, 4, 8, 9, 10, 11, 12],
  );
});

Deno.test("readTopology() takes die 0 and the L3 from shared_cpu_list on old kernels", async () => {
  const topology = await readTopology(
    join(FIXTURES, "dual_2x3x2_interleaved"),
  );
  assert.deepEqual(topology.cpu(9), {
    id: 9,
    packageId: 1,
    dieId: 0,
    coreId: 1,
    numaNode: 1,
    l3Id: 1,
  });
});

Deno.test("readTopology() skips offline CPUs", async () => {
  const root = join(FIXTURES, "offline_cpu_1x4x2");
  // cpu3's files are there; only `online` keeps it out.
  await Deno.stat(join(root, "devices/system/cpu/cpu3/topology/core_id"));
  const topology = await readTopology(root);
  assert.equal(topology.cpu(3), undefined);
  assert.equal(topology.coreOf(7)?.cpus.toString(), "7");
  assert.equal((await readOnlineCpus(root)).toString(), "0-2,4-7");
});

Deno.test("readTopology() reads the sysfs of this machine", async () => {
  const topology = await readTopology("/sys");
  const online = await readOnlineCpus("/sys");
  assert.ok(topology.allCpus().equals(online));
  assert.ok(topology.cores.length >= 1);
  assert.ok(topology.cores.length <= online.size);
});

// Trees edited in a temporary copy.

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory) await copyTree(source, target);
    else await Deno.copyFile(source, target);
  }
}

/** Runs `body` on a temporary copy of fixture `name`. */
async function withCopy(
  name: string,
  body: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "kcm_sysfs_" });
  try {
    await copyTree(join(FIXTURES, name), root);
    await body(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("readTopology() treats -1 package and die ids as 0", async () => {
  await withCopy("this_machine_2", async (root) => {
    const cpu1 = join(root, "devices/system/cpu/cpu1/topology");
    await Deno.writeTextFile(join(cpu1, "physical_package_id"), "-1\n");
    await Deno.writeTextFile(join(cpu1, "die_id"), "-1\n");
    const topology = await readTopology(root);
    assert.deepEqual(
      [topology.cpu(1)?.packageId, topology.cpu(1)?.dieId],
      [0, 0],
    );
  });
});

Deno.test("readTopology() gives null NUMA nodes without devices/system/node", async () => {
  await withCopy("xeon_d_1x8x2", async (root) => {
    await Deno.remove(join(root, "devices/system/node"), { recursive: true });
    const topology = await readTopology(root);
    assert.ok(topology.cpus.every((c) => c.numaNode === null));
    assert.deepEqual(topology.numaNodes(), []);
    assert.equal(topology.cores.length, 8);
  });
});

Deno.test("readTopology() gives a null L3 without cache/index3", async () => {
  await withCopy("this_machine_2", async (root) => {
    await Deno.remove(join(root, "devices/system/cpu/cpu1/cache"), {
      recursive: true,
    });
    const topology = await readTopology(root);
    assert.equal(topology.cpu(0)?.l3Id, 0);
    assert.equal(topology.cpu(1)?.l3Id, null);
  });
});

Deno.test("readTopology() groups L3s the same from index3/id and from shared_cpu_list", async () => {
  /** The L3 partition: each L3's CPUs, sorted. */
  const partition = (topology: Topology) =>
    topology.l3Ids().map((id) => topology.cpusInL3(id).toString()).sort();
  let compared = 0;
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (!entry.isDirectory) continue;
    await withCopy(entry.name, async (root) => {
      const withIds = await readTopology(root);
      const cpuRoot = join(root, "devices/system/cpu");
      for await (const cpu of Deno.readDir(cpuRoot)) {
        if (!cpu.isDirectory) continue;
        await Deno.remove(join(cpuRoot, cpu.name, "cache/index3/id"))
          .catch((e) => {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          });
      }
      const fromLists = await readTopology(root);
      assert.deepEqual(partition(fromLists), partition(withIds), entry.name);
      if (withIds.l3Ids().length > 0) compared++;
    });
  }
  assert.equal(compared, 8, "every fixture but smt4_1x8x4 has an L3");
});

// Isolated CPUs.

Deno.test("readIsolatedCpus() reads full, partial, empty and missing isolation", async () => {
  for (
    const [name, isolated] of [
      ["dual_snc2_2x20x2", "10-39,50-79"],
      ["epyc_2x64x2_nps4", "68-127,195-255"],
      ["hybrid_4p_8e", "1-15"],
      ["xeon_d_1x8x2", ""],
      ["this_machine_2", ""],
      ["sparse_core_ids_2x10", ""],
    ] as const
  ) {
    const root = join(FIXTURES, name);
    assert.equal((await readIsolatedCpus(root)).toString(), isolated, name);
  }
  // Empty files and a missing one are both "none".
  assert.equal(
    await Deno.readTextFile(
      join(FIXTURES, "xeon_d_1x8x2/devices/system/cpu/isolated"),
    ),
    "\n",
  );
  await assert.rejects(
    Deno.stat(
      join(FIXTURES, "sparse_core_ids_2x10/devices/system/cpu/isolated"),
    ),
    Deno.errors.NotFound,
  );
});

Deno.test("readIsolatedCpus() reads this machine's isolated CPUs", async () => {
  const isolated = await readIsolatedCpus("/sys");
  const online = await readOnlineCpus("/sys");
  assert.ok(isolated.difference(online).size <= isolated.size);
});

Deno.test("readIsolatedCpus() fails on junk, naming the file and the value", async () => {
  for (
    const [content, quoted] of [
      ["2-\n", '"2-\\n"'],
      ["isolcpus=2-5\n", '"isolcpus=2-5\\n"'],
      ["2,,3\n", '"2,,3\\n"'],
      ["9000\n", '"9000\\n"'],
    ] as const
  ) {
    await withCopy("xeon_d_1x8x2", async (root) => {
      const file = join(root, "devices/system/cpu/isolated");
      await Deno.writeTextFile(file, content);
      const error = await readIsolatedCpus(root).then(
        () => assert.fail(`accepted ${JSON.stringify(content)}`),
        (e: unknown) => e,
      );
      assert.ok(error instanceof SysfsError, String(error));
      assert.equal(error.exitCode, 1);
      assert.equal(
        error.message,
        `Cannot parse ${file}: ${quoted} is not a CPU list`,
      );
    });
  }
});

Deno.test("readIsolatedCpus() fails when the file cannot be read", async () => {
  await withCopy("xeon_d_1x8x2", async (root) => {
    const file = join(root, "devices/system/cpu/isolated");
    await Deno.remove(file);
    await Deno.mkdir(file);
    await assert.rejects(
      readIsolatedCpus(root),
      (error: unknown) =>
        error instanceof SysfsError &&
        error.message.startsWith(`Cannot read ${file}: `),
    );
  });
});

// Errors: each names the file and quotes what it held.

async function rejectsSysfs(
  root: string,
  file: string,
  message: RegExp,
): Promise<SysfsError> {
  const error = await readTopology(root).then(
    () => assert.fail("readTopology() did not fail"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SysfsError, String(error));
  assert.ok(error.message.includes(join(root, file)), error.message);
  assert.match(error.message, message);
  assert.equal(error.exitCode, 1);
  return error;
}

Deno.test("readTopology() fails on a missing online file, with a hint", async () => {
  await withCopy("this_machine_2", async (root) => {
    await Deno.remove(join(root, "devices/system/cpu/online"));
    const error = await rejectsSysfs(
      root,
      "devices/system/cpu/online",
      /^Cannot read .*online: /,
    );
    assert.match(error.hint ?? "", /KCM_SYS_FS/);
    assert.ok(error.cause instanceof Deno.errors.NotFound);
  });
});

Deno.test("readOnlineCpus() fails on a root that does not exist", async () => {
  await assert.rejects(
    readOnlineCpus("/nonexistent/kcm-sysfs"),
    (error: unknown) =>
      error instanceof SysfsError &&
      error.message.startsWith(
        "Cannot read /nonexistent/kcm-sysfs/devices/system/cpu/online: ",
      ),
  );
});

Deno.test("readTopology() fails on garbage in core_id", async () => {
  await withCopy("xeon_d_1x8x2", async (root) => {
    const file = "devices/system/cpu/cpu9/topology/core_id";
    await Deno.writeTextFile(join(root, file), "one\n");
    await rejectsSysfs(
      root,
      file,
      /^Cannot parse \S+core_id: "one\\n" is not a non-negative integer$/,
    );
  });
});

Deno.test("readTopology() fails on garbage in ids", async () => {
  for (
    const [file, content, message] of [
      ["cpu1/topology/core_id", "-1\n", /"-1\\n" is not a non-negative/],
      ["cpu1/topology/core_id", "\n", /"\\n" is not a non-negative/],
      ["cpu1/topology/core_id", "1.0\n", /"1.0\\n" is not a non-negative/],
      ["cpu0/topology/physical_package_id", "0x1\n", /"0x1\\n" is not an id/],
      ["cpu0/topology/die_id", "-2\n", /"-2\\n" is not an id/],
      ["cpu1/cache/index3/id", "L3\n", /"L3\\n" is not a non-negative/],
    ] as const
  ) {
    await withCopy("this_machine_2", async (root) => {
      const path = `devices/system/cpu/${file}`;
      await Deno.writeTextFile(join(root, path), content);
      await rejectsSysfs(root, path, message);
    });
  }
});

Deno.test("readTopology() fails on a missing core_id of an online CPU", async () => {
  await withCopy("this_machine_2", async (root) => {
    const file = "devices/system/cpu/cpu1/topology/core_id";
    await Deno.remove(join(root, file));
    await rejectsSysfs(root, file, /^Cannot read \S+: /);
  });
});

Deno.test("readTopology() fails on a bad or empty online list", async () => {
  for (
    const [content, message] of [
      ["0-\n", /"0-\\n" is not a CPU list/],
      ["zero\n", /"zero\\n" is not a CPU list/],
      ["\n", /"\\n" lists no CPU/],
    ] as const
  ) {
    await withCopy("this_machine_2", async (root) => {
      const file = "devices/system/cpu/online";
      await Deno.writeTextFile(join(root, file), content);
      await rejectsSysfs(root, file, message);
    });
  }
});

Deno.test("readTopology() fails on a bad node cpulist", async () => {
  await withCopy("dual_snc2_2x20x2", async (root) => {
    const file = "devices/system/node/node2/cpulist";
    await Deno.writeTextFile(join(root, file), "20-29,60-\n");
    await rejectsSysfs(root, file, /"20-29,60-\\n" is not a CPU list/);
  });
});

Deno.test("readTopology() fails on a CPU listed by two nodes", async () => {
  await withCopy("dual_snc2_2x20x2", async (root) => {
    const file = "devices/system/node/node3/cpulist";
    await Deno.writeTextFile(join(root, file), "29-39,70-79\n");
    await rejectsSysfs(
      root,
      file,
      /^CPU 29 is listed by both \S+node2\/cpulist and \S+node3\/cpulist$/,
    );
  });
});

Deno.test("readTopology() fails on a bad L3 shared_cpu_list", async () => {
  await withCopy("dual_2x3x2_interleaved", async (root) => {
    const file = "devices/system/cpu/cpu4/cache/index3/shared_cpu_list";
    await Deno.writeTextFile(join(root, file), "\n");
    await rejectsSysfs(root, file, /"\\n" lists no CPU/);
  });
});
