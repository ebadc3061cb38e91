/**
 * The report kinds kcm publishes, as data: `NodeReport` and
 * `ReconcileReport` in group `kcm.intel.com`, version v1, their
 * CustomResourceDefinitions (with the `kubectl get` printer columns) and
 * the object kcm writes for one node. Pure.
 *
 * Objects keep the report as the command prints it under `report`, the
 * publication time as `last_updated` (ISO-8601 UTC), the node name as
 * `node`, plus `ok` (every check of a node report passed; a reconcile run
 * that worked) and `reclaimed`/`mismatched` (counts of a reconcile report)
 * or `error` (a reconcile run that failed) for the columns. Each object is
 * owned by its Node (`metadata.ownerReferences`), so the garbage collector
 * deletes it with the Node.
 *
 * Staleness: printer columns cannot compare a time with the present, but
 * a column of type `date` is shown by the API server as the time elapsed
 * since it (`45s`, `5m30s`, `3h`). So the `Updated` column is the age of
 * `last_updated`, and a loop also writes `staleAfter`, the age at which the
 * report counts as stale (heartbeat + 3 intervals, in the same notation,
 * see format_age.ts), and `staleAt`, that moment as a timestamp for
 * scripts: `kubectl get nodereports` shows `UPDATED 9m  STALE-AFTER 5m30s`
 * for a report whose daemon stopped. One-shot runs write neither field.
 *
 * The CRDs built here are shipped verbatim as
 * `resources/crd-nodereports.yaml` and `resources/crd-reconcilereports.yaml`.
 */

import type { JsonValue } from "../json.ts";
import { formatAge } from "../format_age.ts";
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
    name: "Updated",
    type: "date",
    jsonPath: ".last_updated",
    description: "How long ago kcm last published this report",
  },
  {
    name: "Stale-After",
    type: "string",
    jsonPath: ".staleAfter",
    description:
      "The report is stale when Updated is older than this (heartbeat + 3 intervals of the publishing loop)",
  },
  {
    name: "Last-Updated",
    type: "string",
    jsonPath: ".last_updated",
    description: "When kcm last published this report (UTC)",
    priority: 1,
  },
  {
    name: "Age",
    type: "date",
    jsonPath: ".metadata.creationTimestamp",
    priority: 1,
  },
];

const COMMON_FIELDS: Record<string, Dict> = {
  staleAfter: {
    type: "string",
    description:
      "Age (as kubectl prints ages) past which this report is stale; set by --interval loops",
  },
  staleAt: {
    type: "string",
    description: "ISO-8601 UTC time from which this report is stale",
  },
};

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
        name: "OK",
        type: "boolean",
        jsonPath: ".ok",
        description: "The last reconcile run worked",
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
      {
        name: "Error",
        type: "string",
        jsonPath: ".error",
        description: "Why the last reconcile run failed",
        priority: 1,
      },
      ...COMMON_COLUMNS,
    ],
    summary: {
      ok: {
        type: "boolean",
        description: "The last reconcile run worked",
      },
      reclaimed: {
        type: "integer",
        description: "Number of reclaimedCpuLists entries",
      },
      mismatched: {
        type: "integer",
        description: "Number of mismatchedCpuMasks entries",
      },
      error: {
        type: "string",
        description:
          "Why the last reconcile run failed (then report holds it too)",
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
              ...COMMON_FIELDS,
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
 *   { ok: true, reclaimed: 1, mismatched: 0 },
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
  if (typeof body.error === "string") return { ok: false, error: body.error };
  const count = (value: JsonValue | undefined) =>
    Array.isArray(value) ? value.length : 0;
  return {
    ok: true,
    reclaimed: count(body.reclaimedCpuLists),
    mismatched: count(body.mismatchedCpuMasks),
  };
}

/**
 * The report a run publishes when it could not do its work (the config
 * directory cannot be locked or read): a node report whose
 * `configDirectory` check failed with `message` and whose other checks
 * were skipped, or a reconcile report `{ error: message }`. Published
 * instead of nothing, so an old OK never outlives the problem.
 *
 * @example
 * ```ts
 * import { failedReport, reportSummary } from "./report_objects.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(failedReport("ReconcileReport", "no lock"), { error: "no lock" });
 * assert.deepEqual(reportSummary("NodeReport", failedReport("NodeReport", "no lock")), { ok: false });
 * ```
 */
export function failedReport(kind: ReportKind, message: string): JsonValue {
  if (kind === "ReconcileReport") return { error: message };
  const skipped = {
    errors: ["Skipped: the config directory could not be read"],
    ok: false,
  };
  return {
    checks: {
      configDirectory: { errors: [message], ok: false },
      cpuListsOnline: skipped,
      exclusiveCores: skipped,
      exclusiveNumaNodes: skipped,
      taskAffinity: skipped,
    },
    description: null,
    topology: null,
  };
}

/** What else a report object carries besides the report. */
export interface ReportObjectOptions {
  /** The uid of the Node: the object becomes its dependent. */
  readonly ownerUid?: string | undefined;
  /** Age in seconds past which the report is stale (loops only). */
  readonly staleAfterSeconds?: number | undefined;
}

/**
 * The report object for `node` (its `metadata.name` made DNS-1123-safe),
 * owned by the Node when its uid is given.
 *
 * @example
 * ```ts
 * import { reportObject } from "./report_objects.ts";
 * import assert from "node:assert/strict";
 * const object = reportObject("ReconcileReport", "n1", { reclaimedCpuLists: [] },
 *   new Date("2030-01-01T00:00:00Z"), { ownerUid: "u-1", staleAfterSeconds: 330 });
 * assert.deepEqual(object.metadata, { name: "n1", ownerReferences: [
 *   { apiVersion: "v1", kind: "Node", name: "n1", uid: "u-1" }] });
 * assert.equal(object.staleAfter, "5m30s");
 * assert.equal(object.staleAt, "2030-01-01T00:05:30Z");
 * ```
 */
export function reportObject(
  kind: ReportKind,
  node: string,
  report: JsonValue,
  now: Date,
  options: ReportObjectOptions = {},
): Dict {
  const { ownerUid, staleAfterSeconds } = options;
  const stale: Dict = staleAfterSeconds === undefined ? {} : {
    staleAfter: formatAge(staleAfterSeconds),
    staleAt: new Date(now.getTime() + staleAfterSeconds * 1000)
      .toISOString().replace(/\.\d+Z$/, "Z"),
  };
  return {
    apiVersion: `${REPORT_GROUP}/${REPORT_VERSION}`,
    kind,
    metadata: {
      name: toObjectName(node),
      ...(ownerUid === undefined ? {} : {
        ownerReferences: [
          { apiVersion: "v1", kind: "Node", name: node, uid: ownerUid },
        ],
      }),
    },
    node,
    ...reportSummary(kind, report),
    ...stale,
    report,
    last_updated: now.toISOString(),
  };
}
