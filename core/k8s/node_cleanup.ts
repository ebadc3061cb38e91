/**
 * Taking kcm off a Node object: its capacity (and allocatable)
 * `kcm.intel.com/dataplane-cores`, its label `kcm.intel.com/kcm-node` and
 * its `kcm` taints, everything else left as it is; and its NodeReport and
 * ReconcileReport. What `kcm discover` and the report publishing put
 * there, undone; rerunning finds nothing to do.
 *
 * Side effects: GET of the Node; JSON patches (RFC 6902) of
 * `/api/v1/nodes/<name>` (guarded by a `test` of the resourceVersion and
 * rebuilt on a conflict, like discover's) and its `status`; DELETE of the
 * two report objects in the client's namespace (404 is fine: already gone,
 * or the CRD is). {@linkcode planNodeCleanup} is pure.
 */

import type { Logger } from "../log.ts";
import type { Clock } from "../poll.ts";
import type { K8sClient } from "./client.ts";
import { retryOnConflict } from "./conflict.ts";
import { isStatus } from "./errors.ts";
import { toObjectName } from "./node_name.ts";
import {
  DATAPLANE_RESOURCE,
  escapePointer,
  getNode,
  KCM_TAINT,
  NODE_LABEL,
  type NodeObject,
  patchNodeGuarded,
  type PatchOperation,
} from "./nodes.ts";
import {
  REPORT_GROUP,
  REPORT_VERSION,
  type ReportKind,
  reportPlural,
} from "./report_objects.ts";

/** A Node with the status parts cleanup reads. */
export interface CleanupNode extends NodeObject {
  status?: NodeObject["status"] & { allocatable?: Record<string, string> };
}

/** The patches that take kcm off a Node; empty lists when nothing is left. */
export interface NodeCleanupPlan {
  /** For `/api/v1/nodes/<name>`: label and taints, after a resourceVersion test. */
  readonly node: PatchOperation[];
  /** For `.../status`: capacity and allocatable. */
  readonly status: PatchOperation[];
}

/**
 * The patches that remove kcm's label, taints, capacity and allocatable
 * from `node`; other labels, taints and resources are untouched.
 *
 * @example
 * ```ts
 * import { planNodeCleanup } from "./node_cleanup.ts";
 * import assert from "node:assert/strict";
 * const plan = planNodeCleanup({
 *   metadata: { name: "n", resourceVersion: "9", labels: { "kcm.intel.com/kcm-node": "true", zone: "a" } },
 *   spec: { taints: [{ key: "gpu", effect: "NoSchedule" }, { key: "kcm", value: "true", effect: "NoSchedule" }] },
 *   status: { capacity: { cpu: "4", "kcm.intel.com/dataplane-cores": "2" } },
 * });
 * assert.deepEqual(plan.node.map((o) => `${o.op} ${o.path}`), [
 *   "test /metadata/resourceVersion",
 *   "remove /metadata/labels/kcm.intel.com~1kcm-node",
 *   "remove /spec/taints/1",
 * ]);
 * assert.deepEqual(plan.status.map((o) => `${o.op} ${o.path}`), [
 *   "remove /status/capacity/kcm.intel.com~1dataplane-cores",
 * ]);
 * ```
 */
export function planNodeCleanup(node: CleanupNode): NodeCleanupPlan {
  const ops: PatchOperation[] = [];
  if (node.metadata.labels?.[NODE_LABEL] !== undefined) {
    ops.push({
      op: "remove",
      path: `/metadata/labels/${escapePointer(NODE_LABEL)}`,
    });
  }
  const taints = node.spec?.taints ?? [];
  // Highest index first, so the earlier indices stay valid.
  for (let i = taints.length - 1; i >= 0; i--) {
    if (taints[i]!.key === KCM_TAINT.key) {
      ops.push({ op: "remove", path: `/spec/taints/${i}` });
    }
  }
  const status: PatchOperation[] = [];
  for (const field of ["capacity", "allocatable"] as const) {
    if (node.status?.[field]?.[DATAPLANE_RESOURCE] !== undefined) {
      status.push({
        op: "remove",
        path: `/status/${field}/${escapePointer(DATAPLANE_RESOURCE)}`,
      });
    }
  }
  return {
    node: ops.length === 0 ? [] : [
      {
        op: "test",
        path: "/metadata/resourceVersion",
        value: node.metadata.resourceVersion ?? "",
      },
      ...ops,
    ],
    status,
  };
}

/** What {@linkcode removeKcmFromNode} changed. */
export interface NodeCleanupResult {
  readonly labelOrTaint: boolean;
  readonly capacity: boolean;
}

const JSON_PATCH = "application/json-patch+json";

/**
 * Removes kcm's label, taints, capacity and allocatable from Node `name`,
 * re-reading it and retrying when someone changed it in between.
 */
export async function removeKcmFromNode(
  client: K8sClient,
  name: string,
  options: { readonly clock: Clock; readonly log?: Logger | undefined },
): Promise<NodeCleanupResult> {
  const path = `/api/v1/nodes/${encodeURIComponent(name)}`;
  return await retryOnConflict(async () => {
    const node = await getNode(client, name) as CleanupNode;
    const plan = planNodeCleanup(node);
    if (plan.node.length > 0) {
      await patchNodeGuarded(
        client,
        name,
        plan.node,
        node.metadata.resourceVersion,
      );
    }
    if (plan.status.length > 0) {
      await client.request("PATCH", `${path}/status`, {
        body: plan.status,
        contentType: JSON_PATCH,
      });
    }
    return {
      labelOrTaint: plan.node.length > 0,
      capacity: plan.status.length > 0,
    };
  }, options);
}

/** The report kinds kcm publishes per node. */
const REPORT_KINDS: readonly ReportKind[] = ["NodeReport", "ReconcileReport"];

/**
 * Deletes the report objects of `node` in `namespace`; resolves to the
 * kinds that were there.
 */
export async function deleteNodeReports(
  client: K8sClient,
  namespace: string,
  node: string,
): Promise<ReportKind[]> {
  const deleted: ReportKind[] = [];
  for (const kind of REPORT_KINDS) {
    try {
      await client.request(
        "DELETE",
        `/apis/${REPORT_GROUP}/${REPORT_VERSION}/namespaces/${
          encodeURIComponent(namespace)
        }/${reportPlural(kind)}/${toObjectName(node)}`,
      );
      deleted.push(kind);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
  return deleted;
}
