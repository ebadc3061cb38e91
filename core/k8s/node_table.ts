/**
 * The per-node table `cluster-init` and `cluster-uninstall` print on
 * stdout when they end: one row per node, aligned columns. Pure.
 */

import type { NodeResult } from "./one_shot_progress.ts";

/** One row: the node, how it ended, and why when not plainly. */
export interface NodeRow {
  readonly node: string;
  /** `ok`, `failed`, `timed out`, `skipped`, ... */
  readonly result: string;
  readonly detail: string;
}

/**
 * The table text, header first, columns padded to their widest cell, one
 * trailing newline; rows keep their order.
 *
 * @example
 * ```ts
 * import { formatNodeTable } from "./node_table.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   formatNodeTable([
 *     { node: "worker-1", result: "ok", detail: "" },
 *     { node: "w2", result: "skipped", detail: "node is NotReady" },
 *   ]),
 *   "NODE      RESULT   DETAIL\n" +
 *     "worker-1  ok\n" +
 *     "w2        skipped  node is NotReady\n",
 * );
 * ```
 */
export function formatNodeTable(rows: readonly NodeRow[]): string {
  const header: NodeRow = { node: "NODE", result: "RESULT", detail: "DETAIL" };
  const all = [header, ...rows];
  const nodeWidth = Math.max(...all.map((r) => r.node.length));
  const resultWidth = Math.max(...all.map((r) => r.result.length));
  return all.map((r) =>
    `${r.node.padEnd(nodeWidth)}  ${r.result.padEnd(resultWidth)}  ${
      r.detail.replaceAll("\n", " ")
    }`.trimEnd() + "\n"
  ).join("");
}

/** A table row for a one-shot pod result. */
export function resultRow(result: NodeResult): NodeRow {
  return {
    node: result.node,
    result: result.outcome === "succeeded" ? "ok" : result.outcome,
    detail: result.detail,
  };
}
