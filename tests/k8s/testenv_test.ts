/**
 * Smoke test of the test control plane: a real etcd and kube-apiserver serve
 * CRDs, fake nodes, ServiceAccount tokens and RBAC decisions.
 */

import assert from "node:assert/strict";
import {
  assetsDir,
  type ControlPlane,
  createNode,
  startControlPlane,
} from "./testenv.ts";

const crd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.testenv.kcm.test" },
  spec: {
    group: "testenv.kcm.test",
    scope: "Namespaced",
    names: {
      plural: "widgets",
      singular: "widget",
      kind: "Widget",
      listKind: "WidgetList",
    },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: {
              type: "object",
              required: ["size"],
              properties: { size: { type: "integer", minimum: 1 } },
            },
          },
        },
      },
    }],
  },
};

async function waitForEstablished(
  cp: ControlPlane,
  name: string,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { body } = await cp.api(
      "GET",
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
    );
    const conditions: { type: string; status: string }[] =
      body?.status?.conditions ?? [];
    if (
      conditions.some((c) => c.type === "Established" && c.status === "True")
    ) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`CRD ${name} not Established after 30 s`);
}

Deno.test("startControlPlane() serves a real API with TLS, CRDs and RBAC", async (t) => {
  const started = performance.now();
  await using cp = await startControlPlane();
  const startMs = Math.round(performance.now() - started);
  // deno-lint-ignore no-console
  console.log(`control plane ready in ${startMs} ms at ${cp.url}`);

  await t.step(
    "the server certificate is valid for 127.0.0.1 and localhost",
    async () => {
      assert.match(cp.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const client = Deno.createHttpClient({ caCerts: [cp.caPem] });
      try {
        for (const host of ["127.0.0.1", "localhost"]) {
          const response = await fetch(`https://${host}:${cp.port}/version`, {
            client,
            headers: { authorization: `Bearer ${cp.adminToken}` },
          });
          const version = await response.json();
          assert.equal(response.status, 200);
          assert.match(version.gitVersion, /^v1\.\d+\.\d+/);
        }
      } finally {
        client.close();
      }
      await assert.rejects(fetch(`${cp.url}/version`)); // unknown CA
    },
  );

  await t.step(
    "tokens authenticate: admin is allowed, a bad token is 401",
    async () => {
      assert.equal((await cp.api("GET", "/api/v1/namespaces")).status, 200);
      const bad = await cp.api("GET", "/api/v1/namespaces", undefined, {
        token: "not-a-token",
      });
      assert.equal(bad.status, 401);
      const kubeconfig = await Deno.readTextFile(cp.adminKubeconfig);
      assert.ok(kubeconfig.includes(cp.adminToken));
      assert.ok(kubeconfig.includes(`server: ${cp.url}`));
      assert.ok(kubeconfig.includes(`certificate-authority: ${cp.caFile}`));
    },
  );

  await t.step(
    "a CRD becomes Established and validates its objects",
    async () => {
      const created = await cp.api(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd,
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await waitForEstablished(cp, crd.metadata.name);
      const path = "/apis/testenv.kcm.test/v1/namespaces/default/widgets";
      const good = await cp.api("POST", path, {
        apiVersion: "testenv.kcm.test/v1",
        kind: "Widget",
        metadata: { name: "w1" },
        spec: { size: 3 },
      });
      assert.equal(good.status, 201, JSON.stringify(good.body));
      const invalid = await cp.api("POST", path, {
        apiVersion: "testenv.kcm.test/v1",
        kind: "Widget",
        metadata: { name: "w2" },
        spec: { size: 0 },
      });
      assert.equal(invalid.status, 422);
      const read = await cp.api("GET", `${path}/w1`);
      assert.equal(read.body.spec.size, 3);
    },
  );

  await t.step(
    "RBAC denies a ServiceAccount without a binding, then allows it",
    async () => {
      const sa = await cp.serviceAccount("rbac-test", "reader");
      const path = "/api/v1/namespaces/rbac-test/configmaps";
      const denied = await cp.api("GET", path, undefined, { token: sa.token });
      assert.equal(denied.status, 403);
      assert.match(
        denied.body.message,
        /system:serviceaccount:rbac-test:reader.*cannot list resource "configmaps"/,
      );

      const rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/rbac-test";
      assert.equal(
        (await cp.api("POST", `${rbac}/roles`, {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: "configmap-reader" },
          rules: [{
            apiGroups: [""],
            resources: ["configmaps"],
            verbs: ["get", "list"],
          }],
        })).status,
        201,
      );
      assert.equal(
        (await cp.api("POST", `${rbac}/rolebindings`, {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: "reader" },
          roleRef: {
            apiGroup: "rbac.authorization.k8s.io",
            kind: "Role",
            name: "configmap-reader",
          },
          subjects: [{
            kind: "ServiceAccount",
            name: "reader",
            namespace: "rbac-test",
          }],
        })).status,
        201,
      );
      const allowed = await cp.api("GET", path, undefined, { token: sa.token });
      assert.equal(allowed.status, 200);
      // The binding grants reads only.
      const write = await cp.api("POST", path, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "x" },
      }, { token: sa.token });
      assert.equal(write.status, 403);
    },
  );

  await t.step(
    "serviceAccount() writes in-cluster files and a kubeconfig",
    async () => {
      const sa = await cp.serviceAccount("rbac-test", "reader");
      assert.deepEqual(sa.inClusterEnv, {
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: String(cp.port),
        KCM_SERVICE_ACCOUNT_DIR: sa.dir,
      });
      assert.equal(await Deno.readTextFile(`${sa.dir}/token`), sa.token);
      assert.equal(await Deno.readTextFile(`${sa.dir}/namespace`), "rbac-test");
      assert.equal(await Deno.readTextFile(`${sa.dir}/ca.crt`), cp.caPem);
      const kubeconfig = await Deno.readTextFile(sa.kubeconfig);
      assert.ok(kubeconfig.includes(sa.token));
      assert.ok(
        kubeconfig.includes(`certificate-authority-data: ${btoa(cp.caPem)}`),
      );
      const review = await cp.api(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
        { token: sa.token },
      );
      assert.equal(review.status, 201);
      assert.equal(
        review.body.status.userInfo.username,
        "system:serviceaccount:rbac-test:reader",
      );
    },
  );

  await t.step(
    "createNode() makes a Ready node with capacity, labels and taints",
    async () => {
      const node = await createNode(cp, "node-a", {
        capacity: { cpu: "8", memory: "16Gi", pods: "50" },
        labels: { "kcm.test/role": "worker" },
        taints: [{ key: "dedicated", value: "nfv", effect: "NoSchedule" }],
      });
      assert.equal(node.status.capacity.cpu, "8");
      const read = await cp.api("GET", "/api/v1/nodes/node-a");
      assert.equal(read.status, 200);
      assert.deepEqual(read.body.status.allocatable, {
        cpu: "8",
        memory: "16Gi",
        pods: "50",
      });
      assert.equal(read.body.metadata.labels["kcm.test/role"], "worker");
      assert.equal(
        read.body.metadata.labels["kubernetes.io/hostname"],
        "node-a",
      );
      assert.deepEqual(read.body.spec.taints, [
        { key: "dedicated", value: "nfv", effect: "NoSchedule" },
      ]);
      assert.equal(
        read.body.status.conditions.find((c: { type: string }) =>
          c.type === "Ready"
        )
          ?.status,
        "True",
      );
      const again = await cp.api("POST", "/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "node-a" },
      });
      assert.equal(again.status, 409);
    },
  );
});

Deno.test("ControlPlane.stop() kills etcd and kube-apiserver and removes the temp dir", async () => {
  const cp = await startControlPlane();
  const pids = await Promise.all(
    ["etcd", "kube-apiserver"].map(async (name) => {
      const out = await new Deno.Command("pgrep", {
        args: ["-f", `${name} .*${cp.dir}`],
        stdout: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout).trim();
    }),
  );
  assert.ok(pids.every((p) => /^\d+$/.test(p)), `pids: ${pids.join(", ")}`);
  await cp.stop();
  await cp.stop(); // idempotent
  for (const pid of pids) {
    assert.equal(
      (await new Deno.Command("kill", { args: ["-0", pid], stderr: "null" })
        .output()).success,
      false,
      `process ${pid} still alive`,
    );
  }
  await assert.rejects(Deno.stat(cp.dir), Deno.errors.NotFound);
  await assert.rejects(fetch(`${cp.url}/readyz`));
});

Deno.test("startControlPlane() fails with the apiserver's last log lines when it dies", async () => {
  const real = await assetsDir();
  const fake = await Deno.makeTempDir({ prefix: "kcm-fake-assets-" });
  try {
    await Deno.symlink(`${real}/etcd`, `${fake}/etcd`);
    // A kube-apiserver that records its flags and dies at once.
    await Deno.writeTextFile(
      `${fake}/kube-apiserver`,
      `#!/bin/sh\nprintf '%s\\n' "$@" > ${fake}/args\n` +
        "echo 'E0101 flag provided but not defined: --kcm-test' >&2\nexit 3\n",
      { mode: 0o755 },
    );
    const error = await startControlPlane({
      assets: fake,
      readyTimeoutMs: 20_000,
    }).then(() => undefined, (e: Error) => e);
    assert.ok(error instanceof Error, "startControlPlane() should have failed");
    assert.match(error.message, /kube-apiserver exited with code 3/);
    assert.match(error.message, /flag provided but not defined: --kcm-test/);
    // etcd was stopped and the temp dir removed.
    const args = (await Deno.readTextFile(`${fake}/args`)).split("\n");
    const etcdUrl = args.find((a) => a.startsWith("--etcd-servers="))!
      .slice("--etcd-servers=".length);
    await assert.rejects(fetch(`${etcdUrl}/health`));
    const certDir = args.find((a) => a.startsWith("--cert-dir="))!
      .slice("--cert-dir=".length);
    await assert.rejects(Deno.stat(`${certDir}/..`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(fake, { recursive: true });
  }
});
