/**
 * `kcm discover`: advertise this node's dataplane cpu lists to Kubernetes.
 *
 * Reads the number of cpu lists of the `dataplane` pool (under a shared
 * lock; a missing pool fails before any API call), then patches the Node:
 * status capacity `kcm.intel.com/dataplane-cores` = that number, label
 * `kcm.intel.com/kcm-node=true`, taint `kcm=true:NoSchedule` (other taints
 * kept, never duplicated); what is already in place is not patched again.
 * The node is `NODE_NAME`, else the host name. API errors are fatal (exit
 * 1). What it did goes to the log at INFO.
 *
 * With `--interval=<seconds>` it runs again every interval until SIGTERM,
 * so a Node that lost kcm's capacity, label or taint (re-registered, or
 * edited by hand) gets them back; errors are then logged and the loop
 * goes on.
 */

import type { Invocation } from "../core/command.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { readPoolLists } from "../core/config_read.ts";
import { ConfigError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import { connectK8s } from "../core/k8s/client.ts";
import { LOOP_RETRY, ONE_SHOT_RETRY } from "../core/k8s/request_policy.ts";
import {
  type ConnectionFlags,
  connectionFlags,
} from "../core/connection_flags.ts";
import { explainApiError } from "../core/k8s/errors.ts";
import { nodeName } from "../core/k8s/node_name.ts";
import {
  advertiseDataplaneCores,
  DATAPLANE_RESOURCE,
  KCM_TAINT,
  labelAndTaintNode,
  NODE_LABEL,
} from "../core/k8s/nodes.ts";
import { repeatEvery } from "../core/repeat.ts";
import { quote } from "../core/quote.ts";

/** Options of `kcm discover`. */
export interface DiscoverOptions {
  readonly confDir: string;
  /** Seconds between runs; 0 runs once. */
  readonly intervalSeconds: number;
  readonly connection: ConnectionFlags;
}

/** Validates `discover`'s flags. */
export function parse(invocation: Invocation<"discover">): DiscoverOptions {
  return {
    confDir: invocation.options["conf-dir"],
    intervalSeconds: invocation.options.interval,
    connection: connectionFlags(invocation.options),
  };
}

function fail(action: string, node: string, error: unknown): never {
  throw explainApiError(`Cannot ${action} node ${quote(node)}`, error, {
    404: "set NODE_NAME to this machine's Node name",
  });
}

/**
 * One discovery: read the pool, patch the Node where it differs; `signal`
 * (a loop's stop) ends a wait for the lock or an API request.
 */
async function discoverOnce(
  options: DiscoverOptions,
  host: Host,
  signal: AbortSignal | undefined,
): Promise<void> {
  const pool = await withConfigLock(
    options.confDir,
    false,
    { timeoutMs: host.lockTimeoutMs, ...(signal ? { signal } : {}) },
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
    retry: options.intervalSeconds > 0 ? LOOP_RETRY : ONE_SHOT_RETRY,
    connection: options.connection,
    ...(signal ? { signal } : {}),
  });
  try {
    const advertised = await advertiseDataplaneCores(client, node, count)
      .catch((e) => fail("advertise dataplane cores on", node, e));
    host.log.info(
      `Node ${quote(node)}: capacity ${DATAPLANE_RESOURCE}=${count}${
        advertised ? "" : " (already set)"
      }`,
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
}

/** Runs `kcm discover`. */
export function run(options: DiscoverOptions, host: Host): Promise<number> {
  return repeatEvery(
    options.intervalSeconds,
    host,
    "discover",
    (signal) => discoverOnce(options, host, signal),
  );
}
