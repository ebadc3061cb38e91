/**
 * OneShotProgress across pod listings built from the Pod fixtures
 * (tests/fixtures/pods), renamed to the setup pods of a few nodes.
 */

import assert from "node:assert/strict";
import {
  isHopeless,
  OneShotProgress,
} from "../../../core/k8s/one_shot_progress.ts";
import type { PodObject } from "../../../core/k8s/pod_state.ts";
import { podState } from "../../../core/k8s/pod_state.ts";
import { REPO_ROOT } from "../../_helpers/run_cli.ts";

const name = (node: string) => `kcm-setup-${node}`;

async function pod(
  fixture: string,
  node: string,
  uid?: string,
): Promise<PodObject> {
  const object = JSON.parse(
    await Deno.readTextFile(`${REPO_ROOT}/tests/fixtures/pods/${fixture}.json`),
  ) as PodObject;
  return {
    ...object,
    metadata: {
      ...object.metadata,
      name: name(node),
      ...(uid ? { uid } : {}),
    },
  };
}

function summary(updates: ReturnType<OneShotProgress["observe"]>): string[] {
  return updates.map((u) =>
    `${u.node} ${u.state.progress}${u.changed ? " changed" : ""}${
      u.ended ? ` ${u.ended.outcome}` : ""
    }`
  );
}

Deno.test("OneShotProgress follows pods until each has ended", async () => {
  const progress = new OneShotProgress(["a", "b", "c"], name);
  assert.deepEqual(progress.start([]), []);
  assert.deepEqual(progress.toCreate(), ["a", "b", "c"]);
  for (const node of ["a", "b", "c"]) progress.created(node, undefined);
  assert.deepEqual(progress.toCreate(), []);
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
  assert.deepEqual(progress.counts(), { succeeded: 0, failed: 0, pending: 3 });
  assert.deepEqual(
    summary(progress.observe([
      await pod("succeeded", "a"),
      await pod("init_failed", "b"),
      await pod("init_running", "c"),
    ])),
    [
      "a Succeeded changed succeeded",
      "b Failed changed failed",
      "c Running init",
    ],
  );
  assert.equal(progress.done, false);
  // Ended pods are not reported again.
  assert.deepEqual(
    summary(progress.observe([
      await pod("succeeded", "a"),
      await pod("init_failed", "b"),
      await pod("succeeded", "c"),
    ])),
    ["c Succeeded changed succeeded"],
  );
  assert.equal(progress.done, true);
  assert.deepEqual(progress.counts(), { succeeded: 2, failed: 1, pending: 0 });
  const results = progress.results();
  assert.deepEqual(results.map((r) => [r.node, r.outcome]), [
    ["a", "succeeded"],
    ["b", "failed"],
    ["c", "succeeded"],
  ]);
  const failure = podState(await pod("init_failed", "b")).failure!;
  assert.equal(
    results[1]!.detail,
    `${failure.container}: ${failure.description}`,
  );
  assert.equal(results[1]!.container, failure.container);
});

Deno.test("OneShotProgress waits per node for the pod of an earlier run", async () => {
  const progress = new OneShotProgress(["a", "b"], name);
  assert.deepEqual(
    progress.start([await pod("succeeded", "b"), await pod("succeeded", "x")]),
    ["kcm-setup-b"],
  );
  assert.deepEqual(progress.toCreate(), ["a"]);
  progress.created("a", "uid-a");
  // b's old pod is still listed (Terminating): b waits, a goes on.
  progress.observe([
    await pod("terminating", "b", "old-b"),
    await pod("succeeded", "a", "uid-a"),
  ]);
  assert.deepEqual(progress.toCreate(), []);
  assert.deepEqual(progress.counts(), { succeeded: 1, failed: 0, pending: 1 });
  // Gone: b may be created.
  progress.observe([await pod("succeeded", "a", "uid-a")]);
  assert.deepEqual(progress.toCreate(), ["b"]);
  progress.created("b", "new-b");
  // A listing that still shows another pod of that name is not b's.
  assert.deepEqual(
    summary(progress.observe([await pod("init_failed", "b", "old-b")])),
    [],
  );
  assert.equal(progress.done, false);
});

// Negative cases.
Deno.test("OneShotProgress gives up on a hopeless pod at once", async () => {
  const progress = new OneShotProgress(["a", "b"], name);
  progress.start([]);
  progress.created("a", undefined);
  progress.created("b", undefined);
  const updates = progress.observe([
    await pod("err_image_never_pull", "a"),
    await pod("image_pull_backoff", "b"),
  ]);
  assert.equal(updates[0]!.ended?.outcome, "failed");
  assert.match(updates[0]!.ended!.detail, /ErrImageNeverPull/);
  // A pull back-off may pass: b waits on.
  assert.equal(updates[1]!.ended, undefined);
  assert.deepEqual(progress.counts(), { succeeded: 0, failed: 1, pending: 1 });
  const [, b] = progress.results();
  assert.equal(b!.outcome, "timed out");
  assert.match(
    b!.detail,
    /^still Pending \(ImagePullBackOff\): ImagePullBackOff/,
  );
});

Deno.test("OneShotProgress results name where unended nodes were", async () => {
  const progress = new OneShotProgress(["old", "new", "quiet", "x"], name);
  progress.start([await pod("terminating", "old")]);
  progress.created("quiet", undefined);
  progress.fail("x", "cannot create pod kcm-setup-x: 403");
  assert.deepEqual(
    progress.results().map((r) => `${r.node}: ${r.outcome}: ${r.detail}`),
    [
      "old: timed out: the pod of an earlier run is still being deleted",
      "new: timed out: its pod was not created",
      "quiet: timed out: its pod was never listed",
      "x: failed: cannot create pod kcm-setup-x: 403",
    ],
  );
  assert.equal(isHopeless(undefined), false);
});
