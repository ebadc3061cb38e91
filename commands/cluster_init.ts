/**
 * `kcm cluster-init`: prepare nodes of a cluster for kcm.
 *
 * Every flag is checked before any API call. The nodes are `--host-list`
 * (each must exist) or, with `--all-hosts`, every Node; nodes that are
 * NotReady, unreachable or cordoned are skipped with a message, and
 * `--all-hosts` also skips control-plane nodes (see node_selection.ts).
 * For each node a one-shot setup pod runs the chosen commands among init,
 * install and discover in list order (see workloads.ts); each node goes on
 * its own, so one stuck node never holds up the others (one_shot_pods.ts).
 * Then reconcile and node-report (and a periodic discover, when discover
 * is in the list) go into the `kcm-daemons` DaemonSet, which runs on every
 * node discover labelled: created, or converged by server-side apply
 * towards what this run's flags say, with each change logged
 * (apply_daemon_set.ts). With `--webhook`, the admission webhook goes into
 * the same namespace with a CA and serving certificate of its own, kept
 * across reruns while they are good (apply_webhook.ts); its Deployment
 * takes this run's image, pull policy and directories.
 *
 * Progress goes to the log at INFO. At the end a table on stdout gives
 * every node's result (ok, failed, timed out, skipped); any node that is
 * not ok makes the exit status 1. Objects go to `--namespace`, default the
 * namespace kcm runs in.
 */

import type { Invocation } from "../core/command.ts";
import { parseHosts, parseWorkloadFlags } from "../core/cluster_options.ts";
import { UsageError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import {
  applyDaemonSet,
  type GivenSettings,
} from "../core/k8s/apply_daemon_set.ts";
import { applyWebhook } from "../core/k8s/apply_webhook.ts";
import { runOnCluster } from "../core/k8s/cluster_run.ts";
import {
  type ConnectionFlags,
  connectionFlags,
} from "../core/connection_flags.ts";
import { resultRow } from "../core/k8s/node_table.ts";
import { runOneShotPods } from "../core/k8s/one_shot_pods.ts";
import {
  type ClusterCommand,
  DAEMON_COMMANDS,
  type DaemonCommand,
  type DaemonContainer,
  daemonContainerOf,
  ONE_SHOT_COMMANDS,
  type OneShotCommand,
  setupPod,
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

/** Options of `kcm cluster-init`. */
export interface ClusterInitOptions {
  /** Node names, or "all" for `--all-hosts`. */
  readonly hosts: readonly string[] | "all";
  readonly commands: readonly ClusterCommand[];
  readonly settings: WorkloadSettings;
  /** Which settings were given on the command line (not defaulted). */
  readonly given: GivenSettings;
  readonly timeoutSeconds: number;
  /** `--webhook`: also deploy the admission webhook. */
  readonly webhook: boolean;
  /** `--namespace`, else undefined (the namespace kcm runs in). */
  readonly namespace: string | undefined;
  readonly connection: ConnectionFlags;
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
  const hosts = parseHosts(invocation, setupPodName);
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
  const { settings, given, namespace } = parseWorkloadFlags(invocation);
  const { options } = invocation;
  return {
    hosts,
    commands: commands as ClusterCommand[],
    settings: {
      ...settings,
      numDpCores: options["num-dp-cores"],
      numCpCores: options["num-cp-cores"],
    },
    given,
    timeoutSeconds: options.timeout,
    webhook: options.webhook,
    namespace,
    connection: connectionFlags(invocation.options),
  };
}

/** The daemon containers `commands` ask for. */
function daemonContainers(
  commands: readonly ClusterCommand[],
): DaemonContainer[] {
  const containers: DaemonContainer[] = commands
    .filter((c): c is DaemonCommand =>
      (DAEMON_COMMANDS as readonly string[]).includes(c)
    )
    .map(daemonContainerOf);
  // A DaemonSet that runs daemons also rediscovers, when discover is asked
  // for: a re-registered Node gets kcm's capacity, label and taint back.
  if (containers.length > 0 && commands.includes("discover")) {
    containers.push("discover");
  }
  return containers;
}

/** Runs `kcm cluster-init`. */
export function run(options: ClusterInitOptions, host: Host): Promise<number> {
  const { clock, log } = host;
  return runOnCluster(
    { ...options, command: "cluster-init" },
    host,
    async ({ client, namespace, selected, deadline }, rows) => {
      log.info(
        `cluster-init: ${selected.length} node${
          selected.length === 1 ? "" : "s"
        }; commands ${options.commands.join(", ")}; namespace ${namespace}`,
      );
      const oneShot = options.commands.filter((c): c is OneShotCommand =>
        (ONE_SHOT_COMMANDS as readonly string[]).includes(c)
      );
      let succeeded = selected.length;
      if (oneShot.length > 0) {
        const results = await runOneShotPods(client, selected, {
          namespace,
          component: "setup",
          podName: setupPodName,
          pod: (node) => setupPod(node, oneShot, options.settings),
          doing: `running ${oneShot.join(", ")}`,
          deadline,
          clock,
          log,
        });
        rows.push(...results.map(resultRow));
        succeeded = results.filter((r) => r.outcome === "succeeded").length;
      } else {
        rows.push(
          ...selected.map((node) => ({ node, result: "ok", detail: "" })),
        );
      }
      const containers = daemonContainers(options.commands);
      if (containers.length > 0 && succeeded > 0) {
        await applyDaemonSet(client, {
          namespace,
          containers,
          settings: options.settings,
          given: options.given,
          log,
        });
      }
      if (options.webhook) {
        const { image, pullPolicy, confDir, installDir } = options.settings;
        await applyWebhook(client, {
          settings: { namespace, image, pullPolicy, confDir, installDir },
          given: options.given,
          now: host.now(),
          log,
        });
      }
    },
  );
}
