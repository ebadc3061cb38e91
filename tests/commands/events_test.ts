/**
 * Node Events from the `--interval` loops, on a real kube-apiserver: a
 * node-report check that turns failing emits one Warning on the Node and
 * passing again one Normal; the same transition again bumps the series
 * count of the same Event instead of creating another; reconcile emits one
 * Event per round that reclaims, naming pools and lists, and a repeat
 * becomes a series. The failing check is real: a live process pinned off
 * its cpu list with taskset.
 */

import assert from "node:assert/strict";
import { installKcmIdentities } from "../_helpers/k8s_manifests.ts";
import {
  collectText,
  signalBetweenRounds,
  type TextSink,
} from "../_helpers/process_output.ts";
import { type EventSeen, nodeEvents } from "../_helpers/report_api.ts";
import { runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import {
  type ControlPlane,
  createNode,
  startControlPlane,
} from "../k8s/testenv.ts";

async function taskset(cpus: string, pid: number): Promise<void> {
  const out = await new Deno.Command("taskset", {
    args: ["-p", "-c", cpus, String(pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

/** The pid of a process that has come and gone. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** Waits until kcm's Events about `node` satisfy `done`. */
function eventsUntil(
  cp: ControlPlane,
  node: string,
  what: string,
  done: (events: EventSeen[]) => boolean,
  log: TextSink,
): Promise<EventSeen[]> {
  return waitFor(what, async () => {
    const events = await nodeEvents(cp, node);
    return done(events) ? events : undefined;
  }, 20_000).catch((error) => {
    throw new Error(`${error.message}\nkcm's log:\n${log.text}`);
  });
}

Deno.test("node-report and reconcile loops emit deduplicated Events on their Node", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  const node = await createNode(cp, "event-node");
  // The node agent with exactly the shipped rights (Events in default).
  const sa = await kcm.nodeAgent("event-node");
  const env = { ...sa.inClusterEnv, NODE_NAME: "event-node" };

  await t.step(
    "a failing check: one Warning, then Normal, then the same Warning again as a series",
    async () => {
      const sleeper = new Deno.Command("taskset", {
        args: ["-c", "0-1", "sleep", "600"],
      }).spawn();
      await using conf = await makeConfigDir({
        infra: { exclusive: false, lists: { "0-1": String(sleeper.pid) } },
      });
      const kcm = spawnKcm([
        "node-report",
        `--conf-dir=${conf.confDir}`,
        "--publish",
        "--interval=1",
      ], { env });
      const out = collectText(kcm.stdout), err = collectText(kcm.stderr);
      try {
        await waitFor("a first report", () => out.text || undefined);
        assert.deepEqual(await nodeEvents(cp, "event-node"), []);

        await taskset("0", sleeper.pid);
        const [failed] = await eventsUntil(
          cp,
          "event-node",
          "a Warning",
          (e) => e.length === 1,
          err,
        );
        assert.equal(failed!.type, "Warning");
        assert.equal(failed!.reason, "CheckFailed");
        assert.equal(failed!.action, "NodeReport");
        assert.equal(
          failed!.note,
          `node-report check taskAffinity failed: Task ${sleeper.pid} in infra:0-1 may run on CPUs 0, not 0-1`,
        );
        assert.deepEqual(failed!.regarding, {
          apiVersion: "v1",
          kind: "Node",
          name: "event-node",
          uid: node.metadata.uid,
        });
        // More failing rounds are not new occurrences.
        await new Promise((r) => setTimeout(r, 2500));
        const still = await nodeEvents(cp, "event-node");
        assert.equal(still.length, 1);
        assert.equal(still[0]!.series, undefined, "counted as a repeat");

        await taskset("0-1", sleeper.pid);
        const events = await eventsUntil(
          cp,
          "event-node",
          "a Normal",
          (e) => e.length === 2,
          err,
        );
        assert.equal(events[1]!.type, "Normal");
        assert.equal(events[1]!.reason, "CheckPassed");
        assert.equal(
          events[1]!.note,
          "node-report check taskAffinity passes again",
        );

        await taskset("0", sleeper.pid);
        const again = await eventsUntil(
          cp,
          "event-node",
          "the Warning's series",
          (e) => e.some((x) => x.series?.count === 2),
          err,
        );
        assert.equal(again.length, 2, "no new Event object");
        const series = again.find((x) => x.name === failed!.name)!;
        assert.equal(series.series!.count, 2);
      } finally {
        const { status } = await signalBetweenRounds(kcm, err, "SIGTERM");
        await Promise.all([out.done, err.done]);
        sleeper.kill("SIGKILL");
        await sleeper.status;
        assert.equal(status.code, 0, err.text);
      }
      assert.doesNotMatch(err.text, /ERROR|WARNING/);
    },
  );

  await t.step(
    "reconcile: one Event naming pools and lists, a repeat is a series",
    async () => {
      await using conf = await makeConfigDir({
        dataplane: { exclusive: true, lists: { "2": String(await deadPid()) } },
        infra: { exclusive: false, lists: { "0-1": String(await deadPid()) } },
      });
      // A one-shot run emits its reclaim too.
      const once = await runKcm(
        ["reconcile", `--conf-dir=${conf.confDir}`, "--publish"],
        { env },
      );
      assert.equal(once.code, 0, once.stderr);
      const first = await waitFor("the reclaim Event", async () => {
        const e = (await nodeEvents(cp, "event-node")).filter((x) =>
          x.reason === "CpuListsReclaimed"
        );
        return e.length > 0 ? e : undefined;
      });
      assert.equal(first.length, 1);
      assert.equal(first[0]!.type, "Normal");
      assert.equal(first[0]!.action, "Reconcile");
      assert.equal(
        first[0]!.note,
        "Reclaimed 2 cpu lists from exited tasks: dataplane:2 infra:0-1",
      );

      const kcm = spawnKcm([
        "reconcile",
        `--conf-dir=${conf.confDir}`,
        "--publish",
        "--interval=1",
      ], { env });
      const out = collectText(kcm.stdout), err = collectText(kcm.stderr);
      try {
        await waitFor("a first report", () => out.text || undefined);
        const tasks = `${conf.confDir}/pools/infra/0-1/tasks`;
        for (let round = 0; round < 2; round++) {
          await Deno.writeTextFile(tasks, String(await deadPid()));
          await waitFor(
            "the list reclaimed",
            async () => (await Deno.readTextFile(tasks)) === "" || undefined,
          );
        }
        const reclaims = await eventsUntil(
          cp,
          "event-node",
          "a series of the infra reclaim",
          (e) =>
            e.some((x) =>
              x.note.endsWith(": infra:0-1") && (x.series?.count ?? 0) >= 2
            ),
          err,
        );
        const infra = reclaims.filter((x) =>
          x.note === "Reclaimed 1 cpu list from exited tasks: infra:0-1"
        );
        assert.equal(infra.length, 1, "one Event object for the repeats");
        assert.equal(infra[0]!.series!.count, 2);
      } finally {
        const { status } = await signalBetweenRounds(kcm, err, "SIGTERM");
        await Promise.all([out.done, err.done]);
        assert.equal(status.code, 0, err.text);
      }
    },
  );
});
