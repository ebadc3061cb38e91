/**
 * resources/kcm-webhook.yaml has what the webhook's deployment needs (the API
 * server's acceptance of it is tests/resources_test.ts's job, its behaviour
 * behind a real API server admission_test.ts's).
 */

import assert from "node:assert/strict";
import { parseListenAddress } from "../../../core/listen_address.ts";
import { type K8sObject, readManifest } from "../../_helpers/k8s_manifests.ts";

async function objects(): Promise<Record<string, K8sObject>> {
  const byKind: Record<string, K8sObject> = {};
  for (const object of await readManifest("kcm-webhook.yaml")) {
    byKind[object.kind] = object;
  }
  return byKind;
}

Deno.test("resources/kcm-webhook.yaml: two hardened replicas probed on /healthz", async () => {
  const { Deployment: deployment } = await objects();
  assert.equal(deployment!.spec.replicas, 2);
  const pod = deployment!.spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.automountServiceAccountToken, false);
  const [container] = pod.containers;
  assert.deepEqual(container.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  });
  for (const probe of [container.readinessProbe, container.livenessProbe]) {
    assert.deepEqual(probe.httpGet, {
      path: "/healthz",
      port: "https",
      scheme: "HTTPS",
    });
  }
  assert.ok(container.resources.requests.cpu);
  assert.ok(container.resources.requests.memory);
  assert.ok(container.resources.limits.memory);
  // The flags are the ones kcm webhook takes, and name the mounted Secret.
  const flags = Object.fromEntries(
    container.command.slice(2).map((f: string) => f.slice(2).split("=")),
  );
  assert.deepEqual(container.command.slice(0, 2), [
    "/usr/local/bin/kcm",
    "webhook",
  ]);
  assert.deepEqual(Object.keys(flags).sort(), [
    "conf-dir",
    "install-dir",
    "listen",
    "tls-cert",
    "tls-key",
  ]);
  const tls = container.volumeMounts.find((m: K8sObject) => m.name === "tls");
  assert.equal(flags["tls-cert"], `${tls.mountPath}/tls.crt`);
  assert.equal(flags["tls-key"], `${tls.mountPath}/tls.key`);
  const port = container.ports.find((p: K8sObject) => p.name === "https");
  assert.equal(parseListenAddress(flags.listen).port, port.containerPort);
  assert.ok(pod.terminationGracePeriodSeconds > 20, "longer than the drain");
});

Deno.test("resources/kcm-webhook.yaml: the configuration calls the Service and fails closed", async () => {
  const {
    Service: service,
    MutatingWebhookConfiguration: config,
    Deployment: deployment,
  } = await objects();
  const [webhook] = config!.webhooks;
  assert.equal(webhook.failurePolicy, "Fail");
  assert.equal(webhook.sideEffects, "None");
  assert.equal(webhook.timeoutSeconds, 5);
  assert.equal(webhook.reinvocationPolicy, "IfNeeded");
  assert.deepEqual(webhook.admissionReviewVersions, ["v1"]);
  assert.deepEqual(webhook.rules, [{
    operations: ["CREATE"],
    apiGroups: [""],
    apiVersions: ["v1"],
    resources: ["pods"],
    scope: "Namespaced",
  }]);
  assert.deepEqual(webhook.clientConfig.service, {
    name: service!.metadata.name,
    namespace: service!.metadata.namespace,
    path: "/mutate",
    port: service!.spec.ports[0].port,
  });
  assert.deepEqual(webhook.namespaceSelector.matchExpressions, [{
    key: "kubernetes.io/metadata.name",
    operator: "NotIn",
    values: ["kcm-system", "kube-system"],
  }]);
  assert.equal(deployment!.metadata.namespace, "kcm-system");
  assert.deepEqual(
    service!.spec.selector,
    deployment!.spec.template.metadata.labels,
  );
});
