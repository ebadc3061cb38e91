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

Deno.test("node-report on an unreadable config gives description null and a failed configDirectory", async () => {
  const cases: [string, ConfigSpec, RegExp][] = [
    [
      "malformed cpu-list directory name",
      { p: { exclusive: true, lists: { "0": "", "zero": "" } } },
      /^Malformed cpu list directory ".*\/pools\/p\/zero"/,
    ],
    [
      "garbage in tasks",
      { p: { exclusive: true, lists: { "0": "1,x" } } },
      /^Cannot parse tasks file ".*\/pools\/p\/0\/tasks": "x" is not a pid$/,
    ],
  ];
  for (const [what, spec, pattern] of cases) {
    await using conf = await makeConfigDir(spec);
    const before = await snapshotTree(conf.confDir);
    const report = await nodeReport(conf, {
      KCM_SYS_FS: join(SYSFS, "this_machine_2"),
    });
    assert.equal(report.description, null, what);
    const { configDirectory, ...others } = report.checks;
    assert.equal(configDirectory!.ok, false, what);
    assert.equal(configDirectory!.errors.length, 1, what);
    assert.match(configDirectory!.errors[0]!, pattern, what);
    assert.deepEqual(Object.keys(others).sort(), [
      "cpuListsOnline",
      "exclusiveCores",
      "taskAffinity",
    ]);
    for (const check of Object.values(others)) {
      assert.equal(check.ok, false, `${what}: not checked is not passed`);
    }
    assert.deepEqual(await snapshotTree(conf.confDir), before, what);
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
