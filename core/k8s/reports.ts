/**
 * Publishing `node-report` and `reconcile` results as custom resources:
 * `NodeReport` and `ReconcileReport` in group `kcm.intel.com`, version v1,
 * one object per node, named after the node, in the namespace kcm runs in.
 *
 * Side effects: reads the client settings (see `config.ts`); GETs and, when
 * missing, creates the two CustomResourceDefinitions and waits until they
 * are Established; creates the report object, or on 409 replaces it (GET +
 * PUT with its resourceVersion, retried on conflict).
 *
 * Objects keep the seed's top-level `report` and `last_updated` (ISO-8601
 * UTC) and add `node`, plus `ok` (every check of a node report passed) or
 * `reclaimed`/`mismatched` (counts of a reconcile report) for the
 * `kubectl get` columns. The CRDs built here are shipped verbatim as
 * `resources/crd-nodereports.yaml` and `resources/crd-reconcilereports.yaml`.
 */

import type { Host } from "../host.ts";
import type { JsonValue } from "../json.ts";
import { KcmError } from "../errors.ts";
import {
  connectK8s,
  isStatus,
  type K8sClient,
  LOOP_RETRY,
  ONE_SHOT_RETRY,
  retryOnConflict,
} from "./client.ts";
import { explainApiError } from "./errors.ts";
import { nodeName, toObjectName } from "./node_name.ts";
import { pause } from "../repeat.ts";

/** The report kinds kcm publishes. */
export type ReportKind = "NodeReport" | "ReconcileReport";

/** The API group of kcm's custom resources. */
export const REPORT_GROUP = "kcm.intel.com";
/** Their only version. */
export const REPORT_VERSION = "v1";

type Dict = Record<string, JsonValue>;

interface KindInfo {
  plural: string;
  singular: string;
  shortNames: string[];
  columns: Dict[];
  summary: Record<string, Dict>;
}

const COMMON_COLUMNS: Dict[] = [
  {
    name: "Last-Updated",
    type: "string",
    jsonPath: ".last_updated",
    description: "When kcm last published this report (UTC)",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

const KINDS: Record<ReportKind, KindInfo> = {
  NodeReport: {
    plural: "nodereports",
    singular: "nodereport",
    shortNames: ["nr", "kcmnr"],
    columns: [
      {
        name: "Node",
        type: "string",
        jsonPath: ".node",
        description: "The node this report is about",
      },
      {
        name: "OK",
        type: "boolean",
        jsonPath: ".ok",
        description: "Every check of the report passed",
      },
      ...COMMON_COLUMNS,
    ],
    summary: {
      ok: {
        type: "boolean",
        description: "Every check of the report passed",
      },
    },
  },
  ReconcileReport: {
    plural: "reconcilereports",
    singular: "reconcilereport",
    shortNames: ["rr", "kcmrr"],
    columns: [
      {
        name: "Node",
        type: "string",
        jsonPath: ".node",
        description: "The node this report is about",
      },
      {
        name: "Reclaimed",
        type: "integer",
        jsonPath: ".reclaimed",
        description: "Cpu lists freed from dead processes in the last run",
      },
      {
        name: "Mismatched",
        type: "integer",
        jsonPath: ".mismatched",
        description: "Tasks running outside their cpu list in the last run",
        priority: 1,
      },
      ...COMMON_COLUMNS,
    ],
    summary: {
      reclaimed: {
        type: "integer",
        description: "Number of reclaimedCpuLists entries",
      },
      mismatched: {
        type: "integer",
        description: "Number of mismatchedCpuMasks entries",
      },
    },
  },
};

/** The plural resource name of a report kind (`nodereports`, ...). */
export function reportPlural(kind: ReportKind): string {
  return KINDS[kind].plural;
}

/** The CustomResourceDefinition of a report kind, as kcm creates it. */
export function reportCrd(kind: ReportKind): Record<string, JsonValue> {
  const info = KINDS[kind];
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${info.plural}.${REPORT_GROUP}`,
      labels: { "app.kubernetes.io/name": "kcm" },
    },
    spec: {
      group: REPORT_GROUP,
      scope: "Namespaced",
      names: {
        kind,
        listKind: `${kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: ["kcm"],
      },
      versions: [{
        name: REPORT_VERSION,
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: "object",
            description: `A kcm ${kind}: the last report of one node.`,
            properties: {
              apiVersion: { type: "string" },
              kind: { type: "string" },
              metadata: { type: "object" },
              node: {
                type: "string",
                description: "The node name the report is about",
              },
              ...info.summary,
              report: {
                type: "object",
                description: "The report as `kcm " +
                  (kind === "NodeReport" ? "node-report" : "reconcile") +
                  "` prints it",
                "x-kubernetes-preserve-unknown-fields": true,
              },
              last_updated: {
                type: "string",
                description: "ISO-8601 UTC time of publication",
              },
            },
          },
        },
        additionalPrinterColumns: info.columns,
      }],
    },
  };
}

function isDict(value: JsonValue | undefined): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The fields shown in `kubectl get` columns, derived from the report.
 *
 * @example
 * ```ts
 * import { reportSummary } from "./reports.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   reportSummary("NodeReport", { checks: { a: { ok: true }, b: { ok: false } } }),
 *   { ok: false },
 * );
 * assert.deepEqual(
 *   reportSummary("ReconcileReport", { reclaimedCpuLists: [{}], mismatchedCpuMasks: [] }),
 *   { reclaimed: 1, mismatched: 0 },
 * );
 * ```
 */
export function reportSummary(kind: ReportKind, report: JsonValue): Dict {
  const body = isDict(report) ? report : {};
  if (kind === "NodeReport") {
    const checks = isDict(body.checks) ? Object.values(body.checks) : [];
    return {
      ok: checks.length > 0 &&
        checks.every((check) => isDict(check) && check.ok === true),
    };
  }
  const count = (value: JsonValue | undefined) =>
    Array.isArray(value) ? value.length : 0;
  return {
    reclaimed: count(body.reclaimedCpuLists),
    mismatched: count(body.mismatchedCpuMasks),
  };
}

/** The report object for `node` (its `metadata.name` made DNS-1123-safe). */
export function reportObject(
  kind: ReportKind,
  node: string,
  report: JsonValue,
  now: Date,
): Dict {
  return {
    apiVersion: `${REPORT_GROUP}/${REPORT_VERSION}`,
    kind,
    metadata: { name: toObjectName(node) },
    node,
    ...reportSummary(kind, report),
    report,
    last_updated: now.toISOString(),
  };
}

interface CrdStatus {
  status?: { conditions?: { type: string; status: string }[] };
}

function isEstablished(crd: CrdStatus): boolean {
  return crd.status?.conditions?.some((c) =>
    c.type === "Established" && c.status === "True"
  ) ?? false;
}

/**
 * Makes sure the CRD of `kind` exists and is Established, creating it when
 * missing; waits at most `timeoutMs`.
 */
export async function ensureReportCrd(
  client: K8sClient,
  kind: ReportKind,
  timeoutMs = 30_000,
): Promise<void> {
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
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  while (!isEstablished(current)) {
    if (Date.now() > deadline) {
      throw new KcmError(
        `CustomResourceDefinition ${name} is not Established after ${
          timeoutMs / 1000
        } s`,
      );
    }
    await pause(delay);
    delay = Math.min(delay * 2, 1000);
    current = await client.request<CrdStatus>("GET", `${path}/${name}`);
  }
}

/** Creates the report object, or replaces the existing one. */
export async function writeReportObject(
  client: K8sClient,
  object: Dict,
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
  });
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
    retry: options.loop ? LOOP_RETRY : ONE_SHOT_RETRY,
  });
  try {
    await ensureReportCrd(client, kind);
    const done = await writeReportObject(client, object);
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
