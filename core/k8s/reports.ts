/**
 * Publishing `node-report` and `reconcile` results as custom resources
 * (see report_objects.ts): one object per node, named after the node, in
 * the namespace kcm runs in.
 *
 * Side effects: reads the client settings (see `config.ts`); GETs and, when
 * missing, creates the report kind's CustomResourceDefinition and polls
 * until it is Established; creates the report object, or on 409 replaces
 * it (GET + PUT with its resourceVersion, retried on conflict).
 */

import type { Host } from "../host.ts";
import type { JsonValue } from "../json.ts";
import type { Logger } from "../log.ts";
import { KcmError } from "../errors.ts";
import { type Clock, poll } from "../poll.ts";
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
  reportCrd,
  type ReportKind,
  reportObject,
  reportPlural,
} from "./report_objects.ts";

type Dict = Record<string, JsonValue>;

interface CrdStatus {
  status?: { conditions?: { type: string; status: string }[] };
}

function isEstablished(crd: CrdStatus): boolean {
  return crd.status?.conditions?.some((c) =>
    c.type === "Established" && c.status === "True"
  ) ?? false;
}

/** Options of {@linkcode ensureReportCrd}. */
interface EnsureCrdOptions {
  /** Polls on it. */
  readonly clock: Clock;
  /** How long to wait for Established, default 30 s. */
  readonly timeoutMs?: number;
}

/**
 * Makes sure the CRD of `kind` exists and is Established, creating it when
 * missing; polls for Established at most `timeoutMs`.
 */
async function ensureReportCrd(
  client: K8sClient,
  kind: ReportKind,
  options: EnsureCrdOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const crd = reportCrd(kind);
  const name = (crd.metadata as Dict).name as string;
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions`;
  let current: CrdStatus;
  try {
    current = await client.request<CrdStatus>("GET", `${path}/${name}`);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
    try {
      current = await client.request<CrdStatus>("POST", path, { body: crd });
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
      current = {};
    }
  }
  const established = await poll(async (attempt) => {
    if (attempt > 1) {
      current = await client.request<CrdStatus>("GET", `${path}/${name}`);
    }
    return isEstablished(current) ? true : undefined;
  }, {
    clock: options.clock,
    backoff: { initialMs: 50, factor: 2, maxMs: 1000, jitter: 0 },
    deadline: options.clock.now() + timeoutMs,
  });
  if (!established.done) {
    throw new KcmError(
      `CustomResourceDefinition ${name} is not Established after ${
        timeoutMs / 1000
      } s`,
    );
  }
}

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
    await ensureReportCrd(client, kind, { clock: host.clock });
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
    throw explainApiError(`Cannot publish ${kind}`, error);
  } finally {
    client.close();
  }
}
