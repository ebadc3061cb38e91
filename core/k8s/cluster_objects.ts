/**
 * The cluster-wide objects kcm's installation consists of, beside the
 * per-node pods: what `kcm cluster-uninstall` deletes once no node runs
 * kcm any more, each with the API path it lives at. Pure data.
 *
 * The installer's RBAC (resources/rbac.yaml) grants `delete` on exactly
 * these names. The ServiceAccounts, roles, the installer's own bindings,
 * the admission policies and the namespace stay: they are the operator's
 * `kubectl apply`, undone with `kubectl delete -f resources/...`, and
 * keeping the installer's rights makes cluster-uninstall rerunnable.
 */

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
 * kcm's admission webhook, when it was deployed (resources/kcm-webhook.yaml):
 * the configuration the API server calls it through, which fails closed
 * once the webhook's pods are gone. The webhook's Deployment, Service and
 * Secret are the operator's own apply and stay. Deleting a configuration
 * that is not there is fine.
 */
export function webhookObjects(_namespace: string): ClusterObject[] {
  return [{
    description: "MutatingWebhookConfiguration kcm-webhook",
    path:
      "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kcm-webhook",
  }];
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
