/**
 * The Kubernetes objects `cluster-init` creates, built as plain data: one
 * one-shot setup Pod per node and one DaemonSet for the long-running
 * commands. Pure.
 *
 * Setup pod `kcm-setup-<node>`: `nodeName` set (no scheduler involved),
 * `restartPolicy: Never`, the chosen one-shot commands in list order, all
 * but the last as init containers and the last as the container. The
 * kubelet runs init containers strictly one after another and stops at the
 * first failure, and the pod status then names the container that failed,
 * which is exactly "run in order, stop and say where it broke".
 *
 * DaemonSet `kcm-daemons`: one container per long-running command
 * (`reconcile`, `node-report`, each `--interval=60 --publish`), pinned to
 * the chosen nodes with a required node affinity on `metadata.name`.
 *
 * Both run as ServiceAccount `kcm` (resources/rbac.yaml), tolerate the
 * `kcm` taint, mount the host's /proc and /sys read-only at /host/proc and
 * /host/sys (`KCM_PROC_FS`, `KCM_SYS_FS`), the config directory at
 * /etc/kcm, get `NODE_NAME` from the downward API, and use the kcm binary
 * of the image, `/usr/local/bin/kcm`. Containers keep their log tail as
 * termination message on failure (`FallbackToLogsOnError`).
 */

import type { JsonValue } from "../json.ts";

/** Where the image keeps kcm. */
export const KCM_BINARY = "/usr/local/bin/kcm";
/** The ServiceAccount kcm's pods run as. */
export const SERVICE_ACCOUNT = "kcm";
/** Name of the DaemonSet of long-running commands. */
export const DAEMONSET_NAME = "kcm-daemons";
/** Label selecting the setup pods. */
export const SETUP_SELECTOR =
  "app.kubernetes.io/name=kcm,app.kubernetes.io/component=setup";

/** Commands run once per node, in a setup pod. */
export const ONE_SHOT_COMMANDS = ["init", "install", "discover"] as const;
/** Commands run for good, in the DaemonSet. */
export const DAEMON_COMMANDS = ["reconcile", "nodereport"] as const;
/** A command run once per node. */
export type OneShotCommand = typeof ONE_SHOT_COMMANDS[number];
/** A command run for good. */
export type DaemonCommand = typeof DAEMON_COMMANDS[number];
/** Every `--kcm-cmd-list` entry. */
export type ClusterCommand = OneShotCommand | DaemonCommand;

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

const CONF_MOUNT = "/etc/kcm";
const INSTALL_MOUNT = "/opt/bin";

type Dict = Record<string, JsonValue>;

/** The setup pod's name for `node`. */
export function setupPodName(node: string): string {
  return `kcm-setup-${node}`;
}

function labels(component: string): Dict {
  return {
    "app.kubernetes.io/name": "kcm",
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": "kcm-cluster-init",
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
  return list;
}

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
    volumeMounts: mounts,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

const TOLERATIONS: Dict[] = [{ key: "kcm", operator: "Exists" }];

/**
 * Where each daemon serves `/metrics` (`--metrics-listen`): the containers
 * of a pod share its network, so each has a port of its own; the names
 * start with `metrics` for the scrape example in resources/monitoring/.
 */
export const METRICS_PORTS: Readonly<
  Record<DaemonCommand, { readonly name: string; readonly port: number }>
> = {
  reconcile: { name: "metrics", port: 9102 },
  nodereport: { name: "metrics-report", port: 9103 },
};

function oneShotContainer(
  command: OneShotCommand,
  settings: WorkloadSettings,
): Dict {
  switch (command) {
    case "init":
      // A second cluster-init finds the directory made by the first; init
      // refuses to overwrite it, so the pod leaves it alone.
      return container("init", [
        "/bin/sh",
        "-c",
        `if [ -e ${CONF_MOUNT}/pools ]; then ` +
        `echo "kcm: ${CONF_MOUNT} is already initialised, init skipped"; ` +
        `else exec kcm init --conf-dir=${CONF_MOUNT} ` +
        `--num-dp-cores=${settings.numDpCores} ` +
        `--num-cp-cores=${settings.numCpCores}; fi`,
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

/**
 * The setup pod of `node` running `commands` (one-shot ones, non-empty) in
 * order.
 */
export function setupPod(
  node: string,
  commands: readonly OneShotCommand[],
  settings: WorkloadSettings,
): Dict {
  const containers = commands.map((c) => oneShotContainer(c, settings));
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: setupPodName(node), labels: labels("setup") },
    spec: {
      nodeName: node,
      restartPolicy: "Never",
      serviceAccountName: SERVICE_ACCOUNT,
      tolerations: TOLERATIONS,
      initContainers: containers.slice(0, -1),
      containers: containers.slice(-1),
      volumes: volumes(settings, commands.includes("install")),
    },
  };
}

/**
 * The DaemonSet running `commands` (long-running ones, non-empty) on
 * exactly `nodes`.
 */
export function daemonSet(
  nodes: readonly string[],
  commands: readonly DaemonCommand[],
  settings: WorkloadSettings,
  intervalSeconds = 60,
): Dict {
  const containers = commands.map((c) => {
    const sub = c === "nodereport" ? "node-report" : c;
    const metrics = METRICS_PORTS[c];
    return {
      ...container(sub, [
        KCM_BINARY,
        sub,
        `--conf-dir=${CONF_MOUNT}`,
        `--interval=${intervalSeconds}`,
        "--publish",
        `--metrics-listen=:${metrics.port}`,
      ], settings),
      ports: [{
        name: metrics.name,
        containerPort: metrics.port,
        protocol: "TCP",
      }],
    };
  });
  const selector = {
    "app.kubernetes.io/name": "kcm",
    "app.kubernetes.io/component": "daemons",
  };
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: DAEMONSET_NAME, labels: labels("daemons") },
    spec: {
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: labels("daemons") },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT,
          tolerations: TOLERATIONS,
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                // One term per node: a field selector on metadata.name
                // takes a single value, and terms are ORed.
                nodeSelectorTerms: nodes.map((node) => ({
                  matchFields: [{
                    key: "metadata.name",
                    operator: "In",
                    values: [node],
                  }],
                })),
              },
            },
          },
          containers,
          volumes: volumes(settings, false),
        },
      },
    },
  };
}

/** The node names a DaemonSet built by {@linkcode daemonSet} is pinned to. */
export function daemonSetNodes(object: unknown): string[] {
  // deno-lint-ignore no-explicit-any
  const terms = (object as any)?.spec?.template?.spec?.affinity?.nodeAffinity
    ?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!Array.isArray(terms)) return [];
  const names: string[] = [];
  for (const term of terms) {
    for (const field of term?.matchFields ?? []) {
      if (field?.key === "metadata.name" && Array.isArray(field.values)) {
        names.push(
          ...field.values.filter((v: unknown) => typeof v === "string"),
        );
      }
    }
  }
  return names;
}
