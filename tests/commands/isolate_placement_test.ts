/**
 * `kcm isolate --cores/--numa-node/--socket-id` as real processes on config
 * directories that `kcm init` wrote from sysfs fixtures (the EPYC NPS4 tree
 * has 8 NUMA nodes of 16 cores and 16 L3s): which lists a claim takes, what
 * the child sees (KCM_CPUS_ASSIGNED, _MASK, KCM_NUMA_NODES_ASSIGNED), that
 * release frees every list, real pinning of a 2-list claim on this 2-CPU
 * machine, directories without a topology record, and every bad input
 * leaving the directory as it was.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readTopology } from "../../core/sysfs.ts";
import { formatTopologyRecord } from "../../core/topology_record.ts";
import { CpuSet } from "../../core/cpuset.ts";
import {
  type CliResult,
  finish,
  REPO_ROOT,
  runKcm,
  spawnKcm,
} from "../_helpers/run_cli.ts";
import {
  makeConfigDir,
  snapshotTree,
  type TempConfig,
} from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";

const SYSFS = join(REPO_ROOT, "tests/fixtures/sysfs");
const EPYC = join(SYSFS, "epyc_2x64x2_nps4");

/** A temp folder with a config directory `kcm init` wrote. */
interface InitDir extends AsyncDisposable {
  readonly root: string;
  readonly confDir: string;
  tasks(list: string): Promise<string>;
}

/** Runs `kcm init` with `flags` on the fixture `sysfs` in a temp folder. */
async function initDir(sysfs: string, flags: string[]): Promise<InitDir> {
  const root = await Deno.makeTempDir({ prefix: "kcm-place-" });
  const confDir = join(root, "kcm");
  await Deno.writeTextFile(join(root, "meminfo"), "HugePages_Free: 8\n");
  const result = await runKcm(["init", `--conf-dir=${confDir}`, ...flags], {
    env: { KCM_SYS_FS: sysfs, KCM_PROC_FS: root, KCM_LOG_LEVEL: "ERROR" },
  });
  assert.equal(result.code, 0, result.stderr);
  return {
    root,
    confDir,
    tasks: (list) =>
      Deno.readTextFile(join(confDir, "pools/dataplane", list, "tasks")),
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/**
 * The EPYC tree with 24 dataplane cores taken the packed way: cores
 * 104-127 (threads +128), i.e. 8 cores of NUMA node 6 (all under the L3
 * of CPUs 104-111) and all 16 of node 7 (two L3s: 112-119, 120-127).
 */
function epycPacked24(): Promise<InitDir> {
  return initDir(EPYC, ["--num-dp-cores=24", "--ignore-isolcpus"]);
}

/** The child prints what it was given, then the tasks of every list. */
const SHOW = 'echo "$KCM_CPUS_ASSIGNED|$KCM_CPUS_ASSIGNED_MASK|' +
  '$KCM_NUMA_NODES_ASSIGNED|$PPID"; cd pools/dataplane; ' +
  'for l in *; do [ -d "$l" ] && [ -s "$l/tasks" ] && ' +
  'echo "$l=$(cat "$l/tasks")"; done; true';

interface Shown {
  assigned: string;
  mask: string;
  numaNodes: string;
  /** Lists holding a pid while the child ran: name -> tasks text. */
  busy: Record<string, string>;
  parent: string;
}

/** Runs `kcm isolate --pool=dataplane --no-affinity <flags> sh -c SHOW`. */
async function claimAndShow(
  dir: { confDir: string },
  flags: string[],
  env: Record<string, string> = {},
): Promise<{ result: CliResult; shown: Shown }> {
  const result = await runKcm([
    "isolate",
    `--conf-dir=${dir.confDir}`,
    "--pool=dataplane",
    "--no-affinity",
    ...flags,
    "sh",
    "--",
    "-c",
    SHOW,
  ], { env, cwd: dir.confDir });
  assert.equal(result.code, 0, result.stderr);
  const [first, ...rest] = result.stdout.trimEnd().split("\n");
  const [assigned, mask, numaNodes, parent] = first!.split("|");
  const busy: Record<string, string> = {};
  for (const line of rest) {
    const [list, tasks] = line.split("=");
    busy[list!] = tasks!;
  }
  return {
    result,
    shown: {
      assigned: assigned!,
      mask: mask!,
      numaNodes: numaNodes!,
      parent: parent!,
      busy,
    },
  };
}

/** The kernel's hex mask of `cpus`, computed here independently. */
function hexMask(cpus: readonly number[]): string {
  let mask = 0n;
  for (const cpu of cpus) mask |= 1n << BigInt(cpu);
  return `0x${mask.toString(16)}`;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Every list of the dataplane pool whose tasks file is not empty. */
async function busyLists(dir: { confDir: string }): Promise<string[]> {
  const busy: string[] = [];
  const pool = join(dir.confDir, "pools/dataplane");
  for await (const entry of Deno.readDir(pool)) {
    if (!entry.isDirectory) continue;
    if (await Deno.readTextFile(join(pool, entry.name, "tasks")) !== "") {
      busy.push(entry.name);
    }
  }
  return busy.sort();
}

Deno.test("isolate --cores=4 on EPYC takes 4 lists of one NUMA node and L3, the child sees them, release frees all 4", async () => {
  await using dir = await epycPacked24();
  const { result, shown } = await claimAndShow(dir, ["--cores=4"]);
  assert.equal(result.stderr, "");
  // Node 6 has 8 free lists, node 7 16: the fuller node 6 gets the claim,
  // its first 4 lists in name order.
  const lists = ["104,232", "105,233", "106,234", "107,235"];
  assert.equal(shown.assigned, "104-107,232-235");
  assert.equal(shown.mask, hexMask([...range(104, 107), ...range(232, 235)]));
  assert.equal(shown.numaNodes, "6");
  assert.deepEqual(
    shown.busy,
    Object.fromEntries(lists.map((list) => [list, shown.parent])),
    "each chosen list holds kcm's pid while the command runs, no other does",
  );
  assert.deepEqual(await busyLists(dir), [], "release frees all 4");
});

Deno.test("isolate --cores takes its default from KCM_NUM_CORES; the flag wins over it", async () => {
  await using dir = await epycPacked24();
  const fromEnv = await claimAndShow(dir, [], { KCM_NUM_CORES: "3" });
  assert.equal(fromEnv.shown.assigned, "104-106,232-234");
  const flagWins = await claimAndShow(dir, ["--cores=2"], {
    KCM_NUM_CORES: "junk",
  });
  assert.equal(flagWins.shown.assigned, "104-105,232-233");
  const empty = await claimAndShow(dir, [], { KCM_NUM_CORES: "" });
  assert.equal(empty.shown.assigned, "104,232");
  assert.equal(empty.shown.mask, hexMask([104, 232]));
});

Deno.test("isolate --cores packs claims node by node as lists are taken", async () => {
  await using dir = await epycPacked24();
  // Hold 6 of node 6's lists with a pid that stays (a claim by hand).
  for (const cpu of range(104, 109)) {
    await Deno.writeTextFile(
      join(dir.confDir, `pools/dataplane/${cpu},${cpu + 128}/tasks`),
      "999999",
    );
  }
  // 2 left on node 6: a claim of 2 fills it; one of 3 goes to node 7, in
  // its first L3 (112-119).
  const two = await claimAndShow(dir, ["--cores=2"]);
  assert.equal(two.shown.assigned, "110-111,238-239");
  const three = await claimAndShow(dir, ["--cores=3"]);
  assert.equal(three.shown.assigned, "112-114,240-242");
  assert.equal(three.shown.numaNodes, "7");
});

Deno.test("isolate --cores spanning NUMA nodes logs one warning and tells the child every node", async () => {
  // Spread: 2 cores on each of the 8 nodes; no node holds 4.
  await using dir = await initDir(EPYC, [
    "--num-dp-cores=16",
    "--dp-mode=spread",
    "--ignore-isolcpus",
  ]);
  const { result, shown } = await claimAndShow(dir, ["--cores=4"]);
  assert.equal(
    result.stderr,
    "WARNING:root:Claim of 4 cpu lists spans NUMA nodes 6,7: no NUMA " +
      "node has 4 free cpu lists in pool dataplane (at most 2)\n",
  );
  assert.equal(shown.assigned, "110-111,126-127,238-239,254-255");
  assert.equal(shown.numaNodes, "6-7");
  assert.deepEqual(await busyLists(dir), []);

  // One list of node 7 taken: a plain one-list claim keeps the reference's
  // choice (first free in name order, on node 6); a placed one packs into
  // the fuller node 7.
  await Deno.writeTextFile(
    join(dir.confDir, "pools/dataplane/126,254/tasks"),
    "999999",
  );
  const plain = await claimAndShow(dir, []);
  assert.equal(plain.shown.assigned, "110,238");
  assert.equal(plain.shown.numaNodes, "6");
  const placed = await claimAndShow(dir, ["--socket-id=1"]);
  assert.equal(placed.shown.assigned, "127,255");
  assert.equal(placed.shown.numaNodes, "7");
});

Deno.test("isolate --numa-node and --socket-id keep the claim there", async () => {
  await using dir = await epycPacked24();
  const node7 = await claimAndShow(dir, ["--numa-node=7", "--cores=2"]);
  assert.equal(node7.shown.assigned, "112-113,240-241");
  assert.equal(node7.shown.numaNodes, "7");
  const socket1 = await claimAndShow(dir, ["--socket-id=1"]);
  assert.equal(socket1.shown.numaNodes, "6");
  // On a shared pool: one list, among those on the node.
  const infra = await runKcm([
    "isolate",
    `--conf-dir=${dir.confDir}`,
    "--pool=infra",
    "--no-affinity",
    "--numa-node=0",
    "printenv",
    "--",
    "KCM_CPUS_ASSIGNED",
  ]);
  assert.equal(infra.code, 1);
  assert.match(
    infra.stderr,
    /^kcm: error: Not enough free cpu lists on NUMA node 0 in pool infra: asked for 1, 0 free there \(free elsewhere: no single node: 1\)\n/,
  );
});

Deno.test("isolate on a shared pool ignores --cores and takes one list", async () => {
  await using dir = await epycPacked24();
  const result = await runKcm([
    "isolate",
    `--conf-dir=${dir.confDir}`,
    "--pool=controlplane",
    "--no-affinity",
    "--cores=5",
    "sh",
    "--",
    "-c",
    'echo "$KCM_CPUS_ASSIGNED|$KCM_NUMA_NODES_ASSIGNED"',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "103,231|6\n");
});

// A config directory without topology.json (made by the 2017 tool).

Deno.test("isolate without a topology record: one list needs no sysfs, more read it", async () => {
  await using dir = await epycPacked24();
  await Deno.remove(join(dir.confDir, "topology.json"));
  // One list, no placement flag: the reference's choice, sysfs not read
  // (KCM_SYS_FS names nothing), no NUMA node known.
  const one = await claimAndShow(dir, [], {
    KCM_SYS_FS: join(dir.root, "no-sysfs"),
  });
  assert.equal(one.shown.assigned, "104,232");
  assert.equal(one.shown.numaNodes, "");
  // Several lists: the topology comes from sysfs.
  const four = await claimAndShow(dir, ["--cores=4"], { KCM_SYS_FS: EPYC });
  assert.equal(four.shown.assigned, "104-107,232-235");
  assert.equal(four.shown.numaNodes, "6");
  const before = await snapshotTree(dir.confDir);
  for (const flags of [["--cores=2"], ["--numa-node=6"]]) {
    const failed = await runKcm([
      "isolate",
      `--conf-dir=${dir.confDir}`,
      "--pool=dataplane",
      ...flags,
      "true",
    ], { env: { KCM_SYS_FS: join(dir.root, "no-sysfs") } });
    assert.equal(failed.code, 1, flags.join(" "));
    assert.match(
      failed.stderr,
      /^kcm: error: Cannot read .*\/no-sysfs\/devices\/system\/cpu\/online: /,
    );
    assert.deepEqual(await snapshotTree(dir.confDir), before);
  }
});

// Bad input: one line, exit 2 for flags and the environment, 1 for what
// the machine or the pool lacks; nothing in the directory changes and
// the command does not run.

Deno.test("isolate refuses bad placement input with one line, changing nothing", async () => {
  await using dir = await epycPacked24();
  // Take 20 lists by hand, so that 4 are free.
  const pool = join(dir.confDir, "pools/dataplane");
  for (const cpu of range(108, 127)) {
    await Deno.writeTextFile(join(pool, `${cpu},${cpu + 128}`, "tasks"), "7");
  }
  const before = await snapshotTree(dir.confDir);
  const marker = join(dir.root, "ran");
  const cases: [string[], Record<string, string>, number, string][] = [
    // Flags and environment: usage errors.
    [["--cores=0"], {}, 2, '--cores must be a whole number >= 1, got "0"'],
    [["--cores=-1"], {}, 2, '--cores must be a whole number >= 1, got "-1"'],
    [["--cores=two"], {}, 2, '--cores must be a whole number >= 1, got "two"'],
    [["--cores=1.5"], {}, 2, '--cores must be a whole number >= 1, got "1.5"'],
    [["--cores="], {}, 2, '--cores must be a whole number >= 1, got ""'],
    [
      ["--numa-node=x"],
      {},
      2,
      '--numa-node must be a whole number >= 0, got "x"',
    ],
    [
      ["--socket-id=-1"],
      {},
      2,
      '--socket-id must be a whole number >= 0, got "-1"',
    ],
    [
      ["--numa-node=0", "--socket-id=0"],
      {},
      2,
      "--numa-node and --socket-id cannot be given together",
    ],
    [
      [],
      { KCM_NUM_CORES: "0" },
      2,
      'KCM_NUM_CORES must be a whole number >= 1, got "0"',
    ],
    [
      [],
      { KCM_NUM_CORES: "-2" },
      2,
      'KCM_NUM_CORES must be a whole number >= 1, got "-2"',
    ],
    [
      [],
      { KCM_NUM_CORES: "4 " },
      2,
      'KCM_NUM_CORES must be a whole number >= 1, got "4 "',
    ],
    // What the machine or the pool does not have: runtime errors.
    [
      ["--cores=25"],
      {},
      1,
      "Cannot claim 25 cpu lists in pool dataplane: it has 24",
    ],
    [
      ["--cores=5"],
      {},
      1,
      "Not enough free cpu lists in pool dataplane: asked for 5, 4 free (24 lists, 20 taken)",
    ],
    [
      ["--numa-node=8"],
      {},
      1,
      "Unknown NUMA node 8: the topology has nodes 0,1,2,3,4,5,6,7",
    ],
    [
      ["--socket-id=2"],
      {},
      1,
      "Unknown socket 2: the topology has sockets 0,1",
    ],
    [
      ["--numa-node=7"],
      {},
      1,
      "Not enough free cpu lists on NUMA node 7 in pool dataplane: asked for 1, 0 free there (free elsewhere: node 6: 4)",
    ],
    [
      ["--socket-id=0", "--cores=2"],
      {},
      1,
      "Not enough free cpu lists on socket 0 in pool dataplane: asked for 2, 0 free there (free elsewhere: socket 1: 4)",
    ],
  ];
  for (const [flags, env, code, message] of cases) {
    const what = `${flags.join(" ")} ${JSON.stringify(env)}`;
    const result = await runKcm([
      "isolate",
      `--conf-dir=${dir.confDir}`,
      "--pool=dataplane",
      "--no-affinity",
      ...flags,
      "touch",
      "--",
      marker,
    ], { env });
    assert.equal(result.code, code, `${what}: ${result.stderr}`);
    const lines = result.stderr.split("\n");
    assert.equal(lines[0], `kcm: error: ${message}`, what);
    if (code === 2) assert.equal(lines[1], "Usage:", what);
    else {
      assert.ok(
        lines.length === 2 || (lines.length === 3 && /^hint: /.test(lines[1]!)),
        `one line (and a hint): ${result.stderr}`,
      );
    }
    assert.deepEqual(await snapshotTree(dir.confDir), before, what);
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, what);
  }
});

Deno.test("isolate refuses a topology record that does not parse, changing nothing", async () => {
  await using dir = await epycPacked24();
  const record = join(dir.confDir, "topology.json");
  const cases: [string, RegExp][] = [
    ["{", /Cannot parse topology record ".*\/topology\.json": /],
    [
      '{"version": 2}',
      /Cannot parse topology record ".*": version: 2 is not a version this kcm reads \(1\)$/,
    ],
  ];
  for (const [text, pattern] of cases) {
    await Deno.writeTextFile(record, text);
    const before = await snapshotTree(dir.confDir);
    const result = await runKcm([
      "isolate",
      `--conf-dir=${dir.confDir}`,
      "--pool=dataplane",
      "--no-affinity",
      "true",
    ]);
    assert.equal(result.code, 1, text);
    const [line, hint, end] = result.stderr.split("\n");
    assert.match(line!, /^kcm: error: /);
    assert.match(line!, pattern);
    assert.equal(
      hint,
      `hint: remove ${record} to make kcm read the topology from sysfs`,
    );
    assert.equal(end, "");
    assert.deepEqual(await snapshotTree(dir.confDir), before, text);
  }
});

// Real pinning on this machine.

/** The `Cpus_allowed_list` value of a /proc status text. */
function cpusAllowed(status: string): string {
  const match = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status);
  assert.ok(match, `no Cpus_allowed_list in ${status}`);
  return match[1]!;
}

/** A pool of this machine's two CPUs as two lists, with their record. */
async function twoCpuPool(): Promise<TempConfig> {
  const conf = await makeConfigDir({
    dataplane: { exclusive: true, lists: { "0": "", "1": "" } },
  });
  const topology = await readTopology("/sys");
  assert.equal(
    topology.allCpus().toString(),
    "0-1",
    "this test needs the 2-CPU build machine",
  );
  await Deno.writeTextFile(
    join(conf.confDir, "topology.json"),
    formatTopologyRecord({ topology, isolated: CpuSet.EMPTY }),
  );
  return conf;
}

Deno.test("isolate --cores=2 pins the child to both CPUs of this machine (read from /proc)", async () => {
  await using conf = await twoCpuPool();
  const kcm = spawnKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=dataplane",
    "--cores=2",
    "sleep",
    "--",
    "30",
  ]);
  try {
    const child = await waitFor("kcm's child to exec sleep", async () => {
      const text = await Deno.readTextFile(
        `/proc/${kcm.pid}/task/${kcm.pid}/children`,
      )
        .catch(() => "");
      for (const word of text.split(/\s+/)) {
        if (word === "") continue;
        const comm = await Deno.readTextFile(`/proc/${word}/comm`)
          .catch(() => "");
        if (comm.trim() === "sleep") return Number(word);
      }
      return undefined;
    });
    const status = await Deno.readTextFile(`/proc/${child}/status`);
    assert.equal(cpusAllowed(status), "0-1");
    const environ = (await Deno.readTextFile(`/proc/${child}/environ`))
      .split("\0");
    for (
      const variable of [
        "KCM_CPUS_ASSIGNED=0-1",
        "KCM_CPUS_ASSIGNED_MASK=0x3",
        "KCM_NUMA_NODES_ASSIGNED=0",
      ]
    ) {
      assert.ok(environ.includes(variable), variable);
    }
    assert.equal(await conf.tasks("dataplane", "0"), String(kcm.pid));
    assert.equal(await conf.tasks("dataplane", "1"), String(kcm.pid));
  } finally {
    kcm.kill("SIGTERM");
  }
  const result = await finish(kcm);
  assert.equal(result.code, 143, result.stderr);
  assert.equal(await conf.tasks("dataplane", "0"), "");
  assert.equal(await conf.tasks("dataplane", "1"), "");
});

Deno.test("isolate --cores=1 on this machine pins to one CPU and says which as before", async () => {
  await using conf = await twoCpuPool();
  const result = await runKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=dataplane",
    "sh",
    "--",
    "-c",
    'grep Cpus_allowed_list /proc/self/status; echo "$KCM_CPUS_ASSIGNED $KCM_CPUS_ASSIGNED_MASK $KCM_NUMA_NODES_ASSIGNED"',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "Cpus_allowed_list:\t0\n0 0x1 0\n");
});
