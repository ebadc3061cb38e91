import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createConfigDir,
  lockConfig,
  normalizeConfPath,
  parseTasks,
  readConfig,
  removeStaleTemps,
  removeTask,
  writeFileAtomic,
  writeTasks,
} from "../../core/config_dir.ts";
import { ConfigError, LockTimeoutError } from "../../core/errors.ts";
import {
  listNames,
  makeConfigDir,
  snapshotTree,
} from "../_helpers/temp_config_dir.ts";

Deno.test("parseTasks() follows the reference format", () => {
  const cases: [string, number[]][] = [
    ["", []],
    ["\n", []],
    ["1000", [1000]],
    ["1000,1001\n", [1000, 1001]],
    ["1,,2", [1, 2]],
    ["1, 2", [1, 2]],
    ["3,1,3", [3, 1, 3]],
  ];
  for (const [text, pids] of cases) {
    assert.deepEqual(parseTasks(text, "t"), pids);
  }
  for (const bad of ["x", "1, ,2", "1;2", "-1", "0", "1.5", "12345678901"]) {
    assert.throws(
      () => parseTasks(bad, "/c/tasks"),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith('Cannot parse tasks file "/c/tasks"'),
      bad,
    );
  }
});

Deno.test("normalizeConfPath() collapses like os.path.normpath", () => {
  assert.equal(normalizeConfPath("/etc/kcm/"), "/etc/kcm");
  assert.equal(normalizeConfPath("/etc//kcm/./x/.."), "/etc/kcm");
  assert.equal(normalizeConfPath("rel/dir/"), "rel/dir");
  assert.equal(normalizeConfPath("/"), "/");
});

Deno.test("readConfig() reads pools and lists in code point order", async () => {
  await using config = await makeConfigDir({
    infra: { exclusive: "0\n", lists: { "0-2,8-10": "" } },
    dataplane: {
      exclusive: "1",
      lists: { "4,12": "1000,1001\n", "10,30": "", "5,13": "7" },
    },
    controlplane: { exclusive: "", lists: { "3,11": "" } },
  });
  await Deno.writeTextFile(join(config.confDir, "pools", "stray-file"), "x");
  const state = readConfig(config.confDir + "/");
  assert.equal(state.path, config.confDir);
  assert.deepEqual(state.pools.map((p) => [p.name, p.exclusive]), [
    ["controlplane", false],
    ["dataplane", true],
    ["infra", false],
  ]);
  assert.deepEqual(state.pools[1]!.cpuLists, [
    { name: "10,30", tasks: [] },
    { name: "4,12", tasks: [1000, 1001] },
    { name: "5,13", tasks: [7] },
  ]);
});

Deno.test("readConfig() names the file it cannot read", async () => {
  await using config = await makeConfigDir({
    a: { exclusive: true, lists: { "0": "x" } },
  });
  assert.throws(
    () => readConfig(config.confDir),
    /Cannot parse tasks file ".*\/pools\/a\/0\/tasks": "x" is not a pid/,
  );
  await Deno.writeTextFile(join(config.confDir, "pools/a/0/tasks"), "");
  await Deno.remove(join(config.confDir, "pools/a/exclusive"));
  assert.throws(
    () => readConfig(config.confDir),
    /Cannot read pool flag ".*\/pools\/a\/exclusive": no such file/,
  );
  await Deno.writeTextFile(join(config.confDir, "pools/a/exclusive"), "1");
  await Deno.mkdir(join(config.confDir, "pools/a/4-"));
  assert.throws(
    () => readConfig(config.confDir),
    /Malformed cpu list directory ".*\/pools\/a\/4-": Cannot parse CPU list "4-"/,
  );
  await Deno.remove(join(config.confDir, "pools"), { recursive: true });
  assert.throws(
    () => readConfig(config.confDir),
    /Cannot read config directory ".*\/pools": no such file/,
  );
});

Deno.test("lockConfig() excludes writers, shares among readers", async () => {
  await using config = await makeConfigDir({});
  const reader1 = await lockConfig(config.confDir, false, { timeoutMs: 100 });
  const reader2 = await lockConfig(config.confDir, false, { timeoutMs: 100 });
  await assert.rejects(
    lockConfig(config.confDir, true, { timeoutMs: 50 }),
    LockTimeoutError,
  );
  await reader1.release();
  await reader2.release();
  const writer = await lockConfig(config.confDir, true, { timeoutMs: 100 });
  await assert.rejects(
    lockConfig(config.confDir, false, { timeoutMs: 50 }),
    LockTimeoutError,
  );
  await writer.release();
  await writer.release(); // idempotent
  (await lockConfig(config.confDir, true, { timeoutMs: 100 })).release();
});

Deno.test("lockConfig() is a flock(2) another process respects, and names it", async () => {
  await using config = await makeConfigDir({});
  const lockFile = join(config.confDir, "lock");
  // util-linux flock(1) holds the lock from another process.
  const holder = new Deno.Command("flock", {
    args: ["--exclusive", "--close", lockFile, "sleep", "5"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const deadline = Date.now() + 5000;
    while (
      !(await Deno.readTextFile("/proc/locks")).includes(
        `:${(await Deno.stat(lockFile)).ino} `,
      )
    ) {
      assert.ok(Date.now() < deadline, "flock(1) took the lock");
      await new Promise((r) => setTimeout(r, 20));
    }
    const started = performance.now();
    await assert.rejects(
      lockConfig(config.confDir, false, { timeoutMs: 200 }),
      (e: unknown) =>
        e instanceof LockTimeoutError &&
        e.message.includes(`waiting for lock "${lockFile}"`) &&
        /\(held by pid \d+\)/.test(e.message),
    );
    assert.ok(performance.now() - started >= 190, "waited for the timeout");
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
  }
  (await lockConfig(config.confDir, true, { timeoutMs: 1000 })).release();
});

Deno.test("lockConfig() works on a read-only lock file for readers", async () => {
  await using config = await makeConfigDir({});
  await Deno.chmod(join(config.confDir, "lock"), 0o444);
  const reader = await lockConfig(config.confDir, false, { timeoutMs: 100 });
  await reader.release();
});

Deno.test("writeTasks() and removeTask() rewrite tasks atomically", async () => {
  await using config = await makeConfigDir({
    p: { exclusive: false, lists: { "0": "5\n" } },
  });
  writeTasks(config.confDir, "p", "0", [5, 7, 5]);
  assert.equal(await config.tasks("p", "0"), "5,7,5");
  assert.equal(removeTask(config.confDir, "p", "0", 5), true);
  assert.equal(await config.tasks("p", "0"), "7");
  assert.equal(removeTask(config.confDir, "p", "0", 9), false);
  assert.equal(removeTask(config.confDir, "p", "0", 7), true);
  assert.equal(await config.tasks("p", "0"), "");
  const entries = await listNames(join(config.confDir, "pools/p/0"));
  assert.deepEqual(entries, ["tasks"], "no temp files left");
});

Deno.test("writeFileAtomic() leaves the old file whole when it fails", async () => {
  await using config = await makeConfigDir({});
  const path = join(config.root, "f");
  writeFileAtomic(path, "old");
  await Deno.chmod(config.root, 0o555);
  try {
    if (Deno.uid() === 0) return; // root writes anyway
    assert.throws(() => writeFileAtomic(path, "new"), ConfigError);
    assert.equal(await Deno.readTextFile(path), "old");
  } finally {
    await Deno.chmod(config.root, 0o755);
  }
});

Deno.test("removeStaleTemps() deletes what a killed writer left", async () => {
  await using config = await makeConfigDir({
    p: { exclusive: false, lists: { "0": "" } },
  });
  const stale = join(config.confDir, "pools/p/0/.kcm-tmp-tasks.123.abcd");
  await Deno.writeTextFile(stale, "1,2");
  const state = readConfig(config.confDir);
  assert.deepEqual(removeStaleTemps(config.confDir, state), [stale]);
  assert.deepEqual(state.pools[0]!.cpuLists, [{ name: "0", tasks: [] }]);
});

const POOLS = [
  { name: "dataplane", exclusive: true, cpuLists: ["3,7", "2,6"] },
  { name: "controlplane", exclusive: false, cpuLists: ["1,5"] },
  { name: "infra", exclusive: false, cpuLists: ["0,4"] },
];

Deno.test("createConfigDir() writes the reference layout", async () => {
  const root = await Deno.makeTempDir();
  try {
    const confDir = join(root, "a", "kcm");
    await createConfigDir(confDir, POOLS);
    const tree = await snapshotTree(confDir);
    assert.deepEqual([...tree.entries()].sort(), [
      ["lock", ""],
      ["pools/", ""],
      ["pools/controlplane/", ""],
      ["pools/controlplane/1,5/", ""],
      ["pools/controlplane/1,5/tasks", ""],
      ["pools/controlplane/exclusive", "0"],
      ["pools/dataplane/", ""],
      ["pools/dataplane/2,6/", ""],
      ["pools/dataplane/2,6/tasks", ""],
      ["pools/dataplane/3,7/", ""],
      ["pools/dataplane/3,7/tasks", ""],
      ["pools/dataplane/exclusive", "1"],
      ["pools/infra/", ""],
      ["pools/infra/0,4/", ""],
      ["pools/infra/0,4/tasks", ""],
      ["pools/infra/exclusive", "0"],
    ]);
    assert.deepEqual(
      await listNames(join(root, "a")),
      ["kcm"],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createConfigDir() fills an existing empty directory (a mount point)", async () => {
  const root = await Deno.makeTempDir();
  try {
    // What an interrupted init may leave: a lock and a staging folder.
    await Deno.writeTextFile(join(root, "lock"), "");
    await Deno.mkdir(join(root, ".kcm-init-999/pools/x"), { recursive: true });
    await createConfigDir(root, POOLS);
    const names = await listNames(root);
    assert.deepEqual(names, ["lock", "pools"]);
    assert.equal((readConfig(root)).pools.length, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createConfigDir() refuses an initialized or non-directory target", async () => {
  await using config = await makeConfigDir({});
  const before = await snapshotTree(config.confDir);
  await assert.rejects(
    createConfigDir(config.confDir, POOLS),
    new RegExp(`Config directory ${config.confDir} already initialized`),
  );
  assert.deepEqual(await snapshotTree(config.confDir), before);
  const file = join(config.root, "file");
  await Deno.writeTextFile(file, "");
  await assert.rejects(
    createConfigDir(file, POOLS),
    /exists and is not a directory/,
  );
});

Deno.test("createConfigDir() leaves nothing behind when it fails", async () => {
  const root = await Deno.makeTempDir();
  try {
    const bad = [{ name: "p", exclusive: false, cpuLists: ["0", "0"] }];
    await assert.rejects(createConfigDir(join(root, "kcm"), bad), ConfigError);
    assert.deepEqual(await listNames(root), []);
    await Deno.mkdir(join(root, "empty"));
    await assert.rejects(
      createConfigDir(join(root, "empty"), bad),
      ConfigError,
    );
    assert.deepEqual(
      await listNames(join(root, "empty")),
      [],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
