/**
 * Applies the YAML manifests of `resources/` to a test control plane, the
 * way `kubectl apply -f` would for the kinds kcm ships, and sets up the
 * `kcm` ServiceAccount bound to exactly the shipped ClusterRole.
 */

import { parseAllDocuments } from "yaml";
import type { ApiResponse, ControlPlane } from "../k8s/testenv.ts";
import { REPO_ROOT } from "./run_cli.ts";

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

/**
 * Applies `resources/rbac.yaml` for `namespace` (the binding's subject
 * moved there) and returns credentials of the `kcm` ServiceAccount.
 */
export async function kcmServiceAccount(
  cp: ControlPlane,
  namespace: string,
): ReturnType<ControlPlane["serviceAccount"]> {
  await cp.serviceAccount(namespace, "default");
  for (const object of await readManifest("rbac.yaml")) {
    if (object.kind === "ClusterRoleBinding") {
      object.subjects = object.subjects.map((s: K8sObject) => ({
        ...s,
        namespace,
      }));
    }
    const answer = await applyObject(cp, object, { namespace });
    if (answer.status >= 300) {
      throw new Error(
        `Cannot apply ${object.kind} ${object.metadata.name}: HTTP ${answer.status} ${
          JSON.stringify(answer.body)
        }`,
      );
    }
  }
  return await cp.serviceAccount(namespace, "kcm");
}
