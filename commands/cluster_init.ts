/**
 * `kcm cluster-init`: prepare nodes of a cluster for kcm.
 *
 * Every flag is checked before any API call. The nodes are `--host-list`
 * (each must exist) or, with `--all-hosts`, every schedulable Node. For
 * each node a one-shot setup pod runs the chosen commands among init,
 * install and discover in list order (see core/k8s/workloads.ts); a setup
 * pod of an earlier run is deleted first. When every setup pod has ended,
 * reconcile and node-report go into the `kcm-daemons` DaemonSet, created or
 * updated to cover the nodes that succeeded (nodes already in it stay).
 *
 * Progress goes to the log at INFO, one line per node state change; a
 * failure or the `--timeout` ends with ERROR lines naming node, pod,
 * container, reason and the last lines of the container's log, and exit 1.
 * Objects go to `--namespace`, default the namespace kcm runs in.
 */

import type { Invocation } from "../core/command.ts";
import { KcmError, UsageError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import { applyDaemonSet } from "../core/k8s/apply_daemon_set.ts";
import { connectK8s } from "../core/k8s/client.ts";
import { explainApiError } from "../core/k8s/errors.ts";
import { isDns1123Subdomain } from "../core/k8s/node_name.ts";
import { selectNodes } from "../core/k8s/node_selection.ts";
import { runSetupPods } from "../core/k8s/setup_pods.ts";
import {
  type ClusterCommand,
  DAEMON_COMMANDS,
  type DaemonCommand,
  ONE_SHOT_COMMANDS,
  type OneShotCommand,
  setupPodName,
  type WorkloadSettings,
} from "../core/k8s/workloads.ts";
import { quote } from "../core/quote.ts";

const COMMANDS: readonly ClusterCommand[] = [
  "init",
  "discover",
  "install",
  "reconcile",
  "nodereport",
];
const PULL_POLICIES = ["Never", "IfNotPresent", "Always"];

/** Options of `kcm cluster-init`. */
export interface ClusterInitOptions {
  /** Node names, or "all" for `--all-hosts`. */
  readonly hosts: readonly string[] | "all";
  readonly commands: readonly ClusterCommand[];
  readonly settings: WorkloadSettings;
  readonly timeoutSeconds: number;
  /** `--namespace`, else undefined (the namespace kcm runs in). */
  readonly namespace: string | undefined;
}

function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim());
}

/**
 * Validates `cluster-init`'s flags: the original tool's rules for the
 * command list and the pull policy, plus node names and paths a pod spec
 * can use.
 */
export function parse(
  invocation: Invocation<"cluster-init">,
): ClusterInitOptions {
  const {
    "host-list": hostList,
    "all-hosts": allHosts,
    "kcm-img": image,
    "kcm-img-pol": pullPolicy,
    "conf-dir": confDir,
    "install-dir": installDir,
    "num-dp-cores": numDpCores,
    "num-cp-cores": numCpCores,
    timeout: timeoutSeconds,
    namespace,
  } = invocation.options;
  if (allHosts && hostList !== undefined) {
    throw new UsageError("Give either --host-list or --all-hosts, not both");
  }
  if (!allHosts && hostList === undefined) {
    throw new UsageError("cluster-init needs --host-list or --all-hosts");
  }
  let hosts: string[] | "all" = "all";
  if (hostList !== undefined) {
    hosts = splitList(hostList);
    for (const host of hosts) {
      if (host === "") {
        throw new UsageError(
          `--host-list has an empty entry: ${quote(hostList)}`,
        );
      }
      if (!isDns1123Subdomain(host)) {
        throw new UsageError(
          `--host-list: ${
            quote(host)
          } is not a valid node name (lowercase letters, digits, "-" and ".")`,
        );
      }
      if (setupPodName(host).length > 253) {
        throw new UsageError(
          `--host-list: node name ${quote(host)} is too long`,
        );
      }
    }
    const twice = hosts.find((h, i) => hosts.indexOf(h) !== i);
    if (twice !== undefined) {
      throw new UsageError(`--host-list names ${quote(twice)} twice`);
    }
  }

  const commands = splitList(invocation.options["kcm-cmd-list"]);
  for (const command of commands) {
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new UsageError(
        `KCM command should be one of ['init', 'discover', 'install', 'reconcile', 'nodereport'], got ${
          quote(command)
        }`,
      );
    }
  }
  if (commands.includes("init") && commands[0] !== "init") {
    throw new UsageError("init command should be run and listed first.");
  }
  const repeated = commands.find((c, i) => commands.indexOf(c) !== i);
  if (repeated !== undefined) {
    throw new UsageError(`--kcm-cmd-list names ${quote(repeated)} twice`);
  }

  if (!PULL_POLICIES.includes(pullPolicy)) {
    throw new UsageError(
      "Image pull policy should be one of ['Never', 'IfNotPresent', 'Always']",
    );
  }
  if (image === "") throw new UsageError("--kcm-img must not be empty");
  for (
    const [name, path] of [
      ["conf-dir", confDir],
      ["install-dir", installDir],
    ] as const
  ) {
    if (!path.startsWith("/")) {
      throw new UsageError(
        `--${name} must be an absolute host path, got ${quote(path)}`,
      );
    }
  }
  if (
    namespace !== undefined &&
    !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)
  ) {
    throw new UsageError(
      `--namespace: ${quote(namespace)} is not a valid namespace`,
    );
  }
  return {
    hosts,
    commands: commands as ClusterCommand[],
    settings: {
      image,
      pullPolicy,
      confDir,
      installDir,
      numDpCores,
      numCpCores,
    },
    timeoutSeconds,
    namespace,
  };
}

/** Runs `kcm cluster-init`. */
export async function run(
  options: ClusterInitOptions,
  host: Host,
): Promise<number> {
  const { clock, log } = host;
  const deadline = clock.now() + options.timeoutSeconds * 1000;
  const client = await connectK8s(host.env, { log, clock });
  try {
    const namespace = options.namespace ?? client.namespace;
    const nodes = await selectNodes(client, options.hosts, log);
    log.info(
      `cluster-init: nodes ${nodes.join(", ")}; commands ${
        options.commands.join(", ")
      }; namespace ${namespace}`,
    );
    const oneShot = options.commands.filter((c): c is OneShotCommand =>
      (ONE_SHOT_COMMANDS as readonly string[]).includes(c)
    );
    const daemons = options.commands.filter((c): c is DaemonCommand =>
      (DAEMON_COMMANDS as readonly string[]).includes(c)
    );
    let succeeded = nodes;
    let failed: string[] = [];
    if (oneShot.length > 0) {
      ({ succeeded, failed } = await runSetupPods(client, nodes, {
        namespace,
        commands: oneShot,
        settings: options.settings,
        deadline,
        clock,
        log,
      }));
    }
    if (daemons.length > 0 && succeeded.length > 0) {
      await applyDaemonSet(client, succeeded, {
        namespace,
        commands: daemons,
        settings: options.settings,
        clock,
        log,
      });
    }
    if (failed.length > 0) {
      throw new KcmError(
        `cluster-init failed on ${failed.length} of ${nodes.length} nodes: ${
          failed.join(", ")
        }`,
        1,
        { hint: "see the ERROR lines above for the pod, container and log" },
      );
    }
    log.info(`cluster-init done on ${nodes.length} nodes`);
    return 0;
  } catch (error) {
    throw explainApiError("cluster-init", error);
  } finally {
    client.close();
  }
}
