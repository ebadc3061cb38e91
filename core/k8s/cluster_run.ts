/**
 * The frame `cluster-init` and `cluster-uninstall` share: connect, choose
 * the nodes (node_selection.ts), do the command's work on them, then print
 * the per-node table on stdout (also when the work failed half-way: what
 * was done is listed) and end with exit status 1 when a node is not `ok`
 * (skipped nodes count only when named in `--host-list`).
 *
 * Side effects: the client's requests; the table on stdout; INFO lines.
 */

import { KcmError } from "../errors.ts";
import type { Host } from "../host.ts";
import { connectK8s, type K8sClient } from "./client.ts";
import type { ConnectionFlags } from "../connection_flags.ts";
import { explainApiError } from "./errors.ts";
import { describeSkip, selectNodes } from "./node_selection.ts";
import { formatNodeTable, type NodeRow } from "./node_table.ts";

/** What the frame needs of a cluster command's options. */
export interface ClusterRunOptions {
  /** `cluster-init` or `cluster-uninstall`, for messages. */
  readonly command: string;
  readonly hosts: readonly string[] | "all";
  /** `--namespace`, else the namespace kcm runs in. */
  readonly namespace: string | undefined;
  readonly timeoutSeconds: number;
  readonly connection: ConnectionFlags;
  /**
   * With `--all-hosts`, go on when every node is skipped (the work has a
   * cluster-wide part); otherwise that is an error.
   */
  readonly allowNoNode?: boolean;
}

/** What the work gets. */
export interface ClusterContext {
  readonly client: K8sClient;
  readonly namespace: string;
  /** The nodes to work on, in order. */
  readonly selected: readonly string[];
  /** A `host.clock.now()` value: `--timeout` from the start. */
  readonly deadline: number;
}

/**
 * Runs `work` on the chosen nodes; it pushes one row per selected node to
 * `rows` (skipped nodes are added here). Resolves to 0, or throws a
 * `KcmError` naming the nodes not done.
 */
export async function runOnCluster(
  options: ClusterRunOptions,
  host: Host,
  work: (context: ClusterContext, rows: NodeRow[]) => Promise<void>,
): Promise<number> {
  const { clock, log } = host;
  const deadline = clock.now() + options.timeoutSeconds * 1000;
  const client = await connectK8s(host.env, {
    log,
    clock,
    connection: options.connection,
  });
  const rows: NodeRow[] = [];
  try {
    const namespace = options.namespace ?? client.namespace;
    const { selected, skipped } = await selectNodes(
      client,
      options.hosts,
      log,
      options.allowNoNode,
    );
    const skippedRows = skipped.map(({ name, reason }) => ({
      node: name,
      result: "skipped",
      detail: describeSkip(reason),
    }));
    try {
      await work({ client, namespace, selected, deadline }, rows);
    } finally {
      rows.push(...skippedRows);
    }
  } catch (error) {
    throw explainApiError(options.command, error);
  } finally {
    client.close();
    if (rows.length > 0) await host.write(formatNodeTable(rows));
  }
  const bad = rows.filter((r) =>
    r.result !== "ok" && !(options.hosts === "all" && r.result === "skipped")
  );
  if (bad.length > 0) {
    throw new KcmError(
      `${options.command} did not finish on ${bad.length} of ${rows.length} nodes: ${
        bad.map((r) => r.node).join(", ")
      }`,
      1,
      { hint: "see the table above and the ERROR lines for each node" },
    );
  }
  log.info(`${options.command} done on ${rows.length} nodes`);
  return 0;
}
