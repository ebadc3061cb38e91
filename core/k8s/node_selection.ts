/**
 * Which nodes `cluster-init` and `cluster-uninstall` work on: the
 * `--host-list` names, or with `--all-hosts` every Node, minus the ones a
 * pod could not run on now: NotReady, unreachable (the node lifecycle
 * controller's taint, or a Ready condition of Unknown) or cordoned
 * (`spec.unschedulable`), and with `--all-hosts` control-plane nodes
 * unless named. Skipped nodes are reported, never silently dropped.
 *
 * Side effects: one `GET /api/v1/nodes` (a list, whatever the number of
 * nodes); an INFO line per skipped node. {@linkcode partitionNodes} is
 * pure.
 */

import { KcmError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { K8sClient } from "./client.ts";
import type { NodeObject } from "./nodes.ts";
import { quote } from "../quote.ts";

/** Why a node is left out. */
export type SkipReason =
  | "NotReady"
  | "unreachable"
  | "cordoned"
  | "control-plane";

/** A node left out, and why. */
export interface SkippedNode {
  readonly name: string;
  readonly reason: SkipReason;
}

/** The outcome of {@linkcode partitionNodes}. */
export interface NodePartition {
  readonly selected: readonly string[];
  readonly skipped: readonly SkippedNode[];
  /** `--host-list` names no Node has. */
  readonly missing: readonly string[];
}

/** The Node parts node selection reads (on top of {@linkcode NodeObject}). */
export interface NodeState extends NodeObject {
  status?: NodeObject["status"] & {
    conditions?: { type: string; status: string }[];
  };
}

const CONTROL_PLANE_LABELS = [
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
];

/** Why `node` cannot run a pod now, or undefined when it can. */
function unusable(node: NodeState): SkipReason | undefined {
  const taints = node.spec?.taints ?? [];
  if (taints.some((t) => t.key === "node.kubernetes.io/unreachable")) {
    return "unreachable";
  }
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status === "Unknown") return "unreachable";
  if (ready === undefined || ready.status !== "True") return "NotReady";
  if (node.spec?.unschedulable) return "cordoned";
  return undefined;
}

function isControlPlane(node: NodeState): boolean {
  const labels = node.metadata.labels ?? {};
  return CONTROL_PLANE_LABELS.some((l) => l in labels);
}

/**
 * Splits a Node list into the nodes to work on and the ones left out:
 * `hosts` in their order (names no Node has are `missing`), or for "all"
 * every Node in list order, control-plane nodes skipped.
 *
 * @example
 * ```ts
 * import { partitionNodes } from "./node_selection.ts";
 * import assert from "node:assert/strict";
 * const ready = { conditions: [{ type: "Ready", status: "True" }] };
 * assert.deepEqual(partitionNodes([
 *   { metadata: { name: "a" }, status: ready },
 *   { metadata: { name: "b" }, spec: { unschedulable: true }, status: ready },
 *   { metadata: { name: "c" }, status: { conditions: [{ type: "Ready", status: "False" }] } },
 * ], "all"), {
 *   selected: ["a"],
 *   skipped: [{ name: "b", reason: "cordoned" }, { name: "c", reason: "NotReady" }],
 *   missing: [],
 * });
 * ```
 */
export function partitionNodes(
  nodes: readonly NodeState[],
  hosts: readonly string[] | "all",
): NodePartition {
  const byName = new Map(nodes.map((n) => [n.metadata.name, n]));
  const selected: string[] = [];
  const skipped: SkippedNode[] = [];
  const missing: string[] = [];
  const wanted = hosts === "all" ? nodes.map((n) => n.metadata.name) : hosts;
  for (const name of wanted) {
    const node = byName.get(name);
    if (node === undefined) {
      missing.push(name);
      continue;
    }
    const reason = unusable(node) ??
      (hosts === "all" && isControlPlane(node) ? "control-plane" : undefined);
    if (reason === undefined) selected.push(name);
    else skipped.push({ name, reason });
  }
  return { selected, skipped, missing };
}

/** What a skip reason means, for log lines and tables. */
export function describeSkip(reason: SkipReason): string {
  switch (reason) {
    case "NotReady":
      return "node is NotReady";
    case "unreachable":
      return "node is unreachable";
    case "cordoned":
      return "node is cordoned (unschedulable)";
    case "control-plane":
      return "control-plane node (name it in --host-list to include it)";
  }
}

/**
 * The nodes to work on: one Node list, partitioned. Throws a `KcmError`
 * naming every `--host-list` name no Node has, before anything is done,
 * or when no node is left (unless `allowNone`, for `--all-hosts` of a
 * command with work beyond the nodes). Skipped nodes are logged at INFO
 * (WARNING when they were named in `--host-list`).
 */
export async function selectNodes(
  client: K8sClient,
  hosts: readonly string[] | "all",
  log: Logger,
  allowNone = false,
): Promise<NodePartition> {
  const list = await client.request<{ items: NodeState[] }>(
    "GET",
    "/api/v1/nodes",
  );
  const partition = partitionNodes(list.items, hosts);
  if (partition.missing.length > 0) {
    const names = partition.missing.map((n) => `${quote(n)}`).join(", ");
    throw new KcmError(
      partition.missing.length === 1
        ? `Node ${names} does not exist`
        : `Nodes ${names} do not exist`,
      1,
      { hint: "check --host-list against `kubectl get nodes`" },
    );
  }
  for (const { name, reason } of partition.skipped) {
    const line = `Skipping node ${quote(name)}: ${describeSkip(reason)}`;
    if (hosts === "all") log.info(line);
    else log.warning(line);
  }
  if (partition.selected.length === 0 && !(allowNone && hosts === "all")) {
    throw new KcmError(
      hosts === "all"
        ? "No node to work on: every node is skipped"
        : "No node of --host-list can be worked on now",
    );
  }
  return partition;
}
