/**
 * Publishing `node-report` and `reconcile` results as custom resources
 * (see report_objects.ts): one object per node, named after the node, in
 * the namespace kcm runs in.
 *
 * Side effects: reads the client settings (see `config.ts`); creates the
 * report object, or on 409 replaces it (GET + PUT with its
 * resourceVersion, retried on conflict). The report kinds' CRDs are the
 * operator's to apply (resources/crd-*.yaml): kcm's node agent may not
 * create them.
 */

import type { Host } from "../host.ts";
import type { JsonValue } from "../json.ts";
import type { Logger } from "../log.ts";
import type { Clock } from "../poll.ts";
import {
  connectK8s,
  type K8sClient,
  LOOP_RETRY,
  ONE_SHOT_RETRY,
} from "./client.ts";
import { retryOnConflict } from "./conflict.ts";
import { explainApiError, isStatus } from "./errors.ts";
import { nodeName } from "./node_name.ts";
import {
  REPORT_GROUP,
  REPORT_VERSION,
  type ReportKind,
  reportObject,
  reportPlural,
} from "./report_objects.ts";

type Dict = Record<string, JsonValue>;

/**
 * Creates the report object, or replaces the existing one (retried on
 * conflict with another writer).
 */
async function writeReportObject(
  client: K8sClient,
  object: Dict,
  options: { readonly clock: Clock; readonly log?: Logger },
): Promise<"created" | "replaced"> {
  const kind = object.kind as ReportKind;
  const name = (object.metadata as Dict).name as string;
  const collection = `/apis/${REPORT_GROUP}/${REPORT_VERSION}/namespaces/${
    encodeURIComponent(client.namespace)
  }/${reportPlural(kind)}`;
  try {
    await client.request("POST", collection, { body: object });
    return "created";
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
  }, options);
  return "replaced";
}

/**
 * Publishes `report` as the `kind` object of this node (`NODE_NAME`, else
 * the host name). `loop` selects the shorter retry policy of `--interval`
 * loops, whose next iteration retries anyway.
 */
export async function publishReport(
  host: Host,
  kind: ReportKind,
  report: JsonValue,
  options: { loop?: boolean } = {},
): Promise<void> {
  const node = nodeName(host.env, host.hostname);
  const object = reportObject(kind, node, report, host.now());
  const client = await connectK8s(host.env, {
    log: host.log,
    clock: host.clock,
    retry: options.loop ? LOOP_RETRY : ONE_SHOT_RETRY,
  });
  try {
    const done = await writeReportObject(client, object, {
      clock: host.clock,
      log: host.log,
    });
    host.log.info(
      `Published ${kind} ${client.namespace}/${
        (object.metadata as Dict).name
      } (${done})`,
    );
  } catch (error) {
    throw explainApiError(`Cannot publish ${kind}`, error, {
      404:
        "apply kcm's CRDs: kubectl apply -f resources/crd-nodereports.yaml -f resources/crd-reconcilereports.yaml",
    });
  } finally {
    client.close();
  }
}
