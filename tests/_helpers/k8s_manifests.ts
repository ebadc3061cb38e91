/**
 * Applies the YAML manifests of `resources/` to a test control plane, the
 * way `kubectl apply -f` would for the kinds kcm ships, and hands out
 * credentials of kcm's two identities with exactly the shipped RBAC and
 * admission policy.
 */

import { parseAllDocuments } from "yaml";
import {
  type ApiResponse,
  type ControlPlane,
  type CrdObject,
  createCrd,
  createNamespace,
  type ServiceAccountCredentials,
} from "../k8s/testenv.ts";
import { REPO_ROOT } from "./run_cli.ts";
import { waitFor } from "./wait.ts";

/** A Kubernetes object as parsed from YAML. */
// deno-lint-ignore no-explicit-any
export type K8sObject = Record<string, any>;

/** Every document of `resources/<file>`. */
export async function readManifest(file: string): Promise<K8sObject[]> {
  const text = await Deno.readTextFile(`${REPO_ROOT}/resources/${file}`);
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) {
      throw new Error(`resources/${file}: ${doc.errors[0]!.message}`);
    }
    return doc.toJSON() as K8sObject;
  }).filter((o) => o !== null);
}

const COLLECTIONS: Record<string, (ns: string) => string> = {
  "v1/ServiceAccount": (ns) => `/api/v1/namespaces/${ns}/serviceaccounts`,
  "v1/Pod": (ns) => `/api/v1/namespaces/${ns}/pods`,
  "v1/Namespace": () => `/api/v1/namespaces`,
  "rbac.authorization.k8s.io/v1/ClusterRole": () =>
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": () =>
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
  "apiextensions.k8s.io/v1/CustomResourceDefinition": () =>
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
  "rbac.authorization.k8s.io/v1/Role": (ns) =>
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`,
  "rbac.authorization.k8s.io/v1/RoleBinding": (ns) =>
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy": () =>
    "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding": () =>
    "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
  "apps/v1/DaemonSet": (ns) => `/apis/apps/v1/namespaces/${ns}/daemonsets`,
  "apps/v1/Deployment": (ns) => `/apis/apps/v1/namespaces/${ns}/deployments`,
  "v1/Service": (ns) => `/api/v1/namespaces/${ns}/services`,
  "policy/v1/PodDisruptionBudget": (ns) =>
    `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`,
  "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": () =>
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
};

/** The collection path an object is created in. */
export function collectionPath(object: K8sObject, namespace: string): string {
  const key = `${object.apiVersion}/${object.kind}`;
  const path = COLLECTIONS[key];
  if (path === undefined) throw new Error(`No REST mapping for ${key}`);
  return path(object.metadata?.namespace ?? namespace);
}

/**
 * Creates `object`, or replaces it when it exists; with `dryRun` the
 * server validates and admits it without storing. Returns the answer of
 * the create (or replace).
 */
export async function applyObject(
  cp: Pick<ControlPlane, "api">,
  object: K8sObject,
  options: { namespace?: string; dryRun?: boolean } = {},
): Promise<ApiResponse> {
  const collection = collectionPath(object, options.namespace ?? "default");
  const query = options.dryRun ? "?dryRun=All" : "";
  const created = await cp.api("POST", `${collection}${query}`, object);
  if (created.status !== 409) return created;
  const path = `${collection}/${object.metadata.name}`;
  const current = await cp.api("GET", path);
  return await cp.api("PUT", `${path}${query}`, {
    ...object,
    metadata: {
      ...object.metadata,
      resourceVersion: current.body.metadata.resourceVersion,
    },
  });
}

/** The namespace of the shipped manifests. */
export const KCM_NAMESPACE = "kcm-system";

/** The manifests that set kcm up on a cluster, in apply order. */
export const SETUP_MANIFESTS = [
  "namespace.yaml",
  "crd-nodereports.yaml",
  "crd-reconcilereports.yaml",
  "rbac.yaml",
  "node-agent-policy.yaml",
];

/** Applies every object of `files` (from resources/), failing loudly. */
export async function applyManifests(
  cp: Pick<ControlPlane, "api">,
  files: readonly string[],
): Promise<void> {
  for (const file of files) {
    for (const object of await readManifest(file)) {
      const answer = await applyObject(cp, object, {
        namespace: KCM_NAMESPACE,
      });
      if (answer.status >= 300) {
        throw new Error(
          `Cannot apply ${object.kind} ${object.metadata.name} of ${file}: HTTP ${answer.status} ${
            JSON.stringify(answer.body)
          }`,
        );
      }
    }
  }
}

/** kcm set up on a test control plane with exactly the shipped manifests. */
export interface KcmIdentities {
  /** ServiceAccount kcm-system/kcm-installer (cluster-init). */
  readonly installer: ServiceAccountCredentials;
  /**
   * ServiceAccount kcm-system/kcm-node-agent with a token bound to Node
   * `node`, as a pod on that node would have (the Node must exist).
   */
  nodeAgent(node: string): Promise<ServiceAccountCredentials>;
}

/**
 * Applies the shipped namespace, CRDs, RBAC and node agent policy (as an
 * operator would, `kubectl apply -f resources/...`) and returns credentials
 * of both identities. Waits until the CRDs are served and the admission
 * policies are in force.
 */
export async function installKcmIdentities(
  cp: ControlPlane,
): Promise<KcmIdentities> {
  await applyManifests(cp, SETUP_MANIFESTS);
  await createNamespace(cp, KCM_NAMESPACE);
  for (const file of ["crd-nodereports.yaml", "crd-reconcilereports.yaml"]) {
    for (const crd of await readManifest(file)) {
      await createCrd(cp, crd as CrdObject);
    }
  }
  const installer = await cp.serviceAccount(KCM_NAMESPACE, "kcm-installer");
  const nodeAgent = async (node: string) => {
    const found = await cp.api("GET", `/api/v1/nodes/${node}`);
    if (found.status !== 200) {
      throw new Error(`Node ${node}: HTTP ${found.status}`);
    }
    return await cp.boundServiceAccount(KCM_NAMESPACE, "kcm-node-agent", {
      kind: "Node",
      name: node,
      uid: found.body.metadata.uid,
    });
  };
  await waitForPolicies(cp);
  return { installer, nodeAgent };
}

/**
 * Waits until the node agent policies deny: the API server loads a new
 * ValidatingAdmissionPolicy and its binding asynchronously (about a second).
 * Probes with a dry-run label change by a node agent token not bound to a
 * node, which the policy refuses.
 */
async function waitForPolicies(cp: ControlPlane): Promise<void> {
  const probe = "kcm-policy-probe";
  await cp.api("POST", "/api/v1/nodes", {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: probe },
  });
  const unbound = await cp.serviceAccount(KCM_NAMESPACE, "kcm-node-agent");
  await waitFor("the node agent admission policy", async () => {
    const answer = await cp.api(
      "PATCH",
      `/api/v1/nodes/${probe}?dryRun=All`,
      { metadata: { labels: { "kcm.intel.com/kcm-node": "true" } } },
      { token: unbound.token, contentType: "application/merge-patch+json" },
    );
    const report = await cp.api(
      "POST",
      `/apis/kcm.intel.com/v1/namespaces/${KCM_NAMESPACE}/nodereports?dryRun=All`,
      {
        apiVersion: "kcm.intel.com/v1",
        kind: "NodeReport",
        metadata: { name: probe },
        node: probe,
        report: {},
      },
      { token: unbound.token },
    );
    const denied = (r: ApiResponse) =>
      r.status === 403 && /ValidatingAdmissionPolicy/.test(r.body?.message);
    return denied(answer) && denied(report) ? true : undefined;
  });
  await cp.api("DELETE", `/api/v1/nodes/${probe}`);
}
