/**
 * What kcm's two identities may and may not do, proven on a real
 * kube-apiserver with exactly the shipped namespace, RBAC and admission
 * policy (resources/): every denial is a real 403 from RBAC or from the
 * ValidatingAdmissionPolicy, with the message kcm's hints are built on.
 * Creations are dry runs (`dryRun=All` runs authorization and admission
 * and stores nothing). The node agent's token is bound to a pod on its
 * node, as the kubelet mounts it.
 */

import assert from "node:assert/strict";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "./_helpers/k8s_manifests.ts";
import { writeKubeconfig } from "./_helpers/fleet_setup.ts";
import { runKcm } from "./_helpers/run_cli.ts";
import { makeTestCertificates } from "./_helpers/tls_certs.ts";
import { makeConfigDir } from "./_helpers/temp_config_dir.ts";
import {
  type ApiResponse,
  createNode,
  startControlPlane,
} from "./k8s/testenv.ts";

const NS = KCM_NAMESPACE;
const JSON_PATCH = "application/json-patch+json";
const MERGE_PATCH = "application/merge-patch+json";

/** A pod that mounts the host's root file system: what an attacker wants. */
function hostRootPod(node: string) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "host-root" },
    spec: {
      nodeName: node,
      hostPID: true,
      containers: [{
        name: "shell",
        image: "busybox",
        securityContext: { privileged: true },
        volumeMounts: [{ name: "root", mountPath: "/host" }],
      }],
      volumes: [{ name: "root", hostPath: { path: "/" } }],
    },
  };
}

function report(node: string) {
  return {
    apiVersion: "kcm.intel.com/v1",
    kind: "NodeReport",
    metadata: { name: node },
    node,
    ok: true,
    report: {},
    last_updated: "2030-01-01T00:00:00.000Z",
  };
}

function event(node: string) {
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name: `${node}.kcm-test` },
    eventTime: "2030-01-01T00:00:00.000000Z",
    reportingController: "kcm.intel.com/node-report",
    reportingInstance: `kcm-${node}`,
    action: "NodeReport",
    reason: "CheckFailed",
    type: "Warning",
    regarding: { apiVersion: "v1", kind: "Node", name: node },
    note: "test",
  };
}

/** Asserts a 403 whose message matches `cause`. */
function denied(answer: ApiResponse, cause: RegExp, what: string): void {
  assert.equal(answer.status, 403, `${what}: ${JSON.stringify(answer.body)}`);
  assert.match(answer.body.message, cause, what);
}

function allowed(answer: ApiResponse, what: string): void {
  assert.ok(
    answer.status >= 200 && answer.status < 300,
    `${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`,
  );
}

const RBAC = /cannot \S+ resource/;
const POLICY = /ValidatingAdmissionPolicy 'kcm-node-agent-(nodes|objects)'/;

Deno.test("kcm's identities can do their job and nothing more", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  await createNode(cp, "n1", {
    labels: { zone: "a" },
    taints: [{ key: "gpu", value: "a100", effect: "NoSchedule" }],
  });
  await createNode(cp, "n2");
  // The node agent as the kubelet of n1 would mount it: a token bound to
  // a pod on n1.
  const placeholder = await cp.api("POST", `/api/v1/namespaces/${NS}/pods`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "agent-on-n1" },
    spec: {
      nodeName: "n1",
      serviceAccountName: "kcm-node-agent",
      containers: [{ name: "c", image: "kcm" }],
    },
  });
  assert.equal(placeholder.status, 201, JSON.stringify(placeholder.body));
  const agent = await cp.boundServiceAccount(NS, "kcm-node-agent", {
    kind: "Pod",
    name: "agent-on-n1",
    uid: placeholder.body.metadata.uid,
  });
  const asAgent = (
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ) =>
    cp.api(method, path, body, {
      token: agent.token,
      ...(contentType ? { contentType } : {}),
    });
  const asInstaller = (method: string, path: string, body?: unknown) =>
    cp.api(method, path, body, { token: kcm.installer.token });

  await t.step("the token names the node it runs on", async () => {
    const review = await asAgent(
      "POST",
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    );
    assert.equal(review.status, 201);
    assert.deepEqual(
      review.body.status.userInfo
        .extra["authentication.kubernetes.io/node-name"],
      ["n1"],
    );
  });

  await t.step("the node agent sets kcm's marks on its own Node", async () => {
    allowed(
      await asAgent("PATCH", "/api/v1/nodes/n1", {
        metadata: { labels: { "kcm.intel.com/kcm-node": "true" } },
      }, MERGE_PATCH),
      "label",
    );
    allowed(
      await asAgent("PATCH", "/api/v1/nodes/n1", [{
        op: "add",
        path: "/spec/taints/-",
        value: { key: "kcm", value: "true", effect: "NoSchedule" },
      }], JSON_PATCH),
      "taint",
    );
    allowed(
      await asAgent("PATCH", "/api/v1/nodes/n1/status", [{
        op: "add",
        path: "/status/capacity/kcm.intel.com~1dataplane-cores",
        value: "4",
      }], JSON_PATCH),
      "capacity",
    );
    allowed(
      await asAgent(
        "POST",
        `/apis/kcm.intel.com/v1/namespaces/${NS}/nodereports?dryRun=All`,
        report("n1"),
      ),
      "own report",
    );
    allowed(
      await asAgent(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/default/events?dryRun=All",
        event("n1"),
      ),
      "event about its node",
    );
  });

  // Negative cases: what a stolen node agent token cannot do.
  await t.step("not another node", async () => {
    denied(
      await asAgent("PATCH", "/api/v1/nodes/n2", {
        metadata: { labels: { "kcm.intel.com/kcm-node": "true" } },
      }, MERGE_PATCH),
      /kcm node agent of node "n1" may not change node "n2"/,
      "label n2",
    );
    denied(
      await asAgent("PATCH", "/api/v1/nodes/n2/status", [{
        op: "add",
        path: "/status/capacity/kcm.intel.com~1dataplane-cores",
        value: "64",
      }], JSON_PATCH),
      /may not change node "n2"/,
      "capacity of n2",
    );
  });

  await t.step("not another field of its own node", async () => {
    const attempts: [string, string, unknown, string, RegExp][] = [
      [
        "another label",
        "/api/v1/nodes/n1",
        { metadata: { labels: { zone: "b" } } },
        MERGE_PATCH,
        /may change no label but kcm.intel.com\/kcm-node=true/,
      ],
      [
        "kcm's label with another value",
        "/api/v1/nodes/n1",
        { metadata: { labels: { "kcm.intel.com/kcm-node": "false" } } },
        MERGE_PATCH,
        /may change no label/,
      ],
      [
        "another taint removed",
        "/api/v1/nodes/n1",
        [{ op: "remove", path: "/spec/taints/0" }],
        JSON_PATCH,
        /may change no taint but kcm=true:NoSchedule/,
      ],
      [
        "cordon",
        "/api/v1/nodes/n1",
        { spec: { unschedulable: true } },
        MERGE_PATCH,
        /may change nothing on a Node but kcm's capacity, label and taint/,
      ],
      [
        "an annotation",
        "/api/v1/nodes/n1",
        { metadata: { annotations: { "example.com/x": "y" } } },
        MERGE_PATCH,
        /may change nothing on a Node but/,
      ],
      [
        "cpu capacity",
        "/api/v1/nodes/n1/status",
        { status: { capacity: { cpu: "128" } } },
        MERGE_PATCH,
        /may change no capacity or allocatable resource but kcm.intel.com\/dataplane-cores/,
      ],
      [
        "a faked condition",
        "/api/v1/nodes/n1/status",
        {
          status: {
            conditions: [{
              type: "Ready",
              status: "False",
              reason: "Faked",
              message: "x",
            }],
          },
        },
        MERGE_PATCH,
        /may change nothing on a Node but/,
      ],
      [
        "a label through the status subresource",
        "/api/v1/nodes/n1/status",
        { metadata: { labels: { zone: "c" } } },
        MERGE_PATCH,
        /may change no label/,
      ],
    ];
    for (const [what, path, body, type, cause] of attempts) {
      denied(await asAgent("PATCH", path, body, type), cause, what);
    }
    assert.equal(
      (await cp.api("GET", "/api/v1/nodes/n1")).body.metadata.labels
        .zone,
      "a",
    );
  });

  await t.step("not another node's report or event", async () => {
    denied(
      await asAgent(
        "POST",
        `/apis/kcm.intel.com/v1/namespaces/${NS}/nodereports?dryRun=All`,
        report("n2"),
      ),
      /may write only the reports and Events of its node, not nodereports "n2"/,
      "report of n2",
    );
    denied(
      await asAgent(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/default/events?dryRun=All",
        event("n2"),
      ),
      POLICY,
      "event about n2",
    );
  });

  await t.step("not another namespace", async () => {
    denied(
      await asAgent(
        "POST",
        "/apis/kcm.intel.com/v1/namespaces/default/nodereports?dryRun=All",
        report("n1"),
      ),
      /cannot create resource "nodereports" in API group "kcm.intel.com" in the namespace "default"/,
      "report in default",
    );
    denied(
      await asAgent(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/kube-system/events?dryRun=All",
        event("n1"),
      ),
      RBAC,
      "event in kube-system",
    );
  });

  await t.step("no pods, workloads, secrets or CRDs", async () => {
    const attempts: [string, string, string, unknown?][] = [
      [
        "a hostPath pod in kcm-system",
        "POST",
        `/api/v1/namespaces/${NS}/pods?dryRun=All`,
        hostRootPod("n2"),
      ],
      [
        "a hostPath pod in kube-system",
        "POST",
        "/api/v1/namespaces/kube-system/pods?dryRun=All",
        hostRootPod("n2"),
      ],
      ["delete a pod", "DELETE", `/api/v1/namespaces/${NS}/pods/agent-on-n1`],
      ["list secrets", "GET", `/api/v1/namespaces/${NS}/secrets`],
      [
        "change the DaemonSet",
        "PATCH",
        `/apis/apps/v1/namespaces/${NS}/daemonsets/kcm-daemons`,
        {},
      ],
      [
        "create a CRD",
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?dryRun=All",
        {},
      ],
      ["list nodes", "GET", "/api/v1/nodes"],
      [
        "delete the admission policy binding",
        "DELETE",
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/kcm-node-agent-nodes",
      ],
    ];
    for (const [what, method, path, body] of attempts) {
      denied(
        await asAgent(
          method,
          path,
          body,
          method === "PATCH" ? MERGE_PATCH : undefined,
        ),
        RBAC,
        what,
      );
    }
  });

  await t.step("a token not bound to a node may change no Node", async () => {
    const unbound = await cp.serviceAccount(NS, "kcm-node-agent");
    denied(
      await cp.api("PATCH", "/api/v1/nodes/n1", {
        metadata: { labels: { "kcm.intel.com/kcm-node": "true" } },
      }, { token: unbound.token, contentType: MERGE_PATCH }),
      /token is not bound to a node, so it may change no Node/,
      "unbound token",
    );
  });

  await t.step("the installer works in kcm-system only", async () => {
    allowed(
      await asInstaller(
        "POST",
        `/api/v1/namespaces/${NS}/pods?dryRun=All`,
        {
          ...hostRootPod("n1"),
          spec: {
            ...hostRootPod("n1").spec,
            serviceAccountName: "kcm-node-agent",
          },
        },
      ),
      "a pod in kcm-system",
    );
    allowed(await asInstaller("GET", "/api/v1/nodes"), "list nodes");
    const attempts: [string, string, string, unknown?][] = [
      [
        "a pod in kube-system",
        "POST",
        "/api/v1/namespaces/kube-system/pods?dryRun=All",
        hostRootPod("n1"),
      ],
      [
        "a pod in default",
        "POST",
        "/api/v1/namespaces/default/pods?dryRun=All",
        hostRootPod("n1"),
      ],
      ["patch a node", "PATCH", "/api/v1/nodes/n1", {}],
      ["list secrets of kcm-system", "GET", `/api/v1/namespaces/${NS}/secrets`],
      [
        "a DaemonSet in kube-system",
        "POST",
        "/apis/apps/v1/namespaces/kube-system/daemonsets?dryRun=All",
        {},
      ],
      [
        "delete another ClusterRoleBinding",
        "DELETE",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin?dryRun=All",
      ],
      [
        "delete another CRD",
        "DELETE",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com?dryRun=All",
      ],
      [
        "create a ClusterRoleBinding",
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?dryRun=All",
        {},
      ],
    ];
    for (const [what, method, path, body] of attempts) {
      denied(
        await cp.api(method, path, body, {
          token: kcm.installer.token,
          ...(method === "PATCH" ? { contentType: MERGE_PATCH } : {}),
        }),
        RBAC,
        what,
      );
    }
  });

  await t.step("a wrong CA or plain HTTP stops kcm at once", async () => {
    await using certs = await makeTestCertificates();
    const wrongCa = await writeKubeconfig(
      cp,
      "wrong-ca",
      cp.url,
      kcm.installer.token,
      certs.otherCaPem,
    );
    const tls = await runKcm(
      ["cluster-init", "--all-hosts", `--kubeconfig=${wrongCa}`],
      { env: { KCM_LOG_LEVEL: "INFO" } },
    );
    assert.equal(tls.code, 1);
    assert.equal(
      tls.stderr,
      `kcm: error: cluster-init: GET /api/v1/nodes: no answer: TLS with ${cp.url} failed: the API server's certificate is signed by an unknown authority
` +
        `hint: give the CA that signed the server's certificate as certificate-authority(-data) in ${wrongCa}
`,
    );
    const http = await writeKubeconfig(
      cp,
      "plain-http",
      cp.url.replace("https:", "http:"),
      kcm.installer.token,
    );
    const plain = await runKcm(
      ["cluster-init", "--all-hosts", `--kubeconfig=${http}`],
      { env: { KCM_LOG_LEVEL: "INFO" } },
    );
    assert.equal(plain.code, 1);
    assert.match(
      plain.stderr,
      /^kcm: error: \S+: server "http:\/\/127\.0\.0\.1:\d+" is plain HTTP; kcm does not send credentials in clear text\nhint: use the https:\/\/ address of the API server, or give --insecure-http for a test server\n$/,
    );
  });

  await t.step("kcm's requests carry its User-Agent", async () => {
    await using config = await makeConfigDir({
      dataplane: { exclusive: true, lists: { "2": "" } },
      infra: { exclusive: false, lists: { "0-1": "" } },
    });
    const node = await createNode(cp, "n3");
    const n3 = await cp.boundServiceAccount(NS, "kcm-node-agent", {
      kind: "Node",
      name: "n3",
      uid: node.metadata.uid,
    });
    const result = await runKcm(["discover", `--conf-dir=${config.confDir}`], {
      env: { ...n3.inClusterEnv, NODE_NAME: "n3" },
    });
    assert.equal(result.code, 0, result.stderr);
    // Without a fieldManager, the API server names the manager after the
    // User-Agent's product: "kcm" from "kcm/<version>".
    const managers = (await cp.api("GET", "/api/v1/nodes/n3")).body.metadata
      .managedFields.map((f: { manager: string; subresource?: string }) =>
        `${f.manager}${f.subresource ? `/${f.subresource}` : ""}`
      );
    assert.ok(managers.includes("kcm"), managers.join(", "));
    assert.ok(managers.includes("kcm/status"), managers.join(", "));
  });
});
