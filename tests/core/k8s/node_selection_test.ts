import assert from "node:assert/strict";
import {
  type NodeState,
  partitionNodes,
} from "../../../core/k8s/node_selection.ts";

const ready = { conditions: [{ type: "Ready", status: "True" }] };

function node(name: string, extra: Partial<NodeState> = {}): NodeState {
  return { metadata: { name }, status: ready, ...extra };
}

const NODES: NodeState[] = [
  node("w1"),
  node("cp", {
    metadata: {
      name: "cp",
      labels: { "node-role.kubernetes.io/control-plane": "" },
    },
  }),
  node("gone", {
    spec: {
      taints: [{ key: "node.kubernetes.io/unreachable", effect: "NoExecute" }],
    },
  }),
  node("silent", {
    status: { conditions: [{ type: "Ready", status: "Unknown" }] },
  }),
  node("new", { status: {} }),
  node("off", { spec: { unschedulable: true } }),
  node("w2"),
];

Deno.test("partitionNodes() keeps nodes a pod can run on now", () => {
  assert.deepEqual(partitionNodes(NODES, "all"), {
    selected: ["w1", "w2"],
    skipped: [
      { name: "cp", reason: "control-plane" },
      { name: "gone", reason: "unreachable" },
      { name: "silent", reason: "unreachable" },
      { name: "new", reason: "NotReady" },
      { name: "off", reason: "cordoned" },
    ],
    missing: [],
  });
});

Deno.test("partitionNodes() takes a named control-plane node, in list order", () => {
  assert.deepEqual(partitionNodes(NODES, ["w2", "cp", "off"]), {
    selected: ["w2", "cp"],
    skipped: [{ name: "off", reason: "cordoned" }],
    missing: [],
  });
});

// Negative cases.
Deno.test("partitionNodes() names every host it cannot find", () => {
  assert.deepEqual(partitionNodes(NODES, ["ghost", "w1", "spook"]).missing, [
    "ghost",
    "spook",
  ]);
});
