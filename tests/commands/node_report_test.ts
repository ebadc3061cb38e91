/**
 * `kcm node-report` as a real process against config directories, sysfs
 * fixtures of real machine shapes and a fake procfs: the exact document,
 * and each check (overlaps, offline CPUs, split cores, affinity drift).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import {
  type ConfigSpec,
  makeConfigDir,
  snapshotTree,
  type TempConfig,
} from "../_helpers/temp_config_dir.ts";
import { holdLock } from "../_helpers/lock_holder.ts";

const SYSFS = join(REPO_ROOT, "tests/fixtures/sysfs");
const MIXED = join(REPO_ROOT, "tests/fixtures/procfs/mixed_tasks");

interface Check {
  ok: boolean;
  errors: string[];
}

interface Report {
  checks: Record<string, Check>;
  description: unknown;
  topology: unknown;
}

async function nodeReport(
  conf: TempConfig,
  env: Record<string, string>,
): Promise<Report> {
  const result = await runKcm(["node-report", `--conf-dir=${conf.confDir}`], {
    env,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  return JSON.parse(result.stdout) as Report;
}

function failed(...errors: string[]): Check {
  return { ok: errors.length === 0, errors };
}

const PASSED: Check = { ok: true, errors: [] };

Deno.test("node-report prints the exact document, overlaps quoting the CPUs in both lists", async () => {
  await using conf = await makeConfigDir({
    a: { exclusive: false, lists: { "0-3": "999999", "2,3": "" } },
    b: { exclusive: false, lists: { "1,5": "" } },
  });
  const before = await snapshotTree(conf.confDir);
  const result = await runKcm(["node-report", `--conf-dir=${conf.confDir}`], {
    env: { KCM_SYS_FS: join(SYSFS, "xeon_d_1x8x2"), KCM_PROC_FS: MIXED },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.equal(
    result.stdout,
    `{
  "checks": {
    "configDirectory": {
      "errors": [
        "CPU list overlap detected in a:0-3 and a:2,3 (in both: [2, 3])",
        "CPU list overlap detected in a:0-3 and b:1,5 (in both: [1])"
      ],
      "ok": false
    },
    "cpuListsOnline": {
      "errors": [],
      "ok": true
    },
    "exclusiveCores": {
      "errors": [],
      "ok": true
    },
    "exclusiveNumaNodes": {
      "errors": [],
      "ok": true
    },
    "taskAffinity": {
      "errors": [],
      "ok": true
    }
  },
  "description": {
    "path": ${JSON.stringify(conf.confDir)},
    "pools": {
      "a": {
        "cpuLists": {
          "0-3": {
            "cpus": "0-3",
            "tasks": [
              999999
            ]
          },
          "2,3": {
            "cpus": "2,3",
            "tasks": []
          }
        },
        "exclusive": false,
        "name": "a"
      },
      "b": {
        "cpuLists": {
          "1,5": {
            "cpus": "1,5",
            "tasks": []
          }
        },
        "exclusive": false,
        "name": "b"
      }
    }
  },
  "topology": {
    "isolated": "",
    "l3Caches": {
      "0": "0-15"
    },
    "numaNodes": {
      "0": "0-15"
    },
    "pools": {
      "a": {
        "0-3": {
          "l3Caches": [
            0
          ],
          "numaNodes": [
            0
          ],
          "packages": [
            0
          ],
          "unknownCpus": ""
        },
        "2,3": {
          "l3Caches": [
            0
          ],
          "numaNodes": [
            0
          ],
          "packages": [
            0
          ],
          "unknownCpus": ""
        }
      },
      "b": {
        "1,5": {
          "l3Caches": [
            0
          ],
          "numaNodes": [
            0
          ],
          "packages": [
            0
          ],
          "unknownCpus": ""
        }
      }
    },
    "source": "sysfs"
  }
}
`,
  );
  // A report only reads.
  assert.deepEqual(await snapshotTree(conf.confDir), before);
});

Deno.test("node-report taskAffinity flags live tasks whose mask is not their list", async () => {
  await using conf = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "100", "1": "101,104,999" } },
    q: { exclusive: false, lists: { "0-1": "103,102" } },
  });
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "this_machine_2"),
    KCM_PROC_FS: MIXED,
  });
  // 999 is dead (reconcile's business); 103 has "0,1", the same set.
  assert.deepEqual(report.checks, {
    configDirectory: failed(
      "CPU list overlap detected in p:0 and q:0-1 (in both: [0])",
      "CPU list overlap detected in p:1 and q:0-1 (in both: [1])",
    ),
    cpuListsOnline: PASSED,
    exclusiveCores: PASSED,
    exclusiveNumaNodes: PASSED,
    taskAffinity: failed(
      "Task 100 in p:0 may run on CPUs 0-1, not 0",
      "Task 101 in p:1 may run on CPUs 0, not 1",
    ),
  });
});

Deno.test("node-report cpuListsOnline flags CPUs that are offline or absent", async () => {
  await using conf = await makeConfigDir({
    s: { exclusive: false, lists: { "0,4": "", "2-3,8": "", "3": "" } },
  });
  // cpu3 is offline and cpu8 absent in this fixture.
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "offline_cpu_1x4x2"),
  });
  assert.deepEqual(
    report.checks.cpuListsOnline,
    failed(
      "CPU list s:2-3,8 names CPUs 3,8 that are offline or absent",
      "CPU list s:3 names CPUs 3 that are offline or absent",
    ),
  );

  // The real /sys of this 2-CPU machine.
  await using real = await makeConfigDir({
    s: { exclusive: false, lists: { "0": "", "1,7": "" } },
  });
  const online = (await Deno.readTextFile("/sys/devices/system/cpu/online"))
    .trim();
  assert.equal(online, "0-1", "this test expects the 2-CPU build machine");
  const realReport = await nodeReport(real, {});
  assert.deepEqual(
    realReport.checks.cpuListsOnline,
    failed("CPU list s:1,7 names CPUs 7 that are offline or absent"),
  );
});

Deno.test("node-report exclusiveCores flags exclusive lists that split a physical core", async () => {
  // Xeon D-1541: CPUs n and n+8 are the two threads of core n.
  await using conf = await makeConfigDir({
    dp: { exclusive: true, lists: { "3": "", "4,12": "", "5-6": "" } },
    infra: { exclusive: false, lists: { "7": "" } },
  });
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "xeon_d_1x8x2"),
  });
  assert.deepEqual(report.checks, {
    configDirectory: PASSED,
    cpuListsOnline: PASSED,
    exclusiveCores: failed(
      "Exclusive CPU list dp:3 splits physical cores: sibling CPUs 11 are outside it",
      "Exclusive CPU list dp:5-6 splits physical cores: sibling CPUs 13,14 are outside it",
    ),
    exclusiveNumaNodes: PASSED,
    taskAffinity: PASSED,
  });

  // Without SMT every CPU is a whole core.
  await using flat = await makeConfigDir({
    dp: { exclusive: true, lists: { "0": "", "1": "" } },
  });
  const flatReport = await nodeReport(flat, {
    KCM_SYS_FS: join(SYSFS, "this_machine_2"),
  });
  assert.deepEqual(flatReport.checks.exclusiveCores, PASSED);
});

Deno.test("node-report sets a bad entry aside: configDirectory names it, the rest is described and checked", async () => {
  const cases: [string, ConfigSpec, RegExp][] = [
    [
      "malformed cpu-list directory name",
      { p: { exclusive: true, lists: { "0": "", "zero": "" } } },
      /^Malformed cpu list directory ".*\/pools\/p\/zero"/,
    ],
    [
      "garbage in tasks",
      { p: { exclusive: true, lists: { "0": "", "1": "1,x" } } },
      /^Cannot parse tasks file ".*\/pools\/p\/1\/tasks": "x" is not a pid$/,
    ],
  ];
  for (const [what, spec, pattern] of cases) {
    await using conf = await makeConfigDir(spec);
    const before = await snapshotTree(conf.confDir);
    const report = await nodeReport(conf, {
      KCM_SYS_FS: join(SYSFS, "this_machine_2"),
    });
    const description = report.description as {
      pools: Record<string, { cpuLists: Record<string, unknown> }>;
    };
    assert.deepEqual(Object.keys(description.pools.p!.cpuLists), ["0"], what);
    const { configDirectory, taskAffinity } = report.checks;
    assert.equal(configDirectory!.ok, false, what);
    assert.equal(configDirectory!.errors.length, 1, what);
    assert.match(configDirectory!.errors[0]!, pattern, what);
    assert.deepEqual(taskAffinity, PASSED, what);
    assert.deepEqual(await snapshotTree(conf.confDir), before, what);
  }
});

Deno.test("node-report without pools/ gives description null and a failed configDirectory", async () => {
  await using conf = await makeConfigDir({});
  await Deno.remove(join(conf.confDir, "pools"));
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "this_machine_2"),
  });
  assert.equal(report.description, null);
  const { configDirectory, ...others } = report.checks;
  assert.equal(configDirectory!.ok, false);
  assert.match(
    configDirectory!.errors[0]!,
    /^Cannot read config directory ".*\/pools": no such file or directory$/,
  );
  for (const check of Object.values(others)) {
    assert.equal(check.ok, false, "not checked is not passed");
  }
});

Deno.test("node-report with a pool without an exclusive file: description null, every check run", async () => {
  // As in the reference, there is no description without every flag; the
  // missing file is a configDirectory error, and the other checks run.
  await using conf = await makeConfigDir({
    a: { exclusive: true, lists: { "0": "", "0,8": "" } },
    b: { exclusive: true, lists: { "8": "" } },
  });
  await Deno.remove(join(conf.confDir, "pools/b/exclusive"));
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "xeon_d_1x8x2"),
  });
  assert.equal(report.description, null);
  assert.deepEqual(report.checks, {
    configDirectory: failed(
      `Cannot read pool flag "${conf.confDir}/pools/b/exclusive": no such file or directory`,
      "CPU list overlap detected in a:0 and a:0,8 (in both: [0])",
      "CPU list overlap detected in a:0,8 and b:8 (in both: [8])",
    ),
    cpuListsOnline: PASSED,
    // CPUs 0 and 8 are one core. b's flag is unknown: b is not checked.
    exclusiveCores: failed(
      "Exclusive CPU list a:0 splits physical cores: sibling CPUs 8 are outside it",
    ),
    exclusiveNumaNodes: PASSED,
    taskAffinity: PASSED,
  });
});

Deno.test("node-report orders overlaps by code point, as Python sorts names", async () => {
  // UTF-16 order puts "😀" (D83D DE00) before U+FFFF; code points do not.
  await using conf = await makeConfigDir({
    "\u{1f600}": { exclusive: false, lists: { "0": "" } },
    "\uffff": { exclusive: false, lists: { "0": "" } },
    "\ue000": { exclusive: false, lists: { "0": "" } },
  });
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "this_machine_2"),
  });
  assert.deepEqual(report.checks.configDirectory!.errors, [
    "CPU list overlap detected in \ue000:0 and \uffff:0 (in both: [0])",
    "CPU list overlap detected in \ue000:0 and \u{1f600}:0 (in both: [0])",
    "CPU list overlap detected in \uffff:0 and \u{1f600}:0 (in both: [0])",
  ]);
});

Deno.test("node-report reads under a shared lock: a writer's lock stops it, a reader's does not", async () => {
  await using conf = await makeConfigDir({
    p: { exclusive: false, lists: { "0": "" } },
  });
  const env = {
    KCM_LOCK_TIMEOUT: "0.3",
    KCM_SYS_FS: join(SYSFS, "this_machine_2"),
  };
  const args = ["node-report", `--conf-dir=${conf.confDir}`];
  {
    await using _writer = await holdLock(join(conf.confDir, "lock"));
    const result = await runKcm(args, { env });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^kcm: error: Timed out after 0\.3 s/);
  }
  {
    await using _reader = await holdLock(join(conf.confDir, "lock"), "shared");
    const result = await runKcm(args, { env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      Object.keys(JSON.parse(result.stdout).description.pools),
      ["p"],
    );
  }
});

Deno.test("node-report without a config directory exits 1 with one line", async () => {
  const root = await Deno.makeTempDir({ prefix: "kcm-test-" });
  try {
    const result = await runKcm([
      "node-report",
      `--conf-dir=${join(root, "missing")}`,
    ]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /^kcm: error: Cannot open lock file ".*\/missing\/lock": no such file or directory\n(hint: .*\n)?$/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("node-report checks 2,000 cpu lists for overlaps", async () => {
  const lists: Record<string, string> = {};
  for (let cpu = 0; cpu < 2000; cpu++) lists[String(cpu)] = "";
  await using conf = await makeConfigDir({
    big: { exclusive: false, lists },
    x: { exclusive: false, lists: { "0-1999": "", "4000": "" } },
  });
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "epyc_2x64x2_nps4"),
  });
  // Pairs in name order: every "big" list (sorted as strings) with x:0-1999.
  const expected = Object.keys(lists).sort().map((cpu) =>
    `CPU list overlap detected in big:${cpu} and x:0-1999 (in both: [${cpu}])`
  );
  // bench/ measures the speed; this shows the size is handled right.
  assert.deepEqual(report.checks.configDirectory, failed(...expected));
});

// The topology section and the exclusiveNumaNodes check.

interface ListPlace {
  l3Caches: number[];
  numaNodes: number[];
  packages: number[];
  unknownCpus: string;
}

interface TopologySection {
  isolated: string;
  l3Caches: Record<string, string>;
  numaNodes: Record<string, string>;
  pools: Record<string, Record<string, ListPlace>>;
  source: string;
}

function place(
  numaNodes: number[],
  packages: number[],
  l3Caches: number[],
  unknownCpus = "",
): ListPlace {
  return { l3Caches, numaNodes, packages, unknownCpus };
}

Deno.test("node-report topology comes from the record init wrote: each list's node, package and L3", async () => {
  const root = await Deno.makeTempDir({ prefix: "kcm-test-" });
  try {
    const confDir = join(root, "kcm");
    const init = await runKcm([
      "init",
      `--conf-dir=${confDir}`,
      "--num-dp-cores=4",
      "--dp-mode=spread",
    ], {
      env: {
        KCM_SYS_FS: join(SYSFS, "dual_snc2_2x20x2"),
        KCM_PROC_FS: root,
        KCM_LOG_LEVEL: "ERROR",
      },
    });
    assert.equal(init.code, 0, init.stderr);
    // sysfs of another machine: the section still shows the record's.
    const result = await runKcm(["node-report", `--conf-dir=${confDir}`], {
      env: { KCM_SYS_FS: join(SYSFS, "xeon_d_1x8x2"), KCM_PROC_FS: MIXED },
    });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as Report;
    const topology = report.topology as TopologySection;
    assert.equal(topology.source, "record");
    assert.equal(topology.isolated, "10-39,50-79");
    assert.deepEqual(topology.numaNodes, {
      "0": "0-9,40-49",
      "1": "10-19,50-59",
      "2": "20-29,60-69",
      "3": "30-39,70-79",
    });
    assert.deepEqual(topology.l3Caches, {
      "0": "0-19,40-59",
      "1": "20-39,60-79",
    });
    assert.deepEqual(topology.pools.dataplane, {
      "19,59": place([1], [0], [0]),
      "29,69": place([2], [1], [1]),
      "38,78": place([3], [1], [1]),
      "39,79": place([3], [1], [1]),
    });
    assert.deepEqual(topology.pools.controlplane, {
      "37,77": place([3], [1], [1]),
    });
    assert.deepEqual(
      Object.values(topology.pools.infra!)[0],
      place([0, 1, 2, 3], [0, 1], [0, 1]),
    );
    assert.deepEqual(report.checks.exclusiveNumaNodes, PASSED);
    // The live checks still use this machine's sysfs.
    assert.equal(report.checks.cpuListsOnline!.ok, false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("node-report exclusiveNumaNodes flags exclusive lists spanning NUMA nodes, not shared ones", async () => {
  // SNC-2: node n holds cores 10n..10n+9, siblings c and c+40.
  await using conf = await makeConfigDir({
    dp: {
      exclusive: true,
      lists: { "0,40": "", "9,10": "", "19,20,59,60": "" },
    },
    infra: { exclusive: false, lists: { "21,31": "" } },
  });
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "dual_snc2_2x20x2"),
    KCM_PROC_FS: MIXED,
  });
  assert.deepEqual(
    report.checks.exclusiveNumaNodes,
    failed(
      "Exclusive CPU list dp:19,20,59,60 spans NUMA nodes 1,2",
      "Exclusive CPU list dp:9,10 spans NUMA nodes 0,1",
    ),
  );
  const topology = report.topology as TopologySection;
  assert.equal(topology.source, "sysfs");
  assert.deepEqual(topology.pools.dp!["9,10"], place([0, 1], [0], [0]));
  assert.deepEqual(
    topology.pools.dp!["19,20,59,60"],
    place([1, 2], [0, 1], [0, 1]),
  );
  assert.deepEqual(topology.pools.infra, { "21,31": place([2, 3], [1], [1]) });
});

Deno.test("node-report with a bad topology record fails exclusiveNumaNodes only, topology null", async () => {
  await using conf = await makeConfigDir({
    dp: { exclusive: true, lists: { "0": "" } },
  });
  const record = join(conf.confDir, "topology.json");
  await Deno.writeTextFile(record, '{"version": 1, "cores": 3}');
  const before = await snapshotTree(conf.confDir);
  const report = await nodeReport(conf, {
    KCM_SYS_FS: join(SYSFS, "this_machine_2"),
    KCM_PROC_FS: MIXED,
  });
  assert.equal(report.topology, null);
  assert.deepEqual(
    report.checks.exclusiveNumaNodes,
    failed(
      `Cannot parse topology record "${record}": cores: missing, or not an array`,
    ),
  );
  for (const name of ["configDirectory", "cpuListsOnline", "exclusiveCores"]) {
    assert.deepEqual(report.checks[name], PASSED, name);
  }
  assert.deepEqual(await snapshotTree(conf.confDir), before);
});
