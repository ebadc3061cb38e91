/**
 * `kcm cluster-uninstall`: take kcm off nodes of a cluster, then off the
 * cluster.
 *
 * 1. The nodes are chosen as cluster-init chooses them (`--host-list` or
 *    `--all-hosts`, NotReady, unreachable, cordoned and, for
 *    `--all-hosts`, control-plane nodes skipped).
 * 2. On each, a one-shot pod `kcm-uninstall-<node>` runs `kcm uninstall`
 *    as the node agent (`--force` passed on): config directory, installed
 *    binary, the Node's kcm capacity, label and taint, its reports. Nodes
 *    go on their own, as with cluster-init (one_shot_pods.ts). The pods use
 *    the DaemonSet's image, pull policy and config directory unless the
 *    flags say otherwise: that image is on the nodes.
 * 3. The label gone, the DaemonSet controller removes kcm's daemon pod
 *    from the node; once it has (bounded by `--timeout`), reports a last
 *    daemon round may have published are deleted too, and the setup and
 *    uninstall pods of the node.
 * 4. When no Node carries kcm's label any more (or with `--force`), the
 *    cluster objects go: the DaemonSet, the webhook configuration if
 *    present, the node agent's bindings and, with `--delete-crds`, kcm's
 *    CRDs (see cluster_objects.ts). Otherwise they stay, and the nodes
 *    still labelled are named.
 *
 * Rerunnable: every step finds what an earlier run left. Once the node
 * agent's bindings are gone, nodes without kcm's label, taint or capacity
 * need no pod; a node that still has them is an error asking to re-apply
 * resources/rbac.yaml. A table of the nodes' results goes to stdout; any
 * node not done makes the exit status 1.
 */

import { parseHosts, parseWorkloadFlags } from "../core/cluster_options.ts";
import type { Invocation } from "../core/command.ts";
import type { Host } from "../core/host.ts";
import type { Logger } from "../core/log.ts";
import { poll } from "../core/poll.ts";
import {
  type GivenSettings,
  readDaemonSetSettings,
} from "../core/k8s/apply_daemon_set.ts";
import type { K8sClient } from "../core/k8s/client.ts";
import { runOnCluster } from "../core/k8s/cluster_run.ts";
import {
  type ClusterObject,
  daemonSetObject,
  nodeAgentBindings,
  reportCrdObjects,
  webhookObjects,
  webhookWorkloadObjects,
} from "../core/k8s/cluster_objects.ts";
import {
  type ConnectionFlags,
  connectionFlags,
} from "../core/connection_flags.ts";
import { isStatus } from "../core/k8s/errors.ts";
import {
  deleteNodeReports,
  planNodeCleanup,
} from "../core/k8s/node_cleanup.ts";
import { resultRow } from "../core/k8s/node_table.ts";
import { NODE_LABEL, type NodeObject } from "../core/k8s/nodes.ts";
import { runOneShotPods } from "../core/k8s/one_shot_pods.ts";
import type { PodObject } from "../core/k8s/pod_state.ts";
import {
  setupPodName,
  uninstallPod,
  uninstallPodName,
  type WorkloadSettings,
} from "../core/k8s/workloads.ts";

/** Options of `kcm cluster-uninstall`. */
export interface ClusterUninstallOptions {
  readonly hosts: readonly string[] | "all";
  readonly settings: WorkloadSettings;
  /** Which settings were given on the command line (not defaulted). */
  readonly given: GivenSettings;
  readonly timeoutSeconds: number;
  readonly namespace: string | undefined;
  readonly force: boolean;
  readonly deleteCrds: boolean;
  readonly connection: ConnectionFlags;
}

/** Validates `cluster-uninstall`'s flags. */
export function parse(
  invocation: Invocation<"cluster-uninstall">,
): ClusterUninstallOptions {
  const hosts = parseHosts(invocation, uninstallPodName);
  const { settings, given, namespace } = parseWorkloadFlags(invocation);
  return {
    hosts,
    settings: { ...settings, numDpCores: 0, numCpCores: 0 },
    given,
    timeoutSeconds: invocation.options.timeout,
    namespace,
    force: invocation.options.force,
    deleteCrds: invocation.options["delete-crds"],
    connection: connectionFlags(invocation.options),
  };
}

/**
 * The uninstall pods' settings: the flags where given, else what the
 * DaemonSet runs (its image is the one on the nodes), else the defaults.
 */
async function podSettings(
  client: K8sClient,
  namespace: string,
  options: ClusterUninstallOptions,
): Promise<WorkloadSettings> {
  let current: unknown;
  try {
    current = await client.request("GET", daemonSetObject(namespace).path);
  } catch (error) {
    if (isStatus(error, 404)) return options.settings;
    throw error;
  }
  const found = readDaemonSetSettings(current);
  const { given, settings } = options;
  return {
    ...settings,
    image: given.image ? settings.image : found?.image ?? settings.image,
    pullPolicy: given.pullPolicy
      ? settings.pullPolicy
      : found?.pullPolicy ?? settings.pullPolicy,
    confDir: given.confDir ? settings.confDir : found?.confDir ??
      settings.confDir,
  };
}

/** Deletes `object`; resolves to false when it was not there. */
async function deleteObject(
  client: K8sClient,
  object: ClusterObject,
  log: Logger,
): Promise<boolean> {
  try {
    await client.request("DELETE", object.path);
    log.info(`Deleted ${object.description}`);
    return true;
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
    log.info(`${object.description} was already gone`);
    return false;
  }
}

/**
 * Deletes what runs the webhook (cluster-init --webhook made it). Without
 * the optional rights of resources/rbac-webhook.yaml the installer cannot
 * even tell whether those objects exist: it says so in one line and goes
 * on, as an operator who deployed the webhook by hand removes it by hand.
 */
async function deleteWebhookWorkload(
  client: K8sClient,
  namespace: string,
  log: Logger,
): Promise<void> {
  const refused: string[] = [];
  for (const object of webhookWorkloadObjects(namespace)) {
    try {
      await deleteObject(client, object, log);
    } catch (error) {
      if (!isStatus(error, 403)) throw error;
      refused.push(object.description);
    }
  }
  if (refused.length > 0) {
    log.info(
      `Not deleted (the installer has no rights to them, see resources/rbac-webhook.yaml): ${
        refused.join(", ")
      }; if the webhook was deployed, delete them by hand`,
    );
  }
}

/** Whether the node agent's ClusterRoleBinding still exists. */
async function nodeAgentBound(
  client: K8sClient,
  namespace: string,
): Promise<boolean> {
  try {
    await client.request("GET", nodeAgentBindings(namespace)[0]!.path);
    return true;
  } catch (error) {
    if (isStatus(error, 404)) return false;
    throw error;
  }
}

/** The names of the Nodes that still carry kcm's label. */
async function labelledNodes(client: K8sClient): Promise<string[]> {
  const list = await client.request<{ items: NodeObject[] }>(
    "GET",
    "/api/v1/nodes",
    { query: { labelSelector: NODE_LABEL } },
  );
  return list.items.map((n) => n.metadata.name);
}

/**
 * Waits (until `deadline`) for the daemon pods on `nodes` to go, then
 * deletes the nodes' reports and their setup and uninstall pods.
 */
async function sweepNodes(
  client: K8sClient,
  nodes: readonly string[],
  namespace: string,
  deadline: number,
  host: Host,
): Promise<void> {
  if (nodes.length === 0) return;
  const { clock, log } = host;
  const podsPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  const gone = await poll(async () => {
    const pods = await client.request<{ items: PodObject[] }>(
      "GET",
      podsPath,
      {
        query: {
          labelSelector:
            "app.kubernetes.io/name=kcm,app.kubernetes.io/component=daemons",
        },
      },
    );
    const left = pods.items.filter((p) =>
      nodes.includes(p.spec?.nodeName ?? "")
    );
    return left.length === 0 ? true : undefined;
  }, {
    clock,
    backoff: { initialMs: 500, factor: 1.5, maxMs: 3000, jitter: 0 },
    deadline,
  });
  if (!gone.done) {
    log.warning(
      "kcm's daemon pods are still on some uninstalled nodes; a last report of theirs may stay",
    );
  }
  let reports = 0;
  for (const node of nodes) {
    reports += (await deleteNodeReports(client, namespace, node)).length;
    for (const pod of [setupPodName(node), uninstallPodName(node)]) {
      try {
        await client.request("DELETE", `${podsPath}/${pod}`);
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    }
  }
  if (reports > 0) {
    log.info(`Deleted ${reports} report(s) published after the uninstall`);
  }
}

/** Runs `kcm cluster-uninstall`. */
export function run(
  options: ClusterUninstallOptions,
  host: Host,
): Promise<number> {
  const { clock, log } = host;
  return runOnCluster(
    // With --all-hosts and no node to uninstall, the cluster objects still
    // go (once no node carries kcm's label).
    { ...options, command: "cluster-uninstall", allowNoNode: true },
    host,
    async ({ client, namespace, selected, deadline }, rows) => {
      let todo = [...selected];
      if (!await nodeAgentBound(client, namespace)) {
        // An earlier run removed the cluster objects: only nodes that
        // still carry kcm's marks need work, and the node agent cannot do
        // it now.
        const nodes = await client.request<{ items: NodeObject[] }>(
          "GET",
          "/api/v1/nodes",
        );
        const marked = new Set(
          nodes.items.filter((n) => {
            const plan = planNodeCleanup(n);
            return plan.node.length > 0 || plan.status.length > 0;
          }).map((n) => n.metadata.name),
        );
        for (const node of todo) {
          rows.push(
            marked.has(node)
              ? {
                node,
                result: "failed",
                detail:
                  "kcm's node agent binding is gone: kubectl apply -f resources/rbac.yaml, then run again",
              }
              : { node, result: "ok", detail: "nothing left to remove" },
          );
        }
        todo = [];
      }
      if (todo.length > 0) {
        const settings = await podSettings(client, namespace, options);
        const results = await runOneShotPods(client, todo, {
          namespace,
          component: "uninstall",
          podName: uninstallPodName,
          pod: (node) => uninstallPod(node, settings, options.force),
          doing: `running uninstall${
            options.force ? " --force" : ""
          } (image ${settings.image}, ${settings.pullPolicy})`,
          deadline,
          clock,
          log,
        });
        rows.push(...results.map(resultRow));
        const done = results.filter((r) => r.outcome === "succeeded")
          .map((r) => r.node);
        await sweepNodes(client, done, namespace, deadline, host);
      }
      const still = await labelledNodes(client);
      if (still.length > 0 && !options.force) {
        log.warning(
          `Kept the DaemonSet, webhook, node agent bindings and CRDs: ${still.length} node(s) still carry kcm's label (${
            still.join(", ")
          }); uninstall them too, or give --force`,
        );
        return;
      }
      for (
        const object of [
          daemonSetObject(namespace),
          ...webhookObjects(namespace),
        ]
      ) {
        await deleteObject(client, object, log);
      }
      await deleteWebhookWorkload(client, namespace, log);
      const rest = [
        ...nodeAgentBindings(namespace),
        ...(options.deleteCrds ? reportCrdObjects() : []),
      ];
      for (const object of rest) await deleteObject(client, object, log);
    },
  );
}
