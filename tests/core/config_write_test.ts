/**
 * Changing tasks files: recording and removing pids atomically, and
 * clearing what a killed writer left.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readConfig } from "../../core/config_read.ts";
import {
  removeStaleTemps,
  removeTask,
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
