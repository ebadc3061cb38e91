/**
 * Which nodes `cluster-init` works on: the `--host-list` names, each of
 * which must exist, or with `--all-hosts` every Node that is not cordoned
 * (`spec.unschedulable`).
 *
 * Side effects: `GET /api/v1/nodes`, or `GET /api/v1/nodes/<name>` per
 * listed node; an INFO line per skipped node. {@linkcode partitionNodes}
 * is pure.
 */

import { KcmError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { K8sClient } from "./client.ts";
import { isStatus } from "./errors.ts";
import type { NodeObject } from "./nodes.ts";
import { setupPodName } from "./workloads.ts";
import { quote } from "../quote.ts";

/** A node left out, and why. */
export interface SkippedNode {
  readonly name: string;
  /** Lower-case adjective for `Skipping <why> node "<name>"`. */
  readonly why: string;
}

/** The outcome of {@linkcode partitionNodes}. */
export interface NodePartition {
  readonly selected: readonly string[];
  readonly skipped: readonly SkippedNode[];
}

/**
 * Splits a Node list into the nodes `--all-hosts` works on and the ones it
 * leaves out, in list order.
 *
 * @example
 * ```ts
 * import { partitionNodes } from "./node_selection.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(partitionNodes([
 *   { metadata: { name: "a" } },
 *   { metadata: { name: "b" }, spec: { unschedulable: true } },
 * ]), { selected: ["a"], skipped: [{ name: "b", why: "unschedulable" }] });
 * ```
 */
export function partitionNodes(nodes: readonly NodeObject[]): NodePartition {
  const selected: string[] = [];
  const skipped: SkippedNode[] = [];
  for (const node of nodes) {
    if (node.spec?.unschedulable) {
      skipped.push({ name: node.metadata.name, why: "unschedulable" });
    } else {
      selected.push(node.metadata.name);
    }
  }
  return { selected, skipped };
}

async function checkNodesExist(
  client: K8sClient,
  names: readonly string[],
): Promise<void> {
  for (const name of names) {
    try {
      await client.request("GET", `/api/v1/nodes/${encodeURIComponent(name)}`);
    } catch (error) {
      if (isStatus(error, 404)) {
        throw new KcmError(`Node ${quote(name)} does not exist`, 1, {
          cause: error,
          hint: "check --host-list against `kubectl get nodes`",
        });
      }
      throw error;
    }
  }
}

/**
 * The nodes to prepare: `hosts` after checking each exists, or for "all"
 * the schedulable Nodes (skipped ones logged at INFO). Throws a
 * `KcmError` for a missing node, a node name too long to name its setup
 * pod, or no node at all.
 */
export async function selectNodes(
  client: K8sClient,
  hosts: readonly string[] | "all",
  log: Logger,
): Promise<string[]> {
  let nodes: string[];
  if (hosts === "all") {
    const list = await client.request<{ items: NodeObject[] }>(
      "GET",
      "/api/v1/nodes",
    );
    const { selected, skipped } = partitionNodes(list.items);
    for (const { name, why } of skipped) {
      log.info(`Skipping ${why} node ${quote(name)}`);
    }
    const bad = selected.find((n) => setupPodName(n).length > 253);
    if (bad !== undefined) {
      throw new KcmError(`Node name ${quote(bad)} is too long for a pod name`);
    }
    nodes = [...selected];
  } else {
    nodes = [...hosts];
    await checkNodesExist(client, nodes);
  }
  if (nodes.length === 0) throw new KcmError("No schedulable nodes found");
  return nodes;
}
