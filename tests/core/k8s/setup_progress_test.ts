/**
 * SetupProgress across pod listings built from the Pod fixtures
 * (tests/fixtures/pods), renamed to the setup pods of three nodes.
 */

import assert from "node:assert/strict";
import type { PodObject } from "../../../core/k8s/pod_state.ts";
import { SetupProgress } from "../../../core/k8s/setup_progress.ts";
import { REPO_ROOT } from "../../_helpers/run_cli.ts";

async function pod(fixture: string, node: string): Promise<PodObject> {
  const object = JSON.parse(
    await Deno.readTextFile(`${REPO_ROOT}/tests/fixtures/pods/${fixture}.json`),
  ) as PodObject;
  return {
    ...object,
    metadata: { ...object.metadata, name: `kcm-setup-${node}` },
  };
}

function summary(updates: ReturnType<SetupProgress["observe"]>): string[] {
  return updates.map((u) =>
    `${u.node} ${u.state.progress}${u.changed ? " changed" : ""}${
      u.finished ? " finished" : ""
    }`
  );
}

Deno.test("SetupProgress follows pods until each has finished", async () => {
  const progress = new SetupProgress(["a", "b", "c"]);
  assert.deepEqual(progress.podNames, [
    "kcm-setup-a",
    "kcm-setup-b",
    "kcm-setup-c",
  ]);
  assert.deepEqual(
    summary(progress.observe([
      await pod("just_created", "a"),
      await pod("init_running", "b"),
      await pod("succeeded", "zzz"), // not ours
    ])),
    ["a Pending changed", "b Running init changed"],
  );
  assert.deepEqual(
    summary(progress.observe([
      await pod("container_creating", "a"),
      await pod("init_running", "b"),
      await pod("init_running", "c"),
    ])),
    [
      "a Pending (ContainerCreating) changed",
      "b Running init",
      "c Running init changed",
    ],
  );
  assert.deepEqual(
    summary(progress.observe([
      await pod("succeeded", "a"),
      await pod("init_failed", "b"),
      await pod("init_running", "c"),
    ])),
    [
      "a Succeeded changed finished",
      "b Failed changed finished",
      "c Running init",
    ],
  );
  assert.equal(progress.done, false);
  // Finished pods are not reported again.
  assert.deepEqual(
    summary(progress.observe([
      await pod("succeeded", "a"),
      await pod("init_failed", "b"),
      await pod("succeeded", "c"),
    ])),
    ["c Succeeded changed finished"],
  );
  assert.equal(progress.done, true);
  assert.deepEqual(progress.succeeded(), ["a", "c"]);
  assert.deepEqual(progress.failed(), ["b"]);
  assert.deepEqual(progress.unfinished(), []);
});

// Negative cases.
Deno.test("SetupProgress names what had not finished, and how far it got", async () => {
  const progress = new SetupProgress(["a", "b", "c"]);
  const stuck = await pod("err_image_never_pull", "b");
  progress.observe([await pod("init_running", "a"), stuck]);
  // a disappears from the listing; c was never listed.
  progress.observe([stuck]);
  assert.equal(progress.done, false);
  assert.deepEqual(
    progress.unfinished().map((u) => [u.node, u.pod.metadata.name, u.progress]),
    [
      ["a", "kcm-setup-a", "Running init"],
      ["b", "kcm-setup-b", "Pending (ErrImageNeverPull)"],
      ["c", "kcm-setup-c", "missing"],
    ],
  );
  assert.equal(progress.unfinished()[1]!.pod, stuck);
  assert.equal(progress.unfinished()[0]!.pod.status, undefined);
  assert.deepEqual(progress.succeeded(), []);
  assert.deepEqual(progress.failed(), ["a", "b", "c"]);
});
