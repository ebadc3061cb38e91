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
import {
  connectK8s,
  isStatus,
  type K8sClient,
  retryOnConflict,
} from "../core/k8s/client.ts";
import { explainApiError } from "../core/k8s/errors.ts";
import { isDns1123Subdomain } from "../core/k8s/node_name.ts";
import type { NodeObject } from "../core/k8s/nodes.ts";
import {
  type ClusterCommand,
  DAEMON_COMMANDS,
  daemonSet,
  DAEMONSET_NAME,
  daemonSetNodes,
  ONE_SHOT_COMMANDS,
  SETUP_SELECTOR,
  setupPod,
  setupPodName,
  type WorkloadSettings,
} from "../core/k8s/workloads.ts";
import { pause } from "../core/repeat.ts";

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
        throw new UsageError(`--host-list has an empty entry: "${hostList}"`);
      }
      if (!isDns1123Subdomain(host)) {
        throw new UsageError(
          `--host-list: "${host}" is not a valid node name (lowercase letters, digits, "-" and ".")`,
        );
      }
      if (setupPodName(host).length > 253) {
        throw new UsageError(`--host-list: node name "${host}" is too long`);
      }
    }
    const twice = hosts.find((h, i) => hosts.indexOf(h) !== i);
    if (twice !== undefined) {
      throw new UsageError(`--host-list names "${twice}" twice`);
    }
  }

  const commands = splitList(invocation.options["kcm-cmd-list"]);
  for (const command of commands) {
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new UsageError(
        `KCM command should be one of ['init', 'discover', 'install', 'reconcile', 'nodereport'], got "${command}"`,
      );
    }
  }
  if (commands.includes("init") && commands[0] !== "init") {
    throw new UsageError("init command should be run and listed first.");
  }
  const repeated = commands.find((c, i) => commands.indexOf(c) !== i);
  if (repeated !== undefined) {
    throw new UsageError(`--kcm-cmd-list names "${repeated}" twice`);
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
        `--${name} must be an absolute host path, got "${path}"`,
      );
    }
  }
  if (
    namespace !== undefined &&
    !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)
  ) {
    throw new UsageError(
      `--namespace: "${namespace}" is not a valid namespace`,
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

// ---------------------------------------------------------------------------
// Pod status

interface ContainerState {
  running?: unknown;
  waiting?: { reason?: string };
  terminated?: { exitCode: number; reason?: string; message?: string };
}

interface ContainerStatus {
  name: string;
  state?: ContainerState;
}

interface PodObject {
  metadata: { name: string; uid?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

/** One line describing where a setup pod is. */
function podState(pod: PodObject): string {
  const status = pod.status ?? {};
  const phase = status.phase ?? "Pending";
  if (phase === "Succeeded" || phase === "Failed") return phase;
  const all = [
    ...(status.initContainerStatuses ?? []),
    ...(status.containerStatuses ?? []),
  ];
  const running = all.find((c) => c.state?.running !== undefined);
  if (running) return `Running ${running.name}`;
  const waiting = all.find((c) => c.state?.waiting?.reason)?.state?.waiting
    ?.reason;
  return waiting ? `${phase} (${waiting})` : phase;
}

interface Failure {
  container: string | undefined;
  reason: string;
}

function failureOf(pod: PodObject): Failure {
  const status = pod.status ?? {};
  for (
    const c of [
      ...(status.initContainerStatuses ?? []),
      ...(status.containerStatuses ?? []),
    ]
  ) {
    const t = c.state?.terminated;
    if (t && t.exitCode !== 0) {
      return {
        container: c.name,
        reason: `${t.reason ?? "Error"} (exit code ${t.exitCode})`,
      };
    }
  }
  return {
    container: undefined,
    reason: [status.reason, status.message].filter(Boolean).join(": ") ||
      "pod failed",
  };
}

function currentContainer(pod: PodObject): string | undefined {
  const all = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  return all.find((c) => c.state?.running !== undefined)?.name;
}

function terminationMessage(
  pod: PodObject,
  container: string,
): string | undefined {
  const all = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  return all.find((c) => c.name === container)?.state?.terminated?.message;
}

// ---------------------------------------------------------------------------
// API steps

async function listNodes(client: K8sClient, host: Host): Promise<string[]> {
  const list = await client.request<{ items: NodeObject[] }>(
    "GET",
    "/api/v1/nodes",
  );
  const names: string[] = [];
  for (const node of list.items) {
    if (node.spec?.unschedulable) {
      host.log.info(`Skipping unschedulable node "${node.metadata.name}"`);
    } else {
      names.push(node.metadata.name);
    }
  }
  return names;
}

async function checkNodes(client: K8sClient, nodes: readonly string[]) {
  for (const node of nodes) {
    try {
      await client.request("GET", `/api/v1/nodes/${node}`);
    } catch (error) {
      if (isStatus(error, 404)) {
        throw new KcmError(`Node "${node}" does not exist`, 1, {
          hint: "check --host-list against `kubectl get nodes`",
        });
      }
      throw error;
    }
  }
}

/** Deletes the setup pods of an earlier run and waits until they are gone. */
async function deleteOldPods(
  client: K8sClient,
  podsPath: string,
  names: readonly string[],
  deadline: number,
  host: Host,
): Promise<void> {
  const pending = new Set<string>();
  for (const name of names) {
    try {
      await client.request("DELETE", `${podsPath}/${name}`);
      host.log.info(`Deleting pod ${name} of an earlier run`);
      pending.add(name);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
  let delay = 200;
  while (pending.size > 0) {
    for (const name of [...pending]) {
      try {
        await client.request("GET", `${podsPath}/${name}`);
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
        pending.delete(name);
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      throw new KcmError(
        `Pods of an earlier run are still being deleted: ${
          [...pending].join(", ")
        }`,
      );
    }
    await pause(delay);
    delay = Math.min(delay * 2, 2000);
  }
}

async function logTail(
  client: K8sClient,
  podsPath: string,
  pod: PodObject,
  container: string,
): Promise<string[]> {
  try {
    const text = await client.requestText(
      "GET",
      `${podsPath}/${pod.metadata.name}/log`,
      { query: { container, tailLines: 20 } },
    );
    return text.trimEnd().split("\n");
  } catch (error) {
    const fallback = terminationMessage(pod, container);
    if (fallback) return fallback.trimEnd().split("\n").slice(-20);
    return [
      `(no log: ${error instanceof Error ? error.message : String(error)})`,
    ];
  }
}

async function reportProblem(
  client: K8sClient,
  podsPath: string,
  node: string,
  pod: PodObject,
  timedOut: string | undefined,
  host: Host,
): Promise<void> {
  let container: string | undefined;
  if (timedOut !== undefined) {
    container = currentContainer(pod);
    host.log.error(
      `Node "${node}": pod ${pod.metadata.name} still ${timedOut}${
        container ? ` in container "${container}"` : ""
      } at the timeout`,
    );
  } else {
    const failure = failureOf(pod);
    container = failure.container;
    host.log.error(
      `Node "${node}": pod ${pod.metadata.name} failed${
        container ? ` in container "${container}"` : ""
      }: ${failure.reason}`,
    );
  }
  if (container === undefined) return;
  host.log.error(
    `Node "${node}": last lines of the log of ${pod.metadata.name}/${container}:`,
  );
  for (const line of await logTail(client, podsPath, pod, container)) {
    host.log.error(`  | ${line}`);
  }
}

/** Runs the setup pods; resolves to the nodes whose pod succeeded. */
async function runSetupPods(
  client: K8sClient,
  namespace: string,
  nodes: readonly string[],
  commands: readonly typeof ONE_SHOT_COMMANDS[number][],
  options: ClusterInitOptions,
  deadline: number,
  host: Host,
): Promise<{ succeeded: string[]; failed: string[] }> {
  const podsPath = `/api/v1/namespaces/${namespace}/pods`;
  const byPod = new Map(nodes.map((n) => [setupPodName(n), n]));
  await deleteOldPods(client, podsPath, [...byPod.keys()], deadline, host);
  host.log.info(
    `Creating setup pods running ${
      commands.join(", ")
    } in namespace ${namespace}`,
  );
  for (const node of nodes) {
    await client.request("POST", podsPath, {
      body: setupPod(node, commands, options.settings),
    });
  }
  const states = new Map<string, string>();
  const finished = new Map<string, PodObject>();
  let delay = 500;
  while (finished.size < nodes.length) {
    const list = await client.request<{ items: PodObject[] }>(
      "GET",
      podsPath,
      { query: { labelSelector: SETUP_SELECTOR } },
    );
    const seen = new Map<string, PodObject>();
    for (const pod of list.items) {
      const node = byPod.get(pod.metadata.name);
      if (node === undefined || finished.has(node)) continue;
      seen.set(node, pod);
      const state = podState(pod);
      if (states.get(node) !== state) {
        states.set(node, state);
        host.log.info(`Node "${node}": pod ${pod.metadata.name} ${state}`);
      }
      if (state === "Succeeded" || state === "Failed") {
        finished.set(node, pod);
        if (state === "Failed") {
          await reportProblem(client, podsPath, node, pod, undefined, host);
        }
      }
    }
    if (finished.size === nodes.length) break;
    if (Date.now() >= deadline) {
      for (const node of nodes) {
        if (finished.has(node)) continue;
        const pod = seen.get(node) ??
          { metadata: { name: setupPodName(node) } };
        await reportProblem(
          client,
          podsPath,
          node,
          pod,
          states.get(node) ?? "missing",
          host,
        );
      }
      break;
    }
    await pause(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 1.5, 5000);
  }
  const succeeded = nodes.filter((n) =>
    finished.get(n)?.status?.phase === "Succeeded"
  );
  return {
    succeeded,
    failed: nodes.filter((n) => !succeeded.includes(n)),
  };
}

/** Creates the DaemonSet, or updates it to also cover `nodes`. */
async function applyDaemonSet(
  client: K8sClient,
  namespace: string,
  nodes: readonly string[],
  commands: readonly typeof DAEMON_COMMANDS[number][],
  options: ClusterInitOptions,
  host: Host,
): Promise<void> {
  const path = `/apis/apps/v1/namespaces/${namespace}/daemonsets`;
  await retryOnConflict(async () => {
    let current: { metadata: { resourceVersion: string } } | undefined;
    try {
      current = await client.request("GET", `${path}/${DAEMONSET_NAME}`);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    const covered = [...new Set([...daemonSetNodes(current), ...nodes])];
    const object = daemonSet(covered, commands, options.settings);
    if (current === undefined) {
      await client.request("POST", path, { body: object });
    } else {
      await client.request("PUT", `${path}/${DAEMONSET_NAME}`, {
        body: {
          ...object,
          metadata: {
            ...(object.metadata as Record<string, unknown>),
            resourceVersion: current.metadata.resourceVersion,
          },
        },
      });
    }
    host.log.info(
      `DaemonSet ${namespace}/${DAEMONSET_NAME} ${
        current ? "updated" : "created"
      }: ${commands.join(", ")} on ${covered.join(", ")}`,
    );
  }, { log: host.log });
}

/** Runs `kcm cluster-init`. */
export async function run(
  options: ClusterInitOptions,
  host: Host,
): Promise<number> {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const client = await connectK8s(host.env, { log: host.log });
  try {
    const namespace = options.namespace ?? client.namespace;
    let nodes: string[];
    if (options.hosts === "all") {
      nodes = await listNodes(client, host);
      const bad = nodes.find((n) => setupPodName(n).length > 253);
      if (bad !== undefined) {
        throw new KcmError(`Node name "${bad}" is too long for a pod name`);
      }
    } else {
      nodes = [...options.hosts];
      await checkNodes(client, nodes);
    }
    if (nodes.length === 0) throw new KcmError("No schedulable nodes found");
    host.log.info(
      `cluster-init: nodes ${nodes.join(", ")}; commands ${
        options.commands.join(", ")
      }; namespace ${namespace}`,
    );
    const oneShot = options.commands.filter((
      c,
    ): c is typeof ONE_SHOT_COMMANDS[number] =>
      (ONE_SHOT_COMMANDS as readonly string[]).includes(c)
    );
    const daemons = options.commands.filter((
      c,
    ): c is typeof DAEMON_COMMANDS[number] =>
      (DAEMON_COMMANDS as readonly string[]).includes(c)
    );
    let succeeded = nodes;
    let failed: string[] = [];
    if (oneShot.length > 0) {
      ({ succeeded, failed } = await runSetupPods(
        client,
        namespace,
        nodes,
        oneShot,
        options,
        deadline,
        host,
      ));
    }
    if (daemons.length > 0 && succeeded.length > 0) {
      await applyDaemonSet(
        client,
        namespace,
        succeeded,
        daemons,
        options,
        host,
      );
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
    host.log.info(`cluster-init done on ${nodes.length} nodes`);
    return 0;
  } catch (error) {
    throw explainApiError("cluster-init", error);
  } finally {
    client.close();
  }
}
