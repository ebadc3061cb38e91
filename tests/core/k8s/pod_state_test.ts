/**
 * podState() on Pod JSON as the kubelet writes it (tests/fixtures/pods):
 * one row per fixture, every field of the result checked.
 */

import assert from "node:assert/strict";
import {
  type PodObject,
  podState,
  terminationMessage,
} from "../../../core/k8s/pod_state.ts";
import { REPO_ROOT } from "../../_helpers/run_cli.ts";

const FIXTURES = `${REPO_ROOT}/tests/fixtures/pods`;

async function fixture(name: string): Promise<PodObject> {
  return JSON.parse(await Deno.readTextFile(`${FIXTURES}/${name}.json`));
}

type Row = [
  fixture: string,
  progress: string,
  current: string | undefined,
  failure: string | undefined,
  problem: string | undefined,
];

const EVICTED =
  "Evicted: The node was low on resource: memory. Threshold quantity: 100Mi, available: 91240Ki. Container reconcile was using 181404Ki, request is 0, has larger consumption of memory.";

/** Failure and problem as `<container>|<reason>|<exit code>|<description>`. */
const ROWS: Row[] = [
  // Getting on.
  ["just_created", "Pending", undefined, undefined, undefined],
  [
    "container_creating",
    "Pending (ContainerCreating)",
    undefined,
    undefined,
    undefined,
  ],
  ["init_running", "Running init", "init", undefined, undefined],
  ["succeeded", "Succeeded", undefined, undefined, undefined],
  // Finished with a failure.
  [
    "init_failed",
    "Failed",
    undefined,
    "init|Error|1|Error (exit code 1)",
    undefined,
  ],
  [
    "container_failed",
    "Failed",
    undefined,
    "discover|Error|1|Error (exit code 1)",
    undefined,
  ],
  [
    "evicted",
    "Failed",
    undefined,
    `node-report|Evicted|137|${EVICTED}`,
    undefined,
  ],
  // Not finished, and stuck.
  [
    "crash_loop_backoff",
    "Running reconcile",
    "reconcile",
    undefined,
    "node-report|CrashLoopBackOff|1|CrashLoopBackOff: last run ended Error (exit code 1), 4 restarts",
  ],
  [
    "image_pull_backoff",
    "Pending (ImagePullBackOff)",
    undefined,
    undefined,
    'discover|ImagePullBackOff||ImagePullBackOff: Back-off pulling image "registry.example.com/kcm:v0.2"',
  ],
  [
    "err_image_pull",
    "Pending (ErrImagePull)",
    undefined,
    undefined,
    'discover|ErrImagePull||ErrImagePull: failed to pull and unpack image "registry.example.com/kcm:v0.2": failed to resolve reference "registry.example.com/kcm:v0.2": registry.example.com/kcm:v0.2: not found',
  ],
  [
    "err_image_never_pull",
    "Pending (ErrImageNeverPull)",
    undefined,
    undefined,
    'init|ErrImageNeverPull||ErrImageNeverPull: Container image "kcm" is not present with pull policy of Never',
  ],
  [
    "pending_unschedulable",
    "Pending (Unschedulable)",
    undefined,
    undefined,
    "|Unschedulable||Unschedulable: 0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
  ],
  [
    "terminating",
    "Terminating",
    "discover",
    undefined,
    "|Terminating||being deleted since 2025-06-02T09:15:03Z",
  ],
];

function issue(
  value: ReturnType<typeof podState>["failure"],
): string | undefined {
  return value === undefined ? undefined : [
    value.container ?? "",
    value.reason,
    value.exitCode ?? "",
    value.description,
  ].join("|");
}

Deno.test("podState() reads every fixture pod", async () => {
  const names = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (entry.name.endsWith(".json")) names.push(entry.name.slice(0, -5));
  }
  assert.deepEqual(names.sort(), ROWS.map((r) => r[0]).sort());
  for (const [name, progress, current, failure, problem] of ROWS) {
    const pod = await fixture(name);
    const state = podState(pod);
    assert.deepEqual(
      {
        progress: state.progress,
        current: state.current,
        failure: issue(state.failure),
        problem: issue(state.problem),
      },
      { progress, current, failure, problem },
      name,
    );
    assert.equal(state.phase, pod.status?.phase, name);
    assert.equal(
      state.finished,
      progress === "Succeeded" || progress === "Failed",
      name,
    );
  }
});

Deno.test("podState() falls back to the pod's own words", () => {
  const cases: [PodObject, string][] = [
    [
      {
        metadata: { name: "p" },
        status: {
          phase: "Failed",
          message: "Pod was rejected: Node didn't have enough resource: cpu",
        },
      },
      "Pod was rejected: Node didn't have enough resource: cpu",
    ],
    [{ metadata: { name: "p" }, status: { phase: "Failed" } }, "pod failed"],
    [
      {
        metadata: { name: "p" },
        status: {
          phase: "Failed",
          reason: "DeadlineExceeded",
          message:
            "Pod was active on the node longer than the specified deadline",
        },
      },
      "DeadlineExceeded: Pod was active on the node longer than the specified deadline",
    ],
  ];
  for (const [pod, description] of cases) {
    const failure = podState(pod).failure;
    assert.equal(failure?.description, description);
    assert.equal(failure?.container, undefined);
  }
  assert.equal(podState({ metadata: { name: "p" } }).progress, "Pending");
});

Deno.test("terminationMessage() is the ended container's log tail", async () => {
  const pod = await fixture("init_failed");
  assert.equal(
    terminationMessage(pod, "init"),
    "kcm: error: Cannot make 4 dataplane and 1 controlplane cpu lists from 3 physical cores\nhint: lower --num-dp-cores or --num-cp-cores\n",
  );
  // Negative cases: still waiting, or no such container.
  assert.equal(terminationMessage(pod, "install"), undefined);
  assert.equal(terminationMessage(pod, "nope"), undefined);
});
