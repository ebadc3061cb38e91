/**
 * Rewrites keep a tasks file's owner, group and mode: a tasks file of mode
 * 0660 owned by another user (uid 65534) is still that user's, 0660, after
 * isolate claims and releases its list and after reconcile frees it, and a
 * tool running as that user can still write it. As root: only root may
 * give a file away.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AS_NOBODY,
  cannotConfine,
  runArgv,
  skipUnless,
} from "../_helpers/confine.ts";
import { runKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";

const NOBODY = 65534;

async function ownership(path: string): Promise<[number, number, number]> {
  const info = await Deno.stat(path);
  return [info.uid!, info.gid!, info.mode! & 0o7777];
}

const NAME =
  "isolate and reconcile keep a tasks file's owner and mode; its owner can still write it";
Deno.test({
  name: NAME,
  ignore: skipUnless(NAME, cannotConfine),
  async fn() {
    await using conf = await makeConfigDir({
      p: { exclusive: true, lists: { "0": "" } },
    });
    await Deno.chmod(conf.root, 0o755); // let uid 65534 reach the file
    const tasks = join(conf.confDir, "pools/p/0/tasks");
    await Deno.chown(tasks, NOBODY, NOBODY);
    await Deno.chmod(tasks, 0o660);
    const expected: [number, number, number] = [NOBODY, NOBODY, 0o660];

    const isolated = await runKcm([
      "isolate",
      `--conf-dir=${conf.confDir}`,
      "--pool=p",
      "--no-affinity",
      "true",
    ]);
    assert.equal(isolated.code, 0, isolated.stderr);
    assert.deepEqual(await ownership(tasks), expected, "after isolate");

    // The other user's tool records a pid that has died; reconcile frees it.
    const tool = await runArgv([
      ...AS_NOBODY,
      "sh",
      "-c",
      'printf 999994 > "$0"',
      tasks,
    ]);
    assert.equal(tool.code, 0, tool.stderr);
    const procfs = join(conf.root, "proc"); // empty: every pid is dead
    await Deno.mkdir(procfs);
    const reconciled = await runKcm(
      ["reconcile", `--conf-dir=${conf.confDir}`],
      { env: { KCM_PROC_FS: procfs } },
    );
    assert.equal(reconciled.code, 0, reconciled.stderr);
    assert.equal(await conf.tasks("p", "0"), "");
    assert.deepEqual(await ownership(tasks), expected, "after reconcile");

    const again = await runArgv([
      ...AS_NOBODY,
      "sh",
      "-c",
      'printf 4242 > "$0"',
      tasks,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await conf.tasks("p", "0"), "4242");
  },
});
