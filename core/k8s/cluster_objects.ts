/**
 * The cluster-wide objects kcm's installation consists of, beside the
 * per-node pods: what `kcm cluster-uninstall` deletes once no node runs
 * kcm any more, each with the API path it lives at. Pure data.
 *
 * The installer's RBAC (resources/rbac.yaml, and resources/rbac-webhook.yaml
 * for the webhook's workload) grants `delete` on exactly these names. The
 * ServiceAccounts, roles, the installer's own bindings,
 * the admission policies and the namespace stay: they are the operator's
 * `kubectl apply`, undone with `kubectl delete -f resources/...`, and
 * keeping the installer's rights makes cluster-uninstall rerunnable.
 */

import {
  WEBHOOK_CA_SECRET,
  WEBHOOK_NAME,
  WEBHOOK_TLS_SECRET,
} from "./webhook_objects.ts";
import { DAEMONSET_NAME } from "./workloads.ts";

/** One object to delete. */
export interface ClusterObject {
  /** For messages: `DaemonSet kcm-system/kcm-daemons`. */
  readonly description: string;
  /** Its API path. */
  readonly path: string;
}

/** The DaemonSet of kcm's daemons in `namespace`. */
export function daemonSetObject(namespace: string): ClusterObject {
  return {
    description: `DaemonSet ${namespace}/${DAEMONSET_NAME}`,
    path: `/apis/apps/v1/namespaces/${namespace}/daemonsets/${DAEMONSET_NAME}`,
  };
}

/**
 * The configuration through which the API server calls kcm's admission
 * webhook, when there is one. It goes first: its `failurePolicy` is `Fail`,
 * so once the webhook's pods are gone it would refuse every pod asking for
 * dataplane cores. The installer may always delete it (resources/rbac.yaml).
 */
export function webhookObjects(_namespace: string): ClusterObject[] {
  return [{
    description: `MutatingWebhookConfiguration ${WEBHOOK_NAME}`,
    path:
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${WEBHOOK_NAME}`,
  }];
}

/**
 * What runs the webhook in `namespace`, as `cluster-init --webhook` made it:
 * Deployment, PodDisruptionBudget, Service and the two certificate
 * Secrets. The installer may delete them only with the optional rights of
 * resources/rbac-webhook.yaml, the same that let it create them.
 */
export function webhookWorkloadObjects(namespace: string): ClusterObject[] {
  const ns = `namespaces/${namespace}`;
  return [
    {
      description: `Deployment ${namespace}/${WEBHOOK_NAME}`,
      path: `/apis/apps/v1/${ns}/deployments/${WEBHOOK_NAME}`,
    },
    {
      description: `PodDisruptionBudget ${namespace}/${WEBHOOK_NAME}`,
      path: `/apis/policy/v1/${ns}/poddisruptionbudgets/${WEBHOOK_NAME}`,
    },
    {
      description: `Service ${namespace}/${WEBHOOK_NAME}`,
      path: `/api/v1/${ns}/services/${WEBHOOK_NAME}`,
    },
    ...[WEBHOOK_TLS_SECRET, WEBHOOK_CA_SECRET].map((name) => ({
      description: `Secret ${namespace}/${name}`,
      path: `/api/v1/${ns}/secrets/${name}`,
    })),
  ];
}

/** The bindings that give the node agent its rights. */
export function nodeAgentBindings(namespace: string): ClusterObject[] {
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  return [
    {
      description: "ClusterRoleBinding kcm-node-agent",
      path: `${rbac}/clusterrolebindings/kcm-node-agent`,
    },
    {
      description: `RoleBinding ${namespace}/kcm-node-agent`,
      path: `${rbac}/namespaces/${namespace}/rolebindings/kcm-node-agent`,
    },
    {
      description: "RoleBinding default/kcm-node-agent-events",
      path: `${rbac}/namespaces/default/rolebindings/kcm-node-agent-events`,
    },
  ];
}

/** kcm's two CustomResourceDefinitions (deleting one deletes its objects). */
export function reportCrdObjects(): ClusterObject[] {
  return ["nodereports", "reconcilereports"].map((plural) => ({
    description: `CustomResourceDefinition ${plural}.kcm.intel.com`,
    path:
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.kcm.intel.com`,
  }));
}
