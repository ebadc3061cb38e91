/**
 * `kcm discover`: advertise this node's dataplane cpu lists to Kubernetes.
 *
 * Reads the number of cpu lists of the `dataplane` pool (under a shared
 * lock; a missing pool fails before any API call), then patches the Node:
 * status capacity `kcm.intel.com/dataplane-cores` = that number, label
 * `kcm.intel.com/kcm-node=true`, taint `kcm=true:NoSchedule` (other taints
 * kept, never duplicated). The node is `NODE_NAME`, else the host name.
 * API errors are fatal (exit 1). What it did goes to the log at INFO.
 */

import type { Invocation } from "../core/command.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { readPoolLists } from "../core/config_read.ts";
import { ConfigError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import { connectK8s } from "../core/k8s/client.ts";
import { explainApiError } from "../core/k8s/errors.ts";
import { nodeName } from "../core/k8s/node_name.ts";
import {
  advertiseDataplaneCores,
  DATAPLANE_RESOURCE,
  KCM_TAINT,
  labelAndTaintNode,
  NODE_LABEL,
} from "../core/k8s/nodes.ts";
import { quote } from "../core/quote.ts";

/** Options of `kcm discover`. */
export interface DiscoverOptions {
  readonly confDir: string;
}

/** Validates `discover`'s flags. */
export function parse(invocation: Invocation<"discover">): DiscoverOptions {
  return { confDir: invocation.options["conf-dir"] };
}

function fail(action: string, node: string, error: unknown): never {
  throw explainApiError(`Cannot ${action} node ${quote(node)}`, error, {
    404: "set NODE_NAME to this machine's Node name",
  });
}

/** Runs `kcm discover`. */
export async function run(
  options: DiscoverOptions,
  host: Host,
): Promise<number> {
  const pool = await withConfigLock(
    options.confDir,
    false,
    { timeoutMs: host.lockTimeoutMs },
    // Only the lists count: the exclusive flag is not read, need not exist.
    () => readPoolLists(options.confDir, "dataplane"),
  );
  if (pool === undefined) {
    throw new ConfigError(
      `Dataplane pool does not exist in config directory ${
        quote(options.confDir)
      }`,
      1,
      { hint: "run `kcm init` first" },
    );
  }
  const count = pool.cpuLists.length;
  if (count === 0) {
    host.log.warning(
      `Dataplane pool of ${
        quote(options.confDir)
      } has no cpu lists; advertising 0 ${DATAPLANE_RESOURCE}`,
    );
  }
  const node = nodeName(host.env, host.hostname);
  const client = await connectK8s(host.env, {
    log: host.log,
    clock: host.clock,
  });
  try {
    await advertiseDataplaneCores(client, node, count).catch((e) =>
      fail("advertise dataplane cores on", node, e)
    );
    host.log.info(
      `Node ${quote(node)}: capacity ${DATAPLANE_RESOURCE}=${count}`,
    );
    const done = await labelAndTaintNode(client, node, {
      clock: host.clock,
      log: host.log,
    }).catch((e) => fail("label and taint", node, e));
    const taint = `${KCM_TAINT.key}=${KCM_TAINT.value}:${KCM_TAINT.effect}`;
    host.log.info(
      `Node ${quote(node)}: label ${NODE_LABEL}=true${
        done.labelled ? "" : " (already set)"
      }, taint ${taint}${done.tainted ? "" : " (already set)"}`,
    );
  } finally {
    client.close();
  }
  return 0;
}
