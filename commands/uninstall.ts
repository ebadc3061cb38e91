/**
 * `kcm uninstall`: take kcm off this node.
 *
 * In order, each step skipped when there is nothing left to do, so a
 * rerun finishes what an interrupted run left:
 * 1. the config directory, unless a live task still holds one of its cpu
 *    lists (then nothing is removed, exit 1; `--force` removes it anyway);
 * 2. the installed `kcm` in `--install-dir`;
 * 3. unless `--local`: kcm's capacity, label and taint from this node's
 *    Node (`NODE_NAME`, else the host name), then its NodeReport and
 *    ReconcileReport.
 * The files go first: a daemon still running here (its pod goes once the
 * label is gone) then finds no config to rediscover or report. Every step
 * done is logged at INFO; a failure says which steps were done before it.
 */

import type { Invocation } from "../core/command.ts";
import { KcmError, UsageError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import { connectK8s } from "../core/k8s/client.ts";
import {
  type ConnectionFlags,
  connectionFlags,
} from "../core/connection_flags.ts";
import { explainApiError } from "../core/k8s/errors.ts";
import {
  deleteNodeReports,
  removeKcmFromNode,
} from "../core/k8s/node_cleanup.ts";
import { nodeName } from "../core/k8s/node_name.ts";
import { removeConfigDir, removeInstalled } from "../core/uninstall.ts";
import { quote } from "../core/quote.ts";

/** Options of `kcm uninstall`. */
export interface UninstallOptions {
  readonly confDir: string;
  readonly installDir: string;
  readonly force: boolean;
  /** Only the node's files; leave the Node object and reports alone. */
  readonly local: boolean;
  readonly connection: ConnectionFlags;
}

/** Validates `uninstall`'s flags. */
export function parse(invocation: Invocation<"uninstall">): UninstallOptions {
  const {
    "conf-dir": confDir,
    "install-dir": installDir,
    force,
    local,
  } = invocation.options;
  for (
    const [name, value] of [
      ["conf-dir", confDir],
      ["install-dir", installDir],
    ] as const
  ) {
    if (value.trim() === "") {
      throw new UsageError(`--${name} must not be empty`);
    }
  }
  const connection = connectionFlags(invocation.options);
  if (
    local &&
    (connection.kubeconfig !== undefined || connection.context !== undefined ||
      connection.insecureHttp)
  ) {
    throw new UsageError(
      "--local talks to no API server: drop --kubeconfig, --context and --insecure-http",
    );
  }
  return {
    confDir,
    installDir,
    force,
    local,
    connection,
  };
}

/** Runs `kcm uninstall`. */
export async function run(
  options: UninstallOptions,
  host: Host,
): Promise<number> {
  const { log } = host;
  const done: string[] = [];
  const failed = (error: unknown): never => {
    if (!(error instanceof KcmError)) throw error;
    throw new KcmError(
      done.length === 0
        ? error.message
        : `${error.message} (done before: ${done.join("; ")})`,
      error.exitCode,
      { cause: error, hint: error.hint },
    );
  };

  const removal = await removeConfigDir(options.confDir, {
    procRoot: host.procRoot,
    lockTimeoutMs: host.lockTimeoutMs,
    force: options.force,
  }).catch(failed);
  if (removal.kind !== "absent" && removal.forcedTasks.length > 0) {
    log.warning(
      `Removed the config directory from under ${removal.forcedTasks.length} live task(s) (--force): ${
        removal.forcedTasks.map((t) => `pid ${t.pid}`).join(", ")
      }`,
    );
  }
  const confLine = removal.kind === "absent"
    ? `No config directory at ${options.confDir}`
    : removal.kind === "removed"
    ? `Removed config directory ${options.confDir}`
    : `Emptied config directory ${options.confDir} (a mount point: the empty directory stays)`;
  log.info(confLine);
  if (removal.kind !== "absent") done.push(confLine);

  const installed = await removeInstalled(options.installDir).catch(failed);
  const binaryLine = installed
    ? `Removed ${options.installDir}/kcm`
    : `No kcm installed in ${options.installDir}`;
  log.info(binaryLine);
  if (installed) done.push(binaryLine);

  if (options.local) return 0;
  const node = nodeName(host.env, host.hostname);
  const client = await connectK8s(host.env, {
    log,
    clock: host.clock,
    connection: options.connection,
  }).catch(failed);
  try {
    const cleaned = await removeKcmFromNode(client, node, {
      clock: host.clock,
      log,
    }).catch((error) =>
      failed(explainApiError(`Cannot take kcm off node ${quote(node)}`, error, {
        404: "set NODE_NAME to this machine's Node name, or give --local",
      }))
    );
    const nodeLine = cleaned.labelOrTaint || cleaned.capacity
      ? `Node ${quote(node)}: removed kcm's ${
        [
          cleaned.capacity ? "capacity" : "",
          cleaned.labelOrTaint ? "label and taint" : "",
        ].filter((s) => s).join(", ")
      }`
      : `Node ${quote(node)}: no kcm capacity, label or taint left`;
    log.info(nodeLine);
    if (cleaned.labelOrTaint || cleaned.capacity) done.push(nodeLine);
    const reports = await deleteNodeReports(client, client.namespace, node)
      .catch((error) =>
        failed(
          explainApiError(`Cannot delete the reports of ${quote(node)}`, error),
        )
      );
    log.info(
      reports.length > 0
        ? `Deleted ${reports.join(" and ")} ${client.namespace}/${node}`
        : `No reports of node ${quote(node)} in namespace ${client.namespace}`,
    );
  } finally {
    client.close();
  }
  return 0;
}
