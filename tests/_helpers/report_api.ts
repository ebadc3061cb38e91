/**
 * Reading kcm's report objects and Events back from a test control plane,
 * and the report CRDs as kcm builds them (for a control plane that needs
 * them before its controllers start; kcm never creates them itself).
 */

import assert from "node:assert/strict";
import { reportCrd } from "../../core/k8s/report_objects.ts";
import type { ControlPlane, CrdObject } from "../k8s/testenv.ts";

/** Both report CRDs, for `startControlPlane({ crds })` or `createCrd`. */
export const REPORT_CRDS: CrdObject[] = [
  reportCrd("NodeReport") as unknown as CrdObject,
  reportCrd("ReconcileReport") as unknown as CrdObject,
];

/** A report object, or undefined when it does not exist. */
export async function getReport(
  cp: ControlPlane,
  namespace: string,
  plural: "nodereports" | "reconcilereports",
  name: string,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const r = await cp.api(
    "GET",
    `/apis/kcm.intel.com/v1/namespaces/${namespace}/${plural}/${name}`,
  );
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/**
 * `kubectl get` of one report: the server-side Table, as column name ->
 * cell (every column, wide ones included).
 */
export async function reportTable(
  cp: ControlPlane,
  namespace: string,
  plural: "nodereports" | "reconcilereports",
  name: string,
): Promise<Record<string, unknown>> {
  const client = Deno.createHttpClient({ caCerts: [cp.caPem] });
  try {
    const response = await fetch(
      `${cp.url}/apis/kcm.intel.com/v1/namespaces/${namespace}/${plural}/${name}`,
      {
        client,
        headers: {
          authorization: `Bearer ${cp.adminToken}`,
          accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
        },
      },
    );
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    const columns = body.columnDefinitions.map((c: { name: string }) => c.name);
    return Object.fromEntries(
      columns.map((c: string, i: number) => [c, body.rows[0].cells[i]]),
    );
  } finally {
    client.close();
  }
}

/** One `events.k8s.io/v1` Event as the tests read it. */
export interface EventSeen {
  name: string;
  type: string;
  reason: string;
  action: string;
  note: string;
  regarding: { kind: string; name: string; uid?: string };
  series?: { count: number; lastObservedTime: string };
  reportingController: string;
}

/** kcm's Events about Node `node`, oldest first. */
export async function nodeEvents(
  cp: ControlPlane,
  node: string,
): Promise<EventSeen[]> {
  const selector = encodeURIComponent(
    `regarding.kind=Node,regarding.name=${node},reportingController=kcm.intel.com/kcm`,
  );
  const r = await cp.api(
    "GET",
    `/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=${selector}`,
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // deno-lint-ignore no-explicit-any
  return r.body.items.map((e: any) => ({ ...e, name: e.metadata.name }))
    .sort((a: EventSeen & { eventTime: string }, b: typeof a) =>
      a.eventTime < b.eventTime ? -1 : a.eventTime > b.eventTime ? 1 : 0
    );
}
