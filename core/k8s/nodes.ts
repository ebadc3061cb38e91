/**
 * What `discover` does to a Node: advertise the dataplane cores as an
 * extended resource on the status capacity, label it and taint it.
 *
 * Side effects: GET and JSON-patch (RFC 6902) requests on
 * `/api/v1/nodes/<name>` and its `status` subresource. The label and taint
 * patch carries a `test` of `metadata.resourceVersion`, so a concurrent
 * writer's change is never overwritten: the patch fails, the Node is read
 * again and the patch rebuilt.
 *
 * {@linkcode planLabelAndTaint} and {@linkcode escapePointer} are pure.
 */

import type { Logger } from "../log.ts";
import type { Clock } from "../poll.ts";
import type { K8sClient } from "./client.ts";
import { retryOnConflict } from "./conflict.ts";
import { K8sApiError } from "./errors.ts";
import { DATAPLANE_RESOURCE, KCM_TAINT, NODE_LABEL } from "./node_marks.ts";
import { quote } from "../quote.ts";

export { DATAPLANE_RESOURCE, KCM_TAINT, NODE_LABEL };

/** A Node taint as the API stores it. */
export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

/** The parts of a Node kcm reads. */
export interface NodeObject {
  metadata: {
    name: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  spec?: { taints?: Taint[]; unschedulable?: boolean };
  status?: { capacity?: Record<string, string> };
}

/** One RFC 6902 operation. */
export interface PatchOperation {
  op: "add" | "replace" | "remove" | "test";
  path: string;
  value?: unknown;
}

/**
 * Escapes one JSON pointer segment (RFC 6901): `~` → `~0`, `/` → `~1`.
 *
 * @example
 * ```ts
 * import { escapePointer } from "./nodes.ts";
 * import assert from "node:assert/strict";
 * assert.equal(escapePointer("kcm.intel.com/kcm-node"), "kcm.intel.com~1kcm-node");
 * ```
 */
export function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * The JSON patch that labels and taints `node`, guarded by a test of its
 * resourceVersion; empty when both are already in place. Other taints are
 * kept; a `kcm` NoSchedule taint with another value is replaced, never
 * duplicated.
 *
 * @example
 * ```ts
 * import { planLabelAndTaint } from "./nodes.ts";
 * import assert from "node:assert/strict";
 * const ops = planLabelAndTaint({
 *   metadata: { name: "n", resourceVersion: "7", labels: {} },
 *   spec: { taints: [{ key: "gpu", effect: "NoSchedule" }] },
 * });
 * assert.deepEqual(ops.map((o) => o.op + " " + o.path), [
 *   "test /metadata/resourceVersion",
 *   "add /metadata/labels/kcm.intel.com~1kcm-node",
 *   "add /spec/taints/-",
 * ]);
 * ```
 */
export function planLabelAndTaint(node: NodeObject): PatchOperation[] {
  const ops: PatchOperation[] = [];
  const labels = node.metadata.labels;
  if (labels === undefined) {
    ops.push({
      op: "add",
      path: "/metadata/labels",
      value: { [NODE_LABEL]: "true" },
    });
  } else if (labels[NODE_LABEL] !== "true") {
    ops.push({
      op: "add",
      path: `/metadata/labels/${escapePointer(NODE_LABEL)}`,
      value: "true",
    });
  }
  const taints = node.spec?.taints;
  const wanted = { ...KCM_TAINT };
  if (taints === undefined || taints.length === 0) {
    ops.push({ op: "add", path: "/spec/taints", value: [wanted] });
  } else {
    const index = taints.findIndex((t) =>
      t.key === KCM_TAINT.key && t.effect === KCM_TAINT.effect
    );
    if (index < 0) {
      ops.push({ op: "add", path: "/spec/taints/-", value: wanted });
    } else if (taints[index]!.value !== KCM_TAINT.value) {
      ops.push({ op: "replace", path: `/spec/taints/${index}`, value: wanted });
    }
  }
  if (ops.length === 0) return [];
  return [
    {
      op: "test",
      path: "/metadata/resourceVersion",
      value: node.metadata.resourceVersion ?? "",
    },
    ...ops,
  ];
}

const JSON_PATCH = "application/json-patch+json";

/** Reads a Node. */
export async function getNode(
  client: K8sClient,
  name: string,
): Promise<NodeObject> {
  return await client.request<NodeObject>(
    "GET",
    `/api/v1/nodes/${encodeURIComponent(name)}`,
  );
}

/**
 * Sets `status.capacity["kcm.intel.com/dataplane-cores"]` to `count`
 * (the kubelet copies capacity it does not manage into allocatable).
 * Resolves to false, without a patch, when it already says `count`.
 */
export async function advertiseDataplaneCores(
  client: K8sClient,
  name: string,
  count: number,
): Promise<boolean> {
  const node = await getNode(client, name);
  if (node.status?.capacity?.[DATAPLANE_RESOURCE] === String(count)) {
    return false;
  }
  const ops: PatchOperation[] = node.status?.capacity === undefined
    ? [{
      op: "add",
      path: "/status/capacity",
      value: { [DATAPLANE_RESOURCE]: String(count) },
    }]
    : [{
      op: "add",
      path: `/status/capacity/${escapePointer(DATAPLANE_RESOURCE)}`,
      value: String(count),
    }];
  await client.request(
    "PATCH",
    `/api/v1/nodes/${encodeURIComponent(name)}/status`,
    { body: ops, contentType: JSON_PATCH },
  );
  return true;
}

/**
 * Sends a JSON patch of Node `name` that starts with a `test` of its
 * `resourceVersion`. kube-apiserver answers a failed `test` with a bare 422
 * Invalid; when the Node's resourceVersion has moved on since, that was
 * the test, and the error becomes a 409 Conflict so that
 * `retryOnConflict` reads the Node again and rebuilds the patch.
 */
export async function patchNodeGuarded(
  client: K8sClient,
  name: string,
  ops: readonly PatchOperation[],
  resourceVersion: string | undefined,
): Promise<void> {
  try {
    await client.request(
      "PATCH",
      `/api/v1/nodes/${encodeURIComponent(name)}`,
      { body: ops, contentType: JSON_PATCH },
    );
  } catch (error) {
    if (
      error instanceof K8sApiError && error.status === 422 &&
      (await getNode(client, name)).metadata.resourceVersion !== resourceVersion
    ) {
      throw new K8sApiError({
        method: error.method,
        path: error.path,
        status: 409,
        reason: "Conflict",
        detail: `node ${quote(name)} changed while kcm patched it`,
      }, { cause: error });
    }
    throw error;
  }
}

/**
 * Labels and taints the Node, re-reading it and retrying when someone else
 * changed it in between. Returns what was changed.
 */
export async function labelAndTaintNode(
  client: K8sClient,
  name: string,
  options: { readonly clock: Clock; readonly log?: Logger | undefined },
): Promise<{ labelled: boolean; tainted: boolean }> {
  return await retryOnConflict(async () => {
    const node = await getNode(client, name);
    const ops = planLabelAndTaint(node);
    if (ops.length === 0) return { labelled: false, tainted: false };
    await patchNodeGuarded(client, name, ops, node.metadata.resourceVersion);
    return {
      labelled: ops.some((o) => o.path.startsWith("/metadata/labels")),
      tainted: ops.some((o) => o.path.startsWith("/spec/taints")),
    };
  }, options);
}
