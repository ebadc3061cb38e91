/**
 * The Kubernetes objects kcm puts on nodes, built as plain data: one-shot
 * Pods (cluster-init's setup pod, cluster-uninstall's uninstall pod) and
 * the `kcm-daemons` DaemonSet of long-running commands. Pure.
 *
 * One-shot pod `kcm-<job>-<node>`: `nodeName` set (no scheduler involved),
 * `restartPolicy: Never`, the commands in list order, all but the last as
 * init containers and the last as the container. The kubelet runs init
 * containers strictly one after another and stops at the first failure,
 * and the pod status then names the container that failed, which is
 * exactly "run in order, stop and say where it broke".
 *
 * DaemonSet `kcm-daemons`: one container per long-running command
 * (`reconcile` and `node-report` every 60 s with `--publish`, `discover`
 * every 300 s so a Node that lost kcm's capacity, label or taint gets them
 * back), on every node labelled `kcm.intel.com/kcm-node=true` (the label
 * discover sets), so adding a node never rewrites the pods of the others.
 *
 * Every pod runs as the node agent ServiceAccount (resources/rbac.yaml),
 * tolerates the `kcm` taint, mounts the host's /proc and /sys read-only at
 * /host/proc and /host/sys (`KCM_PROC_FS`, `KCM_SYS_FS`) and the config
 * directory at /etc/kcm, gets `NODE_NAME` from the downward API, and uses
 * the kcm binary of the image, `/usr/local/bin/kcm`. Each container:
 * - drops every capability and may not gain privileges, runs with the
 *   runtime's default seccomp profile and a read-only root file system (a
 *   small in-memory /tmp beside it). It runs as the image's root user
 *   without any capability: root owns the host directories it writes, and
 *   reading other processes' `/proc/<pid>/status` needs no privilege;
 * - requests 10m CPU and 96 MiB of memory, limited to 256 MiB (no CPU
 *   limit: the commands are short bursts, and CFS throttling would only
 *   stretch them);
 * - keeps its log tail as termination message (`FallbackToLogsOnError`).
 * Pods get priority class `system-node-critical` (daemons: evicting them
 * leaves claims unreclaimed and reports stale) or `system-cluster-critical`
 * (one-shot pods, which must not be refused for room on a full node).
 */

import type { JsonValue } from "../json.ts";
import { NODE_LABEL } from "./node_marks.ts";

/** Where the image keeps kcm. */
export const KCM_BINARY = "/usr/local/bin/kcm";
/** The ServiceAccount of every pod kcm puts on a node. */
export const NODE_AGENT = "kcm-node-agent";
/** The ServiceAccount `cluster-init` and `cluster-uninstall` run as in a pod. */
export const INSTALLER = "kcm-installer";
/** Name of the DaemonSet of long-running commands. */
export const DAEMONSET_NAME = "kcm-daemons";
/** Label selecting kcm's one-shot pods. */
export const ONE_SHOT_SELECTOR =
  "app.kubernetes.io/name=kcm,app.kubernetes.io/component in (setup,uninstall)";

/** Commands run once per node, in a setup pod. */
export const ONE_SHOT_COMMANDS = ["init", "install", "discover"] as const;
/** `--kcm-cmd-list` entries run for good, in the DaemonSet. */
export const DAEMON_COMMANDS = ["reconcile", "nodereport"] as const;
/** A command run once per node. */
export type OneShotCommand = typeof ONE_SHOT_COMMANDS[number];
/** A `--kcm-cmd-list` entry run for good. */
export type DaemonCommand = typeof DAEMON_COMMANDS[number];
/** Every `--kcm-cmd-list` entry. */
export type ClusterCommand = OneShotCommand | DaemonCommand;

/** The containers of the DaemonSet, by name. */
export const DAEMON_CONTAINERS = [
  "reconcile",
  "node-report",
  "discover",
] as const;
/** A container of the DaemonSet. */
export type DaemonContainer = typeof DAEMON_CONTAINERS[number];

/** Seconds between two runs of each daemon container. */
export const DAEMON_INTERVALS: Readonly<Record<DaemonContainer, number>> = {
  "reconcile": 60,
  "node-report": 60,
  "discover": 300,
};

/**
 * Where each daemon serves `/metrics` (`--metrics-listen`), by container:
 * the containers of a pod share its network, so each has a port of its
 * own; the names start with `metrics` for the scrape example in
 * resources/monitoring/. discover serves none.
 */
export const METRICS_PORTS: Readonly<
  Partial<
    Record<DaemonContainer, { readonly name: string; readonly port: number }>
  >
> = {
  "reconcile": { name: "metrics", port: 9102 },
  "node-report": { name: "metrics-report", port: 9103 },
};

/** Settings shared by every object. */
export interface WorkloadSettings {
  readonly image: string;
  readonly pullPolicy: string;
  /** Host path of the config directory. */
  readonly confDir: string;
  /** Host path kcm is installed to. */
  readonly installDir: string;
  readonly numDpCores: number;
  readonly numCpCores: number;
}

/** The settings of the seed's defaults. */
export const DEFAULT_SETTINGS: WorkloadSettings = {
  image: "kcm",
  pullPolicy: "Never",
  confDir: "/etc/kcm",
  installDir: "/opt/bin",
  numDpCores: 4,
  numCpCores: 1,
};

const CONF_MOUNT = "/etc/kcm";
const INSTALL_MOUNT = "/opt/bin";

type Dict = Record<string, JsonValue>;

/** The setup pod's name for `node`. */
export function setupPodName(node: string): string {
  return `kcm-setup-${node}`;
}

/** The uninstall pod's name for `node`. */
export function uninstallPodName(node: string): string {
  return `kcm-uninstall-${node}`;
}

function labels(component: string): Dict {
  return {
    "app.kubernetes.io/name": "kcm",
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": "kcm",
  };
}

function volumes(settings: WorkloadSettings, install: boolean): Dict[] {
  const list: Dict[] = [
    { name: "host-proc", hostPath: { path: "/proc", type: "Directory" } },
    { name: "host-sys", hostPath: { path: "/sys", type: "Directory" } },
    {
      name: "kcm-conf-dir",
      hostPath: { path: settings.confDir, type: "DirectoryOrCreate" },
    },
  ];
  if (install) {
    list.push({
      name: "kcm-install-dir",
      hostPath: { path: settings.installDir, type: "DirectoryOrCreate" },
    });
  }
  list.push({ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } });
  return list;
}

/** The securityContext of every container: nothing beyond file access. */
export const CONTAINER_SECURITY: Dict = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  privileged: false,
  readOnlyRootFilesystem: true,
  seccompProfile: { type: "RuntimeDefault" },
};

/** Requests and limits of every container. */
export const CONTAINER_RESOURCES: Dict = {
  requests: { cpu: "10m", memory: "96Mi" },
  limits: { memory: "256Mi" },
};

function container(
  name: string,
  command: string[],
  settings: WorkloadSettings,
  install = false,
): Dict {
  const mounts: Dict[] = [
    { name: "host-proc", mountPath: "/host/proc", readOnly: true },
    { name: "host-sys", mountPath: "/host/sys", readOnly: true },
    { name: "kcm-conf-dir", mountPath: CONF_MOUNT },
  ];
  if (install) {
    mounts.push({ name: "kcm-install-dir", mountPath: INSTALL_MOUNT });
  }
  mounts.push({ name: "tmp", mountPath: "/tmp" });
  return {
    name,
    image: settings.image,
    imagePullPolicy: settings.pullPolicy,
    command,
    env: [
      { name: "KCM_PROC_FS", value: "/host/proc" },
      { name: "KCM_SYS_FS", value: "/host/sys" },
      {
        name: "NODE_NAME",
        valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
      },
    ],
    resources: CONTAINER_RESOURCES,
    securityContext: CONTAINER_SECURITY,
    volumeMounts: mounts,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

const TOLERATIONS: Dict[] = [{ key: "kcm", operator: "Exists" }];

function oneShotContainer(
  command: OneShotCommand,
  settings: WorkloadSettings,
): Dict {
  switch (command) {
    case "init":
      // A rerun finds the directory of the first run: init accepts it when
      // it has the requested layout and fails naming the difference if not.
      return container("init", [
        KCM_BINARY,
        "init",
        `--conf-dir=${CONF_MOUNT}`,
        `--num-dp-cores=${settings.numDpCores}`,
        `--num-cp-cores=${settings.numCpCores}`,
        "--keep-existing",
      ], settings);
    case "install":
      return container(
        "install",
        [KCM_BINARY, "install", `--install-dir=${INSTALL_MOUNT}`],
        settings,
        true,
      );
    case "discover":
      return container(
        "discover",
        [KCM_BINARY, "discover", `--conf-dir=${CONF_MOUNT}`],
        settings,
      );
  }
}

function oneShotPod(
  name: string,
  component: string,
  node: string,
  containers: Dict[],
  settings: WorkloadSettings,
  install: boolean,
): Dict {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: labels(component) },
    spec: {
      nodeName: node,
      restartPolicy: "Never",
      serviceAccountName: NODE_AGENT,
      priorityClassName: "system-cluster-critical",
      enableServiceLinks: false,
      tolerations: TOLERATIONS,
      initContainers: containers.slice(0, -1),
      containers: containers.slice(-1),
      volumes: volumes(settings, install),
    },
  };
}

/**
 * The setup pod of `node` running `commands` (one-shot ones, non-empty) in
 * order.
 */
export function setupPod(
  node: string,
  commands: readonly OneShotCommand[],
  settings: WorkloadSettings,
): Dict {
  return oneShotPod(
    setupPodName(node),
    "setup",
    node,
    commands.map((c) => oneShotContainer(c, settings)),
    settings,
    commands.includes("install"),
  );
}

/** The uninstall pod of `node`: `kcm uninstall`, with `--force` if asked. */
export function uninstallPod(
  node: string,
  settings: WorkloadSettings,
  force: boolean,
): Dict {
  const command = [
    KCM_BINARY,
    "uninstall",
    `--conf-dir=${CONF_MOUNT}`,
    `--install-dir=${INSTALL_MOUNT}`,
  ];
  if (force) command.push("--force");
  return oneShotPod(
    uninstallPodName(node),
    "uninstall",
    node,
    [container("uninstall", command, settings, true)],
    settings,
    true,
  );
}

function daemonContainer(
  name: DaemonContainer,
  settings: WorkloadSettings,
): Dict {
  const command = [
    KCM_BINARY,
    name,
    `--conf-dir=${CONF_MOUNT}`,
    `--interval=${DAEMON_INTERVALS[name]}`,
  ];
  if (name !== "discover") command.push("--publish");
  const metrics = METRICS_PORTS[name];
  if (metrics !== undefined) {
    command.push(`--metrics-listen=:${metrics.port}`);
  }
  const built = container(name, command, settings);
  if (metrics === undefined) return built;
  // The metrics server answers /healthz while the loop process lives,
  // whatever the API server does: an outage must not restart the daemons.
  const probe = (periodSeconds: number): Dict => ({
    httpGet: { path: "/healthz", port: metrics.name },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold: 3,
  });
  return {
    ...built,
    ports: [{
      name: metrics.name,
      containerPort: metrics.port,
      protocol: "TCP",
    }],
    readinessProbe: probe(10),
    livenessProbe: probe(30),
  };
}

/** The DaemonSet container running a `--kcm-cmd-list` daemon entry. */
export function daemonContainerOf(command: DaemonCommand): DaemonContainer {
  return command === "nodereport" ? "node-report" : command;
}

/**
 * The DaemonSet running `containers` (non-empty) on every node labelled
 * `kcm.intel.com/kcm-node=true`.
 */
export function daemonSet(
  containers: readonly DaemonContainer[],
  settings: WorkloadSettings,
): Dict {
  const selector = {
    "app.kubernetes.io/name": "kcm",
    "app.kubernetes.io/component": "daemons",
  };
  const ordered = DAEMON_CONTAINERS.filter((c) => containers.includes(c));
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: DAEMONSET_NAME, labels: labels("daemons") },
    spec: {
      selector: { matchLabels: selector },
      // A new image reaches a tenth of the nodes at a time, not one by one.
      updateStrategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: "10%" },
      },
      template: {
        metadata: { labels: labels("daemons") },
        spec: {
          serviceAccountName: NODE_AGENT,
          priorityClassName: "system-node-critical",
          enableServiceLinks: false,
          nodeSelector: { [NODE_LABEL]: "true" },
          tolerations: TOLERATIONS,
          containers: ordered.map((c) => daemonContainer(c, settings)),
          volumes: volumes(settings, false),
        },
      },
    },
  };
}
