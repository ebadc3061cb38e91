/**
 * Changing tasks files: recording and removing pids atomically, and
 * clearing what a killed writer left.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { OpenConfig } from "../../core/config_open.ts";
import { readConfig, readPool, surveyConfig } from "../../core/config_read.ts";
import {
  removeStaleTemps,
  removeTask,
  removeTaskFromLists,
  writeManyTasks,
  writeTasks,
} from "../../core/config_write.ts";
import { listNames, makeConfigDir } from "../_helpers/temp_config_dir.ts";

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

/**
 * The `owners` records of the pids of list `0` of pool `p`, as reconcile
 * reads them (the file may also hold the pids of the `tasks` it replaced).
 */
function ownersOf(confDir: string): Record<number, unknown> {
  const list = surveyConfig(confDir).state.pools[0]!.cpuLists[0]!;
  return Object.fromEntries(
    list.tasks.map((pid) => [pid, list.owners?.get(pid)]),
  );
}

Deno.test("a rewrite keeps the owners records of the pids it keeps, read again or carried", async () => {
  await using config = await makeConfigDir({
    p: { exclusive: false, lists: { "0": "" } },
  });
  const a = { start: 11, claim: "5-11" }, b = { start: 22, claim: "7-22" };
  const c = { start: 33, claim: "9-33" };
  writeTasks(config.confDir, "p", "0", [5, 7], new Map([[5, a], [7, b]]));
  assert.deepEqual(ownersOf(config.confDir), { 5: a, 7: b });
  {
    // As isolate claims: the list as readPool read it (no owners with it),
    // in the same hold of the directory.
    using open = OpenConfig.open(config.confDir);
    const list = readPool(open, "p")!.cpuLists[0]!;
    writeManyTasks(open, [{
      pool: "p",
      list: "0",
      tasks: [...list.tasks, 9],
      added: new Map([[9, c]]),
      read: list,
    }]);
  }
  assert.equal(await config.tasks("p", "0"), "5,7,9");
  assert.deepEqual(ownersOf(config.confDir), { 5: a, 7: b, 9: c });
  {
    // As reconcile rewrites: the list as the survey read it, owners too.
    const list = surveyConfig(config.confDir).state.pools[0]!.cpuLists[0]!;
    using open = OpenConfig.open(config.confDir);
    writeManyTasks(open, [{ pool: "p", list: "0", tasks: [7, 9], read: list }]);
  }
  assert.deepEqual(ownersOf(config.confDir), { 7: b, 9: c });
  {
    // As isolate gives back: read and rewritten through one descriptor.
    using open = OpenConfig.open(config.confDir);
    assert.deepEqual(removeTaskFromLists(open, "p", ["0"], 9), ["0"]);
  }
  assert.equal(await config.tasks("p", "0"), "7");
  assert.deepEqual(ownersOf(config.confDir), { 7: b });
});

Deno.test("removeStaleTemps() deletes what a killed writer left", async () => {
  await using config = await makeConfigDir({
    p: { exclusive: false, lists: { "0": "" } },
  });
  const stale = join(config.confDir, "pools/p/0/.kcm-tmp-tasks.123.abcd");
  await Deno.writeTextFile(stale, "1,2");
  const state = readConfig(config.confDir);
  assert.deepEqual(removeStaleTemps(config.confDir, state), [stale]);
  assert.deepEqual(await listNames(join(config.confDir, "pools/p/0")), [
    "tasks",
  ]);
  assert.deepEqual(removeStaleTemps(config.confDir, state), [], "once");
});
