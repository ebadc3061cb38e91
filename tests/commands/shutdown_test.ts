/**
 * SIGTERM ends a `reconcile` / `node-report` loop within 2 s, with exit 0,
 * in every state it can be in, each tested with real processes: waiting
 * for the config lock (held by flock(1)), in the middle of a request to a
 * frozen API server (the test control plane's kube-apiserver stopped with
 * SIGSTOP), and in the middle of a round that rewrites 2,000 tasks files.
 * Afterwards the lock is free. (Waiting between rounds is covered by
 * reconcile_test.ts.)
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { installKcmIdentities } from "../_helpers/k8s_manifests.ts";
import {
  collectText,
  signalAndTime,
  waitForLine,
} from "../_helpers/process_output.ts";
import { spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import { createNode, startControlPlane } from "../k8s/testenv.ts";

/** The most a stop may take (Kubernetes allows 30 s, kcm promises 2). */
const STOP_LIMIT_MS = 2000;

/** Whether `flock -n` can take the lock now (nobody holds it). */
async function lockIsFree(lockFile: string): Promise<boolean> {
  const out = await new Deno.Command("flock", {
    args: ["-n", "-x", lockFile, "true"],
  }).output();
  return out.success;
}

/** Starts kcm and returns it with its output sinks. */
function start(args: string[], env: Record<string, string>) {
  const child = spawnKcm(args, {
    env: { KCM_LOG_LEVEL: "DEBUG", ...env },
  });
  return {
    child,
    out: collectText(child.stdout),
    err: collectText(child.stderr),
  };
}

/** SIGTERM, then the checks every state shares. */
async function stopPromptly(
  kcm: ReturnType<typeof start>,
  what: string,
): Promise<void> {
  const { status, ms } = await signalAndTime(kcm.child, "SIGTERM");
  await Promise.all([kcm.out.done, kcm.err.done]);
  assert.equal(status.code, 0, `${what}: ${kcm.err.text}`);
  assert.equal(status.signal, null, what);
  assert.ok(ms < STOP_LIMIT_MS, `${what}: stopped after ${Math.round(ms)} ms`);
  assert.match(kcm.err.text, /^INFO:root:Stopping on SIGTERM$/m, what);
  // The round was aborted, not abandoned after the grace period.
  assert.doesNotMatch(kcm.err.text, /leaving it behind/, what);
}

Deno.test("SIGTERM ends a loop waiting for the config lock within 2 s", async () => {
  await using conf = await makeConfigDir({
    infra: { exclusive: false, lists: { "0-1": "" } },
  });
  const lockFile = join(conf.confDir, "lock");
  // One process that holds the lock itself (flock(1) with a command
  // would leave the lock with its child when killed).
  const holder = new Deno.Command("bash", {
    args: ["-c", 'exec 9>>"$0" && flock -x 9 && exec sleep 600', lockFile],
  }).spawn();
  try {
    for (const command of ["reconcile", "node-report"]) {
      const kcm = start(
        [command, `--conf-dir=${conf.confDir}`, "--interval=1"],
        { KCM_LOCK_TIMEOUT: "60" },
      );
      await waitForLine(kcm.err, /^DEBUG:root:Running /);
      // Give the round time to reach the blocking flock(2).
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(kcm.out.text, "", `${command} got past the lock`);
      await stopPromptly(kcm, `${command} waiting for the lock`);
      assert.doesNotMatch(kcm.err.text, /^ERROR/m, command);
    }
  } finally {
    holder.kill("SIGTERM");
    await holder.status;
  }
  assert.ok(await lockIsFree(lockFile), "the lock is free again");
});

Deno.test("SIGTERM ends a loop in a request to a frozen API server within 2 s", async () => {
  await using cp = await startControlPlane();
  const identities = await installKcmIdentities(cp);
  await createNode(cp, "frozen-node");
  const sa = await identities.nodeAgent("frozen-node");
  await using conf = await makeConfigDir({
    infra: { exclusive: false, lists: { "0-1": "" } },
  });
  Deno.kill(cp.pids.apiserver, "SIGSTOP");
  try {
    for (const command of ["node-report", "reconcile"]) {
      const kcm = start(
        [command, `--conf-dir=${conf.confDir}`, "--interval=1", "--publish"],
        { ...sa.inClusterEnv, NODE_NAME: "frozen-node" },
      );
      // The round printed its report and is now publishing: connecting to
      // a server that accepts nothing (the kernel holds the connection).
      await waitForLine(kcm.out, /^\}$/);
      await new Promise((r) => setTimeout(r, 1000));
      assert.doesNotMatch(kcm.err.text, /Waiting \d+ seconds/, command);
      await stopPromptly(kcm, `${command} in a request`);
      assert.doesNotMatch(kcm.err.text, /^ERROR/m, command);
    }
  } finally {
    Deno.kill(cp.pids.apiserver, "SIGCONT");
  }
  assert.ok(await lockIsFree(join(conf.confDir, "lock")));
});

Deno.test("SIGTERM ends a loop in the middle of a round within 2 s", async () => {
  // 2,000 lists whose task is gone (an empty procfs knows no pid): the
  // first round rewrites every tasks file, durably, under the lock.
  const lists: Record<string, string> = {};
  for (let i = 0; i < 2000; i++) lists[String(i)] = "424242";
  await using conf = await makeConfigDir({
    big: { exclusive: false, lists },
  });
  const procfs = join(conf.root, "proc");
  await Deno.mkdir(procfs);
  const kcm = start(
    ["reconcile", `--conf-dir=${conf.confDir}`, "--interval=1"],
    { KCM_PROC_FS: procfs, KCM_LOG_LEVEL: "DEBUG" },
  );
  await waitForLine(kcm.err, /^DEBUG:root:Running reconciliation$/);
  await stopPromptly(kcm, "reconcile mid-round");
  // Whatever the round finished is whole: every tasks file is either the
  // old pid or empty.
  for (let i = 0; i < 2000; i++) {
    const text = await conf.tasks("big", String(i));
    assert.ok(text === "424242" || text === "", `list ${i}: "${text}"`);
  }
  assert.ok(await lockIsFree(join(conf.confDir, "lock")));
});
