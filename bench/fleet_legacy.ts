/**
 * The fleet benchmark's baseline: how kcm published a report before
 * publish-on-change, kept here request for request so the old behaviour
 * can be measured beside the new one. Every interval, with a fresh client:
 * GET the report CRD (kcm created it when missing), POST the object, and
 * on 409 GET it and PUT it with the resourceVersion read.
 */

import type { Host } from "../core/host.ts";
import type { JsonValue } from "../core/json.ts";
import { connectK8s } from "../core/k8s/client.ts";
import { LOOP_RETRY } from "../core/k8s/request_policy.ts";
import { retryOnConflict } from "../core/k8s/conflict.ts";
import { isStatus } from "../core/k8s/errors.ts";
import {
  REPORT_GROUP,
  REPORT_VERSION,
  reportObject,
} from "../core/k8s/report_objects.ts";

type Dict = Record<string, JsonValue>;

/** One publication the old way (the `--interval` loop's retry policy). */
export async function publishTheOldWay(
  host: Pick<Host, "env" | "log" | "clock" | "now">,
  node: string,
  report: JsonValue,
): Promise<void> {
  const object = reportObject("NodeReport", node, report, host.now());
  const name = (object.metadata as Dict).name as string;
  const client = await connectK8s(host.env, {
    log: host.log,
    clock: host.clock,
    retry: LOOP_RETRY,
  });
  try {
    await client.request(
      "GET",
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/nodereports.${REPORT_GROUP}`,
    );
    const collection = `/apis/${REPORT_GROUP}/${REPORT_VERSION}/namespaces/${
      encodeURIComponent(client.namespace)
    }/nodereports`;
    try {
      await client.request("POST", collection, { body: object });
      return;
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
    await retryOnConflict(async () => {
      const current = await client.request<{
        metadata: { resourceVersion: string };
      }>("GET", `${collection}/${name}`);
      await client.request("PUT", `${collection}/${name}`, {
        body: {
          ...object,
          metadata: {
            ...(object.metadata as Dict),
            resourceVersion: current.metadata.resourceVersion,
          },
        },
      });
    }, { clock: host.clock });
  } finally {
    client.close();
  }
}
