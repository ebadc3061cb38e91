/**
 * Smoke test of the test control plane: a real etcd and kube-apiserver serve
 * CRDs, fake nodes, ServiceAccount tokens and RBAC decisions.
 */

import assert from "node:assert/strict";
import { waitFor } from "../_helpers/wait.ts";
import {
  assetsDir,
  createCrd,
  createNamespace,
  createNode,
  DEFAULT_CONTROLLERS,
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
      await createCrd(cp, crd);
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
      // The authorizer learns of the binding from its watch a moment later:
      // poll until allowed, within a bound; any answer but 403 ends it.
      const allowed = await waitFor(
        "the RoleBinding to take effect",
        async () => {
          const r = await cp.api("GET", path, undefined, { token: sa.token });
          return r.status === 403 ? undefined : r;
        },
        10_000,
      );
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

/** True while a process with this pid exists (zombies included). */
function isAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

Deno.test("ControlPlane.stop() kills all four servers and removes the temp dir", async () => {
  const cp = await startControlPlane({ controllers: true });
  const expected = {
    etcd: "etcd",
    apiserver: "kube-apiserver",
    controllerManager: "kube-controller-manager",
    scheduler: "kube-scheduler",
  };
  assert.deepEqual(Object.keys(cp.pids).sort(), Object.keys(expected).sort());
  for (const [key, binary] of Object.entries(expected)) {
    const pid = cp.pids[key as keyof typeof expected]!;
    // The pid is the server itself, not a wrapper shell.
    const argv0 = (await Deno.readTextFile(`/proc/${pid}/cmdline`))
      .split("\0")[0]!;
    assert.ok(argv0.endsWith(`/${binary}`), `${key}: ${pid} runs ${argv0}`);
  }
  await cp.stop();
  await cp.stop(); // idempotent
  for (const [key, pid] of Object.entries(cp.pids)) {
    assert.equal(isAlive(pid), false, `${key} (pid ${pid}) still alive`);
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

Deno.test("startControlPlane() fails with a component's last log lines when it dies", async () => {
  const real = await assetsDir();
  const fake = await Deno.makeTempDir({ prefix: "kcm-fake-assets-" });
  try {
    for (const name of ["etcd", "kube-apiserver", "kube-scheduler"]) {
      await Deno.symlink(`${real}/${name}`, `${fake}/${name}`);
    }
    // A kube-controller-manager that keeps its kubeconfig and dies at once.
    await Deno.writeTextFile(
      `${fake}/kube-controller-manager`,
      "#!/bin/bash\n" +
        `for a in "$@"; do case $a in --kubeconfig=*) cp "\${a#*=}" ${fake}/kubeconfig;; esac; done\n` +
        "echo 'E0101 unknown controller \"kcm-test\"' >&2\nexit 4\n",
      { mode: 0o755 },
    );
    const error = await startControlPlane({
      assets: fake,
      controllers: true,
      readyTimeoutMs: 20_000,
    }).then(() => undefined, (e: Error) => e);
    assert.ok(error instanceof Error, "startControlPlane() should have failed");
    assert.match(error.message, /kube-controller-manager exited with code 4/);
    assert.match(error.message, /unknown controller "kcm-test"/);
    // Its own user, not the admin; and the apiserver is gone with the rest.
    const kubeconfig = await Deno.readTextFile(`${fake}/kubeconfig`);
    assert.match(kubeconfig, /name: system:kube-controller-manager/);
    const server = /server: (\S+)/.exec(kubeconfig)![1]!;
    await assert.rejects(fetch(`${server}/readyz`));
  } finally {
    await Deno.remove(fake, { recursive: true });
  }
});

interface Pod {
  metadata: {
    name: string;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec: {
    nodeName?: string;
    affinity?: {
      nodeAffinity?: {
        requiredDuringSchedulingIgnoredDuringExecution?: {
          nodeSelectorTerms: {
            matchFields?: { key: string; values: string[] }[];
          }[];
        };
      };
    };
    tolerations?: { key?: string; effect?: string; operator?: string }[];
  };
  status: {
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
    }[];
  };
}

/** The node a DaemonSet pod is meant for (its required node affinity). */
function targetNode(pod: Pod): string | undefined {
  return pod.spec.affinity?.nodeAffinity
    ?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0]
    ?.matchFields?.find((f) => f.key === "metadata.name")?.values[0];
}

Deno.test("startControlPlane({ controllers: true }) runs the garbage collector, the DaemonSet controller and the scheduler", async (t) => {
  await using cp = await startControlPlane({
    controllers: true,
    crds: [crd],
  });
  assert.deepEqual(cp.controllers, DEFAULT_CONTROLLERS);
  assert.ok(cp.timings.controllerManagerMs! >= cp.timings.apiserverMs);
  assert.ok(cp.timings.schedulerMs! >= cp.timings.apiserverMs);
  // deno-lint-ignore no-console
  console.log(`control plane with controllers: ${JSON.stringify(cp.timings)}`);

  await t.step("each component runs as its own user", async () => {
    for (const log of [cp.controllerManagerLog!, cp.schedulerLog!]) {
      assert.ok((await Deno.stat(log)).size > 0, log);
    }
    const kubeconfigs = [
      "kube-controller-manager.kubeconfig",
      "kube-scheduler.kubeconfig",
    ];
    for (const file of kubeconfigs) {
      const text = await Deno.readTextFile(`${cp.dir}/${file}`);
      assert.ok(!text.includes(cp.adminToken), `${file} holds the admin token`);
    }
    // --use-service-account-credentials: one ServiceAccount per controller.
    const accounts = await waitFor(
      "controller ServiceAccounts",
      async () => {
        const { body } = await cp.api(
          "GET",
          "/api/v1/namespaces/kube-system/serviceaccounts",
        );
        const names: string[] = body.items.map((
          i: { metadata: { name: string } },
        ) => i.metadata.name);
        return names.includes("daemon-set-controller") &&
            names.includes("generic-garbage-collector")
          ? names
          : undefined;
      },
    );
    assert.ok(accounts.length >= 2);
  });

  await t.step(
    "a new namespace gets its default ServiceAccount from the controller",
    async () => {
      const created = await cp.api("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "made-bare" },
      });
      assert.equal(created.status, 201);
      await waitFor(
        "ServiceAccount made-bare/default",
        async () =>
          (await cp.api(
              "GET",
              "/api/v1/namespaces/made-bare/serviceaccounts/default",
            )).status === 200
            ? true
            : undefined,
      );
    },
  );

  await t.step(
    "deleting a Node deletes what it owns, and only that",
    async () => {
      const doomed = await createNode(cp, "gc-doomed");
      const kept = await createNode(cp, "gc-kept");
      await createNamespace(cp, "gc");
      const ownedBy = (node: { metadata: { name: string; uid: string } }) => [{
        apiVersion: "v1",
        kind: "Node",
        name: node.metadata.name,
        uid: node.metadata.uid,
      }];
      const objects = [
        ["/api/v1/namespaces/gc/configmaps", "ConfigMap", "v1", {
          data: { a: "b" },
        }],
        [
          "/apis/testenv.kcm.test/v1/namespaces/gc/widgets",
          "Widget",
          "testenv.kcm.test/v1",
          { spec: { size: 1 } },
        ],
      ] as const;
      for (const [path, kind, apiVersion, content] of objects) {
        for (const [name, owner] of [["doomed", doomed], ["kept", kept]]) {
          const created = await cp.api("POST", path, {
            apiVersion,
            kind,
            metadata: { name, ownerReferences: ownedBy(owner) },
            ...content,
          });
          assert.equal(created.status, 201, JSON.stringify(created.body));
        }
      }
      assert.equal(
        (await cp.api("DELETE", "/api/v1/nodes/gc-doomed")).status,
        200,
      );
      for (const [path] of objects) {
        // The CRD was created before the controller-manager started, so the
        // garbage collector watches widgets already: no 30 s discovery wait.
        await waitFor(
          `${path}/doomed deleted`,
          async () =>
            (await cp.api("GET", `${path}/doomed`)).status === 404
              ? true
              : undefined,
          15_000,
        );
        assert.equal((await cp.api("GET", `${path}/kept`)).status, 200);
      }
    },
  );

  await t.step(
    "a DaemonSet gets pods from the controller, placed by the scheduler",
    async () => {
      await createNode(cp, "ds-ready");
      await createNode(cp, "ds-cordoned", { unschedulable: true });
      await createNode(cp, "ds-not-ready", { ready: false });
      await createNode(cp, "ds-tolerated", {
        taints: [{ key: "kcm.test/nfv", value: "yes", effect: "NoSchedule" }],
      });
      await createNode(cp, "ds-untolerated", {
        taints: [{ key: "kcm.test/other", effect: "NoSchedule" }],
      });
      // As the admission chain leaves a new Node: not-ready:NoSchedule taint.
      const bare = await cp.api("POST", "/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "ds-bare" },
      });
      assert.deepEqual(bare.body.spec.taints, [
        { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" },
      ]);
      // Untainted but without status: no allocatable pods.
      await cp.api("POST", "/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "ds-no-allocatable" },
      });
      const untainted = await cp.api(
        "PATCH",
        "/api/v1/nodes/ds-no-allocatable",
        { spec: { taints: null } },
        { contentType: "application/merge-patch+json" },
      );
      assert.equal(untainted.status, 200);

      // ds-bare and ds-no-allocatable lack the hostname label createNode sets.
      for (const name of ["ds-bare", "ds-no-allocatable"]) {
        const labelled = await cp.api("PATCH", `/api/v1/nodes/${name}`, {
          metadata: { labels: { "kubernetes.io/hostname": name } },
        }, { contentType: "application/merge-patch+json" });
        assert.equal(labelled.status, 200);
      }

      await createNamespace(cp, "ds");
      const created = await cp.api(
        "POST",
        "/apis/apps/v1/namespaces/ds/daemonsets",
        {
          apiVersion: "apps/v1",
          kind: "DaemonSet",
          metadata: { name: "agent" },
          spec: {
            selector: { matchLabels: { app: "agent" } },
            template: {
              metadata: { labels: { app: "agent" } },
              spec: {
                // Only the nodes of this step (earlier steps made others).
                nodeSelector: {},
                affinity: {
                  nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                      nodeSelectorTerms: [{
                        matchExpressions: [{
                          key: "kubernetes.io/hostname",
                          operator: "In",
                          values: [
                            "ds-ready",
                            "ds-cordoned",
                            "ds-not-ready",
                            "ds-tolerated",
                            "ds-untolerated",
                            "ds-bare",
                            "ds-no-allocatable",
                          ],
                        }],
                      }],
                    },
                  },
                },
                tolerations: [{ key: "kcm.test/nfv", operator: "Exists" }],
                containers: [{
                  name: "agent",
                  image: "kcm-test",
                  resources: { requests: { cpu: "100m", memory: "16Mi" } },
                }],
              },
            },
          },
        },
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const placed = [
        "ds-ready",
        "ds-cordoned",
        "ds-not-ready",
        "ds-tolerated",
      ];
      const pods = await waitFor("DaemonSet pods placed", async () => {
        const { body } = await cp.api("GET", "/api/v1/namespaces/ds/pods");
        const items: Pod[] = body.items;
        const bound = items.filter((p) => p.spec.nodeName !== undefined);
        const pending = items.find((p) =>
          targetNode(p) === "ds-no-allocatable" &&
          p.status.conditions?.some((c) => c.reason === "Unschedulable")
        );
        return bound.length === placed.length && pending ? items : undefined;
      });
      assert.equal(pods.length, placed.length + 1, JSON.stringify(pods));
      for (const pod of pods) {
        assert.deepEqual(
          pod.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
          ["DaemonSet/agent"],
        );
        // The controller pins each pod to its node by affinity; the
        // scheduler binds it there.
        const target = targetNode(pod);
        if (target === "ds-no-allocatable") {
          assert.equal(pod.spec.nodeName, undefined);
          const scheduled = pod.status.conditions!.find((c) =>
            c.type === "PodScheduled"
          )!;
          assert.equal(scheduled.status, "False");
          assert.match(scheduled.message!, /Too many pods/);
        } else {
          assert.equal(pod.spec.nodeName, target);
        }
        const tolerated = pod.spec.tolerations!.map((t) =>
          `${t.key}:${t.effect}`
        );
        for (
          const added of [
            "node.kubernetes.io/not-ready:NoExecute",
            "node.kubernetes.io/unreachable:NoExecute",
            "node.kubernetes.io/unschedulable:NoSchedule",
          ]
        ) {
          assert.ok(tolerated.includes(added), `${added} in ${tolerated}`);
        }
      }
      assert.deepEqual(
        pods.map((p) => p.spec.nodeName).filter(Boolean).sort(),
        [...placed].sort(),
      );

      // Deleting the DaemonSet lets the garbage collector delete its pods:
      // the unbound one goes at once; a bound one stays Terminating until
      // its kubelet confirms (there is none here, as on a dead node).
      assert.equal(
        (await cp.api("DELETE", "/apis/apps/v1/namespaces/ds/daemonsets/agent"))
          .status,
        200,
      );
      await waitFor("DaemonSet pods deleted", async () => {
        const { body } = await cp.api("GET", "/api/v1/namespaces/ds/pods");
        const items: (Pod & { metadata: { deletionTimestamp?: string } })[] =
          body.items;
        return items.length === placed.length &&
            items.every((p) =>
              p.spec.nodeName !== undefined &&
              p.metadata.deletionTimestamp !== undefined
            )
          ? true
          : undefined;
      });
    },
  );
});
