/**
 * Command lines of kube-controller-manager and kube-scheduler for the test
 * control plane: loopback only, leader election off, HTTPS health endpoints
 * on a free port with the apiserver's serving certificate, each with a
 * kubeconfig of its own (a static token of the user Kubernetes' bootstrap
 * RBAC policy binds to its ClusterRole).
 *
 * Pure: builds argument lists; `testenv.ts` starts the processes.
 */

/**
 * Controllers the test control plane runs by default, and why:
 * - `garbage-collector-controller`: deletes dependents whose owner is gone
 *   (a Node's reports carry an ownerReference to it);
 * - `daemonset-controller`: creates one pod per eligible node (the
 *   scheduler then binds it);
 * - `serviceaccount-controller`: the `default` ServiceAccount of every
 *   namespace;
 * - `namespace-controller`: deleting a namespace deletes its content;
 * - `root-ca-certificate-publisher-controller`: the `kube-root-ca.crt`
 *   ConfigMap of every namespace, as projected token volumes expect;
 * - `clusterrole-aggregation-controller`: fills aggregated ClusterRoles
 *   (`admin`, `edit`, `view`), empty without it.
 *
 * Left out on purpose: `node-lifecycle-controller` (fake nodes send no
 * heartbeats: it would mark every node NotReady after 40 s, taint it and
 * evict its pods), `pod-garbage-collector-controller` (deletes pods of
 * nodes it thinks gone), and workload controllers no test needs
 * (replicaset, deployment, job, ...). Pass a list to
 * `startControlPlane({ controllers })` to choose others.
 */
export const DEFAULT_CONTROLLERS: readonly string[] = [
  "garbage-collector-controller",
  "daemonset-controller",
  "serviceaccount-controller",
  "namespace-controller",
  "root-ca-certificate-publisher-controller",
  "clusterrole-aggregation-controller",
];

/** The users the bootstrap RBAC policy grants each component's rights to. */
export const CONTROLLER_MANAGER_USER = "system:kube-controller-manager";
export const SCHEDULER_USER = "system:kube-scheduler";

/** What both components need to know of the run. */
export interface ComponentSettings {
  /** Kubeconfig of the component's own user. */
  readonly kubeconfig: string;
  /** Free loopback port for the component's HTTPS health endpoints. */
  readonly port: number;
  /** The apiserver's serving certificate and key (valid for 127.0.0.1). */
  readonly certFile: string;
  readonly keyFile: string;
}

function commonArgs(settings: ComponentSettings): string[] {
  return [
    `--kubeconfig=${settings.kubeconfig}`,
    "--leader-elect=false",
    "--bind-address=127.0.0.1",
    `--secure-port=${settings.port}`,
    `--tls-cert-file=${settings.certFile}`,
    `--tls-private-key-file=${settings.keyFile}`,
    // No --authentication-kubeconfig: every request to the health port is
    // anonymous, and /healthz, /readyz and /livez are always allowed.
    "--profiling=false",
    "--v=1",
  ];
}

/**
 * kube-controller-manager running `controllers`, each controller with the
 * credentials of its own ServiceAccount in kube-system (as kubeadm sets it
 * up), so a controller has exactly its `system:controller:*` role.
 */
export function controllerManagerArgs(
  settings: ComponentSettings & {
    readonly controllers: readonly string[];
    /** CA published in `kube-root-ca.crt` and put in token Secrets. */
    readonly caFile: string;
  },
): string[] {
  return [
    ...commonArgs(settings),
    `--controllers=${settings.controllers.join(",")}`,
    "--use-service-account-credentials=true",
    `--root-ca-file=${settings.caFile}`,
    // The default 20/s throttles the DaemonSet controller at hundreds of nodes.
    "--kube-api-qps=100",
    "--kube-api-burst=200",
  ];
}

/** kube-scheduler with its default profile. */
export function schedulerArgs(settings: ComponentSettings): string[] {
  return commonArgs(settings);
}
