/**
 * Release is not optional: when isolate cannot give its list back (here the
 * config lock is held by someone else past KCM_LOCK_TIMEOUT), it still exits
 * with the command's status, says in one line that the list is left for
 * `kcm reconcile`, and reconcile then frees it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { holdLock } from "../_helpers/lock_holder.ts";
import { runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";

Deno.test("isolate that cannot give its list back exits with the command's status and leaves the list to reconcile", async () => {
  await using conf = await makeConfigDir({
    p: { exclusive: true, lists: { "0": "" } },
  });
  const flag = join(conf.root, "go");
  // The command waits for the test's signal, then exits 7.
  const script = 'while [ ! -e "$1" ]; do sleep 0.05; done; exit 7';
  const isolate = spawnKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=p",
    "--no-affinity",
    "sh",
    "-c",
    script,
    "sh",
    flag,
  ], { env: { KCM_LOCK_TIMEOUT: "0.5" } });
  try {
    const pid = await waitFor("the claim", async () => {
      const tasks = await conf.tasks("p", "0");
      return tasks === "" ? undefined : Number(tasks);
    });
    assert.equal(pid, isolate.pid);
    {
      await using _other = await holdLock(join(conf.confDir, "lock"));
      await Deno.writeTextFile(flag, "");
      const { code, stderr } = await isolate.output();
      assert.equal(code, 7, "the command's status");
      const text = new TextDecoder().decode(stderr);
      assert.match(
        text,
        /^ERROR:root:Cannot give back cpu list p:0: Timed out after 0\.5 s[^\n]*; it is left for `kcm reconcile`$/m,
      );
      assert.equal(await conf.tasks("p", "0"), String(pid), "still recorded");
    }
    // isolate is gone and its claim unlocked: reconcile frees the list.
    const reconciled = await runKcm([
      "reconcile",
      `--conf-dir=${conf.confDir}`,
    ]);
    assert.equal(reconciled.code, 0, reconciled.stderr);
    assert.equal(await conf.tasks("p", "0"), "");
    const left = (await Array.fromAsync(Deno.readDir(conf.confDir)))
      .map((e) => e.name).filter((name) => name.startsWith(".kcm-claim-"));
    assert.deepEqual(left, [], "the stale claim file is removed");
  } finally {
    await Deno.writeTextFile(flag, "").catch(() => {});
    try {
      isolate.kill("SIGKILL");
    } catch {
      // Already ended.
    }
    await isolate.status;
  }
});
