/**
 * `kcm isolate` run as a real process on this machine: the CPU mask its
 * child really gets (read back from /proc), the argv and environment the
 * child sees, the pid recorded in `tasks`, exit statuses, the cpu list
 * choice, and every refusal leaving the config directory untouched.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CliResult,
  finish,
  REPO_ROOT,
  runKcm,
  spawnKcm,
} from "../_helpers/run_cli.ts";
import {
  type ConfigSpec,
  makeConfigDir,
  snapshotTree,
  type TempConfig,
} from "../_helpers/temp_config_dir.ts";
import { holdLock } from "../_helpers/lock_holder.ts";
import { waitFor } from "../_helpers/wait.ts";

const PROCFS_FIXTURES = join(REPO_ROOT, "tests/fixtures/procfs");

function isolate(
  conf: TempConfig,
  pool: string,
  command: string[],
  flags: string[] = [],
): string[] {
  const [name, ...args] = command;
  return [
    "isolate",
    `--conf-dir=${conf.confDir}`,
    `--pool=${pool}`,
    ...flags,
    name!,
    ...(args.length > 0 ? ["--", ...args] : []),
  ];
}

function onePool(lists: Record<string, string>, exclusive = true): ConfigSpec {
  return { p: { exclusive, lists } };
}

/** The `Cpus_allowed_list` value of a /proc status text. */
function cpusAllowed(status: string): string {
  const match = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status);
  assert.ok(match, `no Cpus_allowed_list in ${status}`);
  return match[1]!;
}

/** The children of `pid`, from every thread's `children` file. */
async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      const text = await Deno.readTextFile(
        `/proc/${pid}/task/${task.name}/children`,
      ).catch(() => "");
      for (const word of text.split(/\s+/)) {
        if (word !== "") found.push(Number(word));
      }
    }
  } catch {
    // The process is gone.
  }
  return found;
}

/** Asserts one `kcm: error:` line matching `pattern`, at most a hint after. */
function assertErrorLine(result: CliResult, pattern: RegExp): void {
  const lines = result.stderr.split("\n");
  assert.equal(lines.pop(), "", `stderr ends with a newline: ${result.stderr}`);
  assert.match(lines[0] ?? "", /^kcm: error: /);
  assert.match(lines[0]!, pattern);
  assert.ok(lines.length <= 2, `one error line (and a hint): ${result.stderr}`);
  if (lines.length === 2) assert.match(lines[1]!, /^hint: \S/);
}

const OWN_MASK = cpusAllowed(await Deno.readTextFile("/proc/self/status"));

Deno.test("isolate runs the child on exactly the list's CPUs (as the child sees it)", async () => {
  await Promise.all(["0", "1", "0-1"].map(async (list) => {
    await using conf = await makeConfigDir(onePool({ [list]: "" }));
    const result = await runKcm(isolate(conf, "p", [
      "sh",
      "-c",
      'grep Cpus_allowed_list /proc/self/status; echo "$KCM_CPUS_ASSIGNED"',
    ]));
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `Cpus_allowed_list:\t${list}\n${list}\n`);
    assert.equal(await conf.tasks("p", list), "");
  }));
});

Deno.test("isolate pins the child and every kcm thread (read from /proc while it runs)", async () => {
  for (const list of ["0", "1", "0-1"]) {
    await using conf = await makeConfigDir(onePool({ [list]: "" }));
    const kcm = spawnKcm(isolate(conf, "p", ["sleep", "30"]));
    try {
      const [child] = await waitFor(
        "the child of kcm",
        async () => {
          const children = await childrenOf(kcm.pid);
          if (children.length === 0) return undefined;
          // Wait until it has exec'ed sleep (the fork shows deno first).
          const comm = await Deno.readTextFile(`/proc/${children[0]}/comm`)
            .catch(() => "");
          return comm.trim() === "sleep" ? children : undefined;
        },
      );
      const status = await Deno.readTextFile(`/proc/${child}/status`);
      assert.equal(cpusAllowed(status), list, `child ${child} of ${list}`);
      const environ = await Deno.readTextFile(`/proc/${child}/environ`);
      assert.ok(
        environ.split("\0").includes(`KCM_CPUS_ASSIGNED=${list}`),
        "KCM_CPUS_ASSIGNED in the child's environment",
      );
      for await (const task of Deno.readDir(`/proc/${kcm.pid}/task`)) {
        const text = await Deno.readTextFile(
          `/proc/${kcm.pid}/task/${task.name}/status`,
        ).catch(() => undefined);
        if (text === undefined) continue; // the thread just exited
        assert.equal(cpusAllowed(text), list, `kcm thread ${task.name}`);
      }
      // The recorded pid is kcm's own, not the child's.
      assert.equal(await conf.tasks("p", list), String(kcm.pid));
    } finally {
      kcm.kill("SIGTERM");
    }
    const result = await finish(kcm);
    assert.equal(result.code, 143, result.stderr);
    assert.equal(await conf.tasks("p", list), "");
  }
});

Deno.test("isolate --no-affinity leaves the mask alone but records the pid and sets KCM_CPUS_ASSIGNED", async () => {
  await using conf = await makeConfigDir(onePool({ "1": "" }));
  const tasks = join(conf.confDir, "pools/p/1/tasks");
  const result = await runKcm(isolate(conf, "p", [
    "sh",
    "-c",
    `grep Cpus_allowed_list /proc/self/status; echo "$KCM_CPUS_ASSIGNED"; cat ${tasks}; echo " $PPID"`,
  ], ["--no-affinity"]));
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  const [mask, assigned, pids] = result.stdout.split("\n");
  assert.equal(mask, `Cpus_allowed_list:\t${OWN_MASK}`);
  assert.equal(assigned, "1");
  // tasks holds the pid of kcm, the child's parent.
  const [recorded, parent] = pids!.split(" ");
  assert.equal(recorded, parent);
  assert.match(recorded!, /^[1-9][0-9]*$/);
  assert.equal(await conf.tasks("p", "1"), "");
});

Deno.test("isolate records the pid from KCM_PROC_FS/self/stat (the host pid)", async () => {
  await using conf = await makeConfigDir(onePool({ "0": "" }));
  const tasks = join(conf.confDir, "pools/p/0/tasks");
  const result = await runKcm(isolate(conf, "p", ["cat", tasks]), {
    env: { KCM_PROC_FS: join(PROCFS_FIXTURES, "mixed_tasks") },
  });
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "4242");
  assert.equal(await conf.tasks("p", "0"), "");
});

Deno.test("isolate passes arguments as an argv, never through a shell", async () => {
  await using conf = await makeConfigDir(onePool({ "0-1": "" }, false));
  const work = join(conf.root, "work");
  await Deno.mkdir(work);
  await Deno.writeTextFile(join(work, "existing"), "");
  const args = [
    `$(touch ${work}/x)`,
    ";",
    "&& touch y",
    "*",
    "`touch z`",
    "| touch w",
    "--pool=other",
    "--",
    "",
    "two  spaces",
  ];
  const result = await runKcm(
    isolate(conf, "p", ["printf", "<%s>\\n", ...args]),
    { cwd: work },
  );
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.equal(result.stdout, args.map((arg) => `<${arg}>\n`).join(""));
  const names = [];
  for await (const entry of Deno.readDir(work)) names.push(entry.name);
  assert.deepEqual(names, ["existing"]);
});

Deno.test("isolate gives its command every word after it, with or without --", async () => {
  await using conf = await makeConfigDir(onePool({ "0-1": "" }, false));
  const base = ["isolate", `--conf-dir=${conf.confDir}`, "--pool=p"];
  const cases: [string[], string][] = [
    // Without "--", options of the command's included (as with env(1)).
    [
      ["printf", "<%s>", "-l", "--pool=q", "--help", "--", "x"],
      "<-l><--pool=q><--help><--><x>",
    ],
    // The seed's form: one "--" right after the command is dropped.
    [["printf", "--", "<%s>", "a", "b"], "<a><b>"],
    [["--", "printf", "<%s>", "-x"], "<-x>"],
  ];
  for (const [words, printed] of cases) {
    const result = await runKcm([...base, ...words]);
    assert.equal(result.stderr, "", words.join(" "));
    assert.equal(result.code, 0, words.join(" "));
    assert.equal(result.stdout, printed, words.join(" "));
  }
  assert.equal(await conf.tasks("p", "0-1"), "");
  // kcm's own options go before the command: after it, --pool is the
  // command's, and kcm has none.
  const late = await runKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "true",
    "--pool=p",
  ]);
  assert.equal(late.code, 2);
  assert.match(late.stderr, /^kcm: error: isolate needs --pool=<pool>\n/);
});

Deno.test("isolate inherits stdin, stdout and stderr", async () => {
  await using conf = await makeConfigDir(onePool({ "0": "" }));
  const input = "line one\nline two\n\u00e9\n";
  const cat = await runKcm(isolate(conf, "p", ["cat"]), { stdin: input });
  assert.equal(cat.code, 0);
  assert.equal(cat.stdout, input);
  assert.equal(cat.stderr, "");
  const err = await runKcm(
    isolate(conf, "p", ["sh", "-c", "echo to-stderr >&2"]),
  );
  assert.equal(err.code, 0);
  assert.equal(err.stdout, "");
  assert.equal(err.stderr, "to-stderr\n");
});

Deno.test("isolate exits with the child's status and releases the list", async () => {
  await using conf = await makeConfigDir(onePool({ "0": "" }));
  const cases: [string, number][] = [
    ["exit 0", 0],
    ["exit 3", 3],
    ["exit 255", 255],
    ["kill -KILL $$", 137],
    ["kill -SEGV $$", 139],
    // Less common ones too (a seccomp kill is SIGSYS).
    ["kill -SYS $$", 159],
    ["kill -PROF $$", 155],
    ["kill -PWR $$", 158],
  ];
  for (const [script, code] of cases) {
    const result = await runKcm(isolate(conf, "p", ["sh", "-c", script]));
    assert.equal(result.code, code, `${script}: ${result.stderr}`);
    assert.equal(result.stderr, "");
    assert.equal(await conf.tasks("p", "0"), "", script);
  }
});

Deno.test("isolate exits 127 for a command not found and 126 for one not executable, releasing the list", async () => {
  await using conf = await makeConfigDir(onePool({ "0": "" }));
  const plain = join(conf.root, "not-executable");
  await Deno.writeTextFile(plain, "#!/bin/sh\necho ran\n");
  await Deno.chmod(plain, 0o644);
  const before = await snapshotTree(conf.confDir);
  const cases: [string, number, RegExp][] = [
    ["kcm-no-such-command", 127, /"kcm-no-such-command".*not found/],
    [join(conf.root, "missing/cmd"), 127, /missing\/cmd".*not found/],
    [plain, 126, /not-executable".*permission denied/],
    [conf.root, 126, /Cannot run/], // a directory
  ];
  for (const [command, code, pattern] of cases) {
    const result = await runKcm(isolate(conf, "p", [command, "arg"]));
    assert.equal(result.code, code, `${command}: ${result.stderr}`);
    assertErrorLine(result, pattern);
    assert.equal(result.stdout, "");
    assert.deepEqual(await snapshotTree(conf.confDir), before, command);
  }
});

Deno.test("isolate takes the first free list of an exclusive pool in name order", async () => {
  // Created in reverse order: the choice must not follow readdir order.
  await using conf = await makeConfigDir(onePool({ "1": "", "0": "" }));
  const assigned = ["sh", "-c", 'echo "$KCM_CPUS_ASSIGNED"'];
  let result = await runKcm(isolate(conf, "p", assigned));
  assert.equal(result.stdout, "0\n");
  await Deno.writeTextFile(join(conf.confDir, "pools/p/0/tasks"), "999999");
  result = await runKcm(isolate(conf, "p", assigned));
  assert.equal(result.stdout, "1\n");
  assert.equal(await conf.tasks("p", "0"), "999999");
  assert.equal(await conf.tasks("p", "1"), "");

  // Name order is code point order ("10" before "2"), as the reference.
  await using wide = await makeConfigDir(onePool({ "2": "", "10": "" }));
  result = await runKcm(isolate(wide, "p", assigned, ["--no-affinity"]));
  assert.equal(result.stdout, "10\n");
});

Deno.test("isolate picks any list of a shared pool, taken or not", async () => {
  await using conf = await makeConfigDir(
    onePool({ "0": "999998", "1": "999999" }, false),
  );
  const results = await Promise.all(
    Array.from(
      { length: 16 },
      () =>
        runKcm(
          isolate(conf, "p", ["sh", "-c", 'echo "$KCM_CPUS_ASSIGNED"']),
        ),
    ),
  );
  const seen = new Set(results.map((r) => r.stdout));
  assert.ok(results.every((r) => r.code === 0));
  // Each run picks one of 2 lists: all 16 alike has probability 2^-15.
  assert.deepEqual([...seen].sort(), ["0\n", "1\n"]);
  assert.equal(await conf.tasks("p", "0"), "999998");
  assert.equal(await conf.tasks("p", "1"), "999999");
});

// Refusals: one clear line, exit 1, nothing written.

Deno.test("isolate refuses an unknown pool and a pool with no free list, writing nothing", async () => {
  await using conf = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "999998", "1": "999999" } },
    empty: { exclusive: false, lists: {} },
  });
  const before = await snapshotTree(conf.confDir);
  const cases: [string, RegExp][] = [
    ["nope", /^kcm: error: Requested pool nope does not exist$/],
    ["p", /^kcm: error: No free cpu lists in pool p\b/],
    ["empty", /^kcm: error: No free cpu lists in pool empty\b/],
  ];
  for (const [pool, pattern] of cases) {
    const marker = join(conf.root, "ran");
    const result = await runKcm(isolate(conf, pool, ["touch", marker]));
    assert.equal(result.code, 1, result.stderr);
    assertErrorLine(result, pattern);
    assert.deepEqual(await snapshotTree(conf.confDir), before, pool);
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
  }
});

Deno.test("isolate refuses a malformed config directory with one line, changing nothing", async () => {
  const cases: [string, ConfigSpec, RegExp][] = [
    [
      "malformed cpu-list directory name",
      { p: { exclusive: true, lists: { "0": "", "1-x": "" } } },
      /Malformed cpu list directory ".*\/pools\/p\/1-x"/,
    ],
    [
      "garbage in tasks",
      { p: { exclusive: true, lists: { "0": "12,abc", "1": "" } } },
      /Cannot parse tasks file ".*\/pools\/p\/0\/tasks": "abc" is not a pid/,
    ],
    [
      "negative pid in tasks",
      { p: { exclusive: false, lists: { "0": "-5" } } },
      /Cannot parse tasks file/,
    ],
    [
      "missing exclusive",
      { p: { exclusive: true, lists: { "0": "" } } },
      /Cannot read pool flag ".*\/pools\/p\/exclusive"/,
    ],
  ];
  for (const [what, spec, pattern] of cases) {
    await using conf = await makeConfigDir(spec);
    if (what === "missing exclusive") {
      await Deno.remove(join(conf.confDir, "pools/p/exclusive"));
    }
    const before = await snapshotTree(conf.confDir);
    const marker = join(conf.root, "ran");
    const result = await runKcm(isolate(conf, "p", ["touch", marker]));
    assert.equal(result.code, 1, `${what}: ${result.stderr}`);
    assertErrorLine(result, pattern);
    assert.deepEqual(await snapshotTree(conf.confDir), before, what);
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, what);
  }
});

Deno.test("isolate on a list of CPUs that are not online fails with EINVAL, gives the list back, runs nothing", async () => {
  await using conf = await makeConfigDir(onePool({ "8190-8191": "" }));
  const marker = join(conf.root, "ran");
  const result = await runKcm(isolate(conf, "p", ["touch", marker]));
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /^kcm: error: sched_setaffinity\(\d+, 8190-8191\) failed: EINVAL \(no CPU of the set is online and allowed for kcm\)\n$/,
  );
  assert.equal(await conf.tasks("p", "8190-8191"), "");
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
});

Deno.test("isolate fails cleanly when KCM_PROC_FS has no self/stat", async () => {
  await using conf = await makeConfigDir(onePool({ "0": "" }));
  const before = await snapshotTree(conf.confDir);
  const procfs = join(PROCFS_FIXTURES, "without_self_stat");
  const result = await runKcm(isolate(conf, "p", ["true"]), {
    env: { KCM_PROC_FS: procfs },
  });
  assert.equal(result.code, 1);
  assertErrorLine(
    result,
    new RegExp(`Cannot read "${procfs}/self/stat": no such file`),
  );
  assert.deepEqual(await snapshotTree(conf.confDir), before);
});

Deno.test("isolate gives up on a lock held past KCM_LOCK_TIMEOUT, naming the file and holder", async () => {
  await using conf = await makeConfigDir(onePool({ "0": "" }));
  const lockFile = join(conf.confDir, "lock");
  await using holder = await holdLock(lockFile);
  const before = await snapshotTree(conf.confDir);
  const started = performance.now();
  const result = await runKcm(isolate(conf, "p", ["true"]), {
    env: { KCM_LOCK_TIMEOUT: "0.3" },
  });
  const elapsed = performance.now() - started;
  assert.equal(result.code, 1);
  assertErrorLine(
    result,
    new RegExp(
      `Timed out after 0\\.3 s waiting for lock "${lockFile}" \\(held by pid ${holder.pid}\\)`,
    ),
  );
  assert.ok(elapsed >= 300, `waited ${elapsed} ms`);
  assert.deepEqual(await snapshotTree(conf.confDir), before);
});
