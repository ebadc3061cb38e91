/**
 * Why the API server refused a request with 403 Forbidden, read from the
 * `Status` message it sent, and what to do about it. Pure.
 *
 * A 403 has several causes that need different fixes, and the server says
 * which in the message (kube-apiserver's wording, stable for years):
 * - RBAC: `<resource> "<name>" is forbidden: User "<user>" cannot <verb>
 *   resource "<resource>" in API group "<group>" ...`;
 * - Pod Security admission: `... is forbidden: violates PodSecurity
 *   "<level>:<version>": <what>`;
 * - a missing ServiceAccount (ServiceAccount admission): `... is
 *   forbidden: error looking up service account <ns>/<name>: serviceaccount
 *   "<name>" not found`;
 * - a ValidatingAdmissionPolicy: `... is forbidden: ValidatingAdmissionPolicy
 *   '<policy>' with binding '<binding>' denied request: <message>`;
 * - a validating webhook: `admission webhook "<name>" denied the request`.
 */

import { quote } from "../quote.ts";

/** The cause of a 403, with what the message says about it. */
export type ForbiddenCause =
  | {
    readonly kind: "rbac";
    readonly user: string;
    readonly verb: string;
    readonly resource: string;
    /** The namespace of the request, "" at the cluster scope. */
    readonly namespace: string;
  }
  | { readonly kind: "pod-security"; readonly level: string }
  | {
    readonly kind: "service-account";
    readonly namespace: string;
    readonly name: string;
  }
  | { readonly kind: "admission-policy"; readonly policy: string }
  | { readonly kind: "webhook"; readonly webhook: string }
  | { readonly kind: "other" };

/**
 * Reads the cause out of a 403's message.
 *
 * @example
 * ```ts
 * import { forbiddenCause } from "./forbidden.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   forbiddenCause(
 *     'pods is forbidden: User "system:serviceaccount:kcm-system:kcm-node-agent" ' +
 *       'cannot create resource "pods" in API group "" in the namespace "kcm-system"',
 *   ),
 *   {
 *     kind: "rbac",
 *     user: "system:serviceaccount:kcm-system:kcm-node-agent",
 *     verb: "create",
 *     resource: "pods",
 *     namespace: "kcm-system",
 *   },
 * );
 * assert.equal(
 *   forbiddenCause('pods "p" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes').kind,
 *   "pod-security",
 * );
 * ```
 */
export function forbiddenCause(message: string): ForbiddenCause {
  const rbac =
    /User "([^"]*)" cannot (\S+) resource "([^"]*)"(?: in API group "[^"]*")?(?: in the namespace "([^"]*)")?/
      .exec(message);
  if (rbac) {
    return {
      kind: "rbac",
      user: rbac[1]!,
      verb: rbac[2]!,
      resource: rbac[3]!,
      namespace: rbac[4] ?? "",
    };
  }
  const podSecurity = /violates PodSecurity "([^"]*)"/.exec(message);
  if (podSecurity) return { kind: "pod-security", level: podSecurity[1]! };
  const account = /error looking up service account ([^/\s]+)\/([^:\s]+)/
    .exec(message);
  if (account) {
    return {
      kind: "service-account",
      namespace: account[1]!,
      name: account[2]!,
    };
  }
  const policy = /ValidatingAdmissionPolicy '([^']*)'/.exec(message);
  if (policy) return { kind: "admission-policy", policy: policy[1]! };
  const webhook = /admission webhook "([^"]*)" denied/.exec(message);
  if (webhook) return { kind: "webhook", webhook: webhook[1]! };
  return { kind: "other" };
}

/** What only `cluster-init --webhook` reads or writes (rbac-webhook.yaml). */
const WEBHOOK_RESOURCES = [
  "secrets",
  "services",
  "deployments",
  "poddisruptionbudgets",
  "mutatingwebhookconfigurations",
];

/** Who may do what, for RBAC hints: which manifest grants a user its rights. */
function rbacSource(cause: Extract<ForbiddenCause, { kind: "rbac" }>): string {
  const { user } = cause;
  if (user.endsWith(":kcm-node-agent")) {
    return "the node agent's roles in resources/rbac.yaml";
  }
  if (
    user.endsWith(":kcm-installer") &&
    WEBHOOK_RESOURCES.includes(cause.resource) && cause.verb !== "delete"
  ) {
    return "the installer's webhook roles in resources/rbac-webhook.yaml (needed by cluster-init --webhook only)";
  }
  if (user.endsWith(":kcm-installer")) {
    return "the installer's roles in resources/rbac.yaml";
  }
  return "a Role or ClusterRole (resources/rbac.yaml lists what kcm needs)";
}

/**
 * What to do about a 403 of `cause`.
 *
 * @example
 * ```ts
 * import { forbiddenHint } from "./forbidden.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   forbiddenHint({ kind: "service-account", namespace: "kcm-system", name: "kcm-node-agent" }),
 *   'create ServiceAccount kcm-system/kcm-node-agent: kubectl apply -f resources/rbac.yaml',
 * );
 * ```
 */
export function forbiddenHint(cause: ForbiddenCause): string {
  switch (cause.kind) {
    case "rbac":
      return `grant ${cause.user} ${quote(cause.verb)} on ${
        quote(cause.resource)
      }${cause.namespace ? ` in namespace ${cause.namespace}` : ""}: apply ${
        rbacSource(cause)
      }, and check it was bound to this account`;
    case "pod-security":
      return `kcm's pods mount host paths, which only the "privileged" Pod Security level allows: label the namespace pod-security.kubernetes.io/enforce=privileged (resources/namespace.yaml)`;
    case "service-account":
      return `create ServiceAccount ${cause.namespace}/${cause.name}: kubectl apply -f resources/rbac.yaml`;
    case "admission-policy":
      return cause.policy.startsWith("kcm-node-agent")
        ? `kcm's node agent may change only its own Node's kcm capacity, label and taint, and only its own reports (policy ${cause.policy}, resources/node-agent-policy.yaml); run it in a pod on that node`
        : `the cluster's ValidatingAdmissionPolicy ${
          quote(cause.policy)
        } refused the request: ask its owner`;
    case "webhook":
      return `the admission webhook ${
        quote(cause.webhook)
      } refused the request: see its message, or ask its owner`;
    case "other":
      return "the API server refused the request; its message says why";
  }
}
