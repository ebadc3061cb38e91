/**
 * The report kinds kcm publishes, as data: `NodeReport` and
 * `ReconcileReport` in group `kcm.intel.com`, version v1, their
 * CustomResourceDefinitions (with the `kubectl get` printer columns) and
 * the object kcm writes for one node. Pure.
 *
 * Objects keep the report as the command prints it under `report`, the
 * publication time as `last_updated` (ISO-8601 UTC), the node name as
 * `node`, plus `ok` (every check of a node report passed) or
 * `reclaimed`/`mismatched` (counts of a reconcile report) for the columns.
 * The CRDs built here are shipped verbatim as
 * `resources/crd-nodereports.yaml` and `resources/crd-reconcilereports.yaml`.
 */

import type { JsonValue } from "../json.ts";
import { toObjectName } from "./node_name.ts";

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
 * import { reportSummary } from "./report_objects.ts";
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
