/**
 * Reading a config directory: the tasks format, pools and lists in code
 * point order with their parsed CPUs, and errors that name the file.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseTasks, readConfig } from "../../core/config_read.ts";
import { ConfigError } from "../../core/errors.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";

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
  assert.deepEqual(
    state.pools[1]!.cpuLists.map((l) => [l.name, l.cpus.toArray(), l.tasks]),
    [
      ["10,30", [10, 30], []],
      ["4,12", [4, 12], [1000, 1001]],
      ["5,13", [5, 13], [7]],
    ],
  );
  assert.deepEqual(state.pools[2]!.cpuLists[0]!.cpus.toArray(), [
    0,
    1,
    2,
    8,
    9,
    10,
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
