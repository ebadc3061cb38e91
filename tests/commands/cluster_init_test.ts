/**
 * `kcm cluster-init` end to end on a real control plane with
 * kube-controller-manager and kube-scheduler: kcm runs as the installer
 * (ServiceAccount kcm-system/kcm-installer) with exactly the shipped RBAC
 * and admission policy; the test kubelet runs the setup pods kcm creates
 * and the pods the DaemonSet controller makes, on fake nodes (each with
 * its own host folder and sysfs fixture), as the node agent with a token
 * bound to the pod. Pod logs reach kcm through the API server
 * (tests/_helpers/kubelet_logs.ts).
 */

import assert from "node:assert/strict";
import { commandLine, nodeTable } from "../_helpers/cluster_cli.ts";
import { parse } from "../../commands/cluster_init.ts";
import {
  applyObject,
  installKcmIdentities,
  KCM_NAMESPACE,
  readManifest,
} from "../_helpers/k8s_manifests.ts";
import { serveKubeletLogs } from "../_helpers/kubelet_logs.ts";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import { waitFor } from "../_helpers/wait.ts";
import {
  type CrdObject,
  createNamespace,
  createNode,
  startControlPlane,
} from "../k8s/testenv.ts";
import { startTestKubelet } from "../k8s/test_kubelet.ts";

const NS = KCM_NAMESPACE;
const SYSFS = `${REPO_ROOT}/tests/fixtures/sysfs`;
const DS_PATH = `/apis/apps/v1/namespaces/${NS}/daemonsets/kcm-daemons`;

const invocation = (args: string[]) => commandLine("cluster-init", args);

Deno.test("parse() of cluster-init accepts the seed's defaults", () => {
  const options = parse(invocation(["--host-list= a ,b.example"]));
  assert.deepEqual(options.hosts, ["a", "b.example"]);
  assert.deepEqual(options.commands, [
    "init",
    "reconcile",
    "install",
    "discover",
    "nodereport",
  ]);
  assert.deepEqual(options.settings, {
    image: "kcm",
    pullPolicy: "Never",
    confDir: "/etc/kcm",
    installDir: "/opt/bin",
    numDpCores: 4,
    numCpCores: 1,
  });
  assert.deepEqual(options.given, {
    image: false,
    pullPolicy: false,
    confDir: false,
    installDir: false,
  });
  assert.equal(options.timeoutSeconds, 600);
  assert.equal(options.namespace, undefined);
  assert.deepEqual(options.connection, {
    kubeconfig: undefined,
    context: undefined,
    insecureHttp: false,
  });
  const all = parse(invocation([
    "--all-hosts",
    "--kcm-img=kcm",
    "--conf=/var/kcm",
    "--context=prod",
    "--insecure-http",
  ]));
  assert.equal(all.hosts, "all");
  assert.deepEqual(all.given, {
    image: true,
    pullPolicy: false,
    confDir: true,
    installDir: false,
  });
  assert.equal(all.connection.context, "prod");
  assert.equal(all.connection.insecureHttp, true);
});

// Negative cases.
Deno.test("parse() of cluster-init rejects bad flags", () => {
  const cases: [string[], RegExp][] = [
    [[], /needs --host-list or --all-hosts/],
    [["--all-hosts", "--host-list=a"], /not both/],
    [["--host-list=a,,b"], /empty entry/],
    [["--host-list=Node_1"], /"Node_1" is not a valid node name/],
    [["--host-list=a,a"], /names "a" twice/],
    [
      ["--all-hosts", "--kcm-cmd-list=init,isolate"],
      /KCM command should be one of/,
    ],
    [
      ["--all-hosts", "--kcm-cmd-list=discover,init"],
      /init command should be run and listed first/,
    ],
    [
      ["--all-hosts", "--kcm-img-pol=Sometimes"],
      /Image pull policy should be one of/,
    ],
    [["--all-hosts", "--kcm-img= "], /--kcm-img is not an image name/],
    [["--all-hosts", "--kcm-img=a b"], /--kcm-img is not an image name/],
    [
      ["--all-hosts", "--num-dp-cores=3.5"],
      /--num-dp-cores must be a whole number/,
    ],
    [
      ["--all-hosts", "--num-cp-cores=-1"],
      /--num-cp-cores must be a whole number/,
    ],
    [["--all-hosts", "--timeout=0"], /--timeout must be a whole number >= 1/],
    [["--all-hosts", "--conf-dir=etc/kcm"], /--conf-dir must be an absolute/],
    [["--all-hosts", "--namespace=Kcm"], /not a valid namespace/],
    [["--all-hosts", "--kubeconfig="], /--kubeconfig must not be empty/],
    [["--all-hosts", "--context= "], /--context must not be empty/],
    [["--all-hosts", "--insecure-http=yes"], /must not have an argument/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parse(invocation(args)), message, args.join(" "));
  }
});

const table = nodeTable;

Deno.test("cluster-init prepares nodes through the API", async (t) => {
  const crds = [
    ...await readManifest("crd-nodereports.yaml"),
    ...await readManifest("crd-reconcilereports.yaml"),
  ] as CrdObject[];
  await using cp = await startControlPlane({ controllers: true, crds });
  const kcm = await installKcmIdentities(cp);
  const good = ["node-a", "node-b", "node-c"];
  const served = [...good, "node-small"];
  for (const node of served) await createNode(cp, node);
  await using kubelet = await startTestKubelet(cp, {
    nodes: served,
    repoRoot: REPO_ROOT,
    sysfs: {
      "node-a": `${SYSFS}/xeon_d_1x8x2`,
      "node-b": `${SYSFS}/xeon_d_1x8x2`,
      "node-c": `${SYSFS}/sparse_core_ids_2x10`,
      "node-small": `${SYSFS}/offline_cpu_1x4x2`,
    },
  });
  await using _logs = await serveKubeletLogs(cp, kubelet, served);
  const env = { ...kcm.installer.inClusterEnv, KCM_LOG_LEVEL: "DEBUG" };
  const clusterInit = (args: string[], extra: Record<string, string> = {}) =>
    runKcm(["cluster-init", ...args], { env: { ...env, ...extra } });
  const node = async (name: string) =>
    (await cp.api("GET", `/api/v1/nodes/${name}`)).body;
  const daemonSet = async () => (await cp.api("GET", DS_PATH)).body;

  await t.step(
    "three nodes: config, binary, node patches, DaemonSet",
    async () => {
      const result = await clusterInit([
        `--host-list=${good.join(",")}`,
        "--timeout=240",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(
        !result.stderr.includes(kcm.installer.token),
        "token in DEBUG stderr",
      );
      assert.deepEqual(table(result.stdout), {
        "node-a": "ok",
        "node-b": "ok",
        "node-c": "ok",
      });
      for (const name of good) {
        const root = kubelet.nodeRoot(name);
        const lists = [];
        for await (
          const e of Deno.readDir(`${root}/etc/kcm/pools/dataplane`)
        ) if (e.isDirectory) lists.push(e.name);
        assert.equal(lists.length, 4, `${name}: ${lists}`);
        assert.ok(
          (await Deno.stat(`${root}/opt/bin/kcm`)).isFile,
          `${name}: kcm installed`,
        );
        const n = await node(name);
        assert.equal(n.status.capacity["kcm.intel.com/dataplane-cores"], "4");
        assert.equal(n.metadata.labels["kcm.intel.com/kcm-node"], "true");
        assert.ok(
          n.spec.taints.some((x: { key: string }) => x.key === "kcm"),
        );
        // One progress line per state change, ending with Succeeded.
        const prefix = `INFO:root:Node "${name}": pod kcm-setup-${name} `;
        const states = result.stderr.split("\n")
          .filter((l) => l.startsWith(prefix))
          .map((l) => l.slice(prefix.length));
        assert.equal(states.at(-1), "Succeeded", states.join(" / "));
        assert.ok(
          states.every((s, i) => i === 0 || s !== states[i - 1]),
          states.join(" / "),
        );
      }
      assert.match(
        result.stderr,
        /INFO:root:setup pods: 3 succeeded, 0 failed, 0 pending\n/,
      );
      const ds = await daemonSet();
      const spec = ds.spec.template.spec;
      assert.deepEqual(spec.nodeSelector, { "kcm.intel.com/kcm-node": "true" });
      assert.equal(spec.affinity, undefined);
      assert.deepEqual(
        spec.containers.map((c: { command: string[] }) => c.command.join(" ")),
        [
          "/usr/local/bin/kcm reconcile --conf-dir=/etc/kcm --interval=60 --publish --metrics-listen=:9102",
          "/usr/local/bin/kcm node-report --conf-dir=/etc/kcm --interval=60 --publish --metrics-listen=:9103",
          "/usr/local/bin/kcm discover --conf-dir=/etc/kcm --interval=300",
        ],
      );
      assert.equal(spec.serviceAccountName, "kcm-node-agent");
      assert.equal(spec.priorityClassName, "system-node-critical");
      assert.ok(
        ds.metadata.managedFields.some((f: { manager: string }) =>
          f.manager === "kcm"
        ),
      );
      assert.match(
        result.stderr,
        /INFO:root:DaemonSet kcm-system\/kcm-daemons created: reconcile, node-report, discover on nodes labelled kcm.intel.com\/kcm-node=true\n/,
      );
    },
  );

  await t.step(
    "the DaemonSet controller's pods publish both reports",
    async () => {
      for (const plural of ["nodereports", "reconcilereports"]) {
        for (const name of good) {
          const object = await waitFor(
            `${plural}/${name}`,
            async () => {
              const r = await cp.api(
                "GET",
                `/apis/kcm.intel.com/v1/namespaces/${NS}/${plural}/${name}`,
              );
              return r.status === 200 ? r.body : undefined;
            },
            120_000,
          );
          assert.equal(object.node, name);
        }
      }
      const pods = (await cp.api(
        "GET",
        `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/component=daemons`,
      )).body.items;
      assert.deepEqual(
        pods.map((p: { spec: { nodeName: string } }) => p.spec.nodeName)
          .sort(),
        good,
      );
      assert.ok(
        pods.every((p: { metadata: { ownerReferences: { kind: string }[] } }) =>
          p.metadata.ownerReferences[0]?.kind === "DaemonSet"
        ),
      );
      assert.deepEqual(kubelet.errors, []);
    },
  );

  await t.step(
    "a failing init names node, pod, container, reason, log",
    async () => {
      const result = await clusterInit([
        "--host-list=node-a,node-small",
        "--timeout=240",
      ]);
      assert.equal(result.code, 1, result.stderr);
      const stderr = result.stderr.split("\n")
        .filter((l) => !l.startsWith("DEBUG:")).join("\n");
      assert.match(
        stderr,
        /ERROR:root:Node "node-small": pod kcm-setup-node-small failed: init: Error \(exit code 1\)\n/,
      );
      assert.match(
        stderr,
        /ERROR:root:Node "node-small": last lines of the log of kcm-setup-node-small\/init:\nERROR:root: {2}\| .*\n/,
      );
      const tail = stderr.split("\n").filter((l) =>
        l.startsWith("ERROR:root:  | ")
      ).join("\n");
      assert.match(tail, /kcm: error: .*cores/i);
      assert.match(
        stderr,
        /kcm: error: cluster-init did not finish on 1 of 2 nodes: node-small\n/,
      );
      assert.deepEqual(table(result.stdout), {
        "node-a": "ok",
        "node-small": "failed | init: Error (exit code 1)",
      });
      // node-a ran again: its old pod was replaced, its config kept.
      assert.match(stderr, /Deleting pod kcm-setup-node-a of an earlier run/);
      assert.match(
        await kubelet.logs(NS, "kcm-setup-node-a", "init"),
        /already has the requested layout; kept as it is/,
      );
      // The failed node was never labelled: no daemon pod for it.
      assert.equal(
        (await node("node-small")).metadata.labels["kcm.intel.com/kcm-node"],
        undefined,
      );
    },
  );

  await t.step(
    "a rerun with other pool sizes is an error naming the node",
    async () => {
      const before = await Array.fromAsync(
        Deno.readDir(`${kubelet.nodeRoot("node-b")}/etc/kcm/pools/dataplane`),
      );
      const result = await clusterInit([
        "--host-list=node-b",
        "--num-dp-cores=2",
        "--kcm-cmd-list=init",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        table(result.stdout)["node-b"]!,
        /^failed \| init: Error \(exit code 1\)$/,
      );
      assert.match(
        result.stderr,
        /ERROR:root: {2}\| kcm: error: Config directory \S+ exists with another layout than --num-dp-cores=2 --num-cp-cores=1: .*pool "dataplane" has 4 cpu lists \(.*\), the requested layout 2 \(.*\)/,
      );
      const after = await Array.fromAsync(
        Deno.readDir(`${kubelet.nodeRoot("node-b")}/etc/kcm/pools/dataplane`),
      );
      assert.equal(after.length, before.length);
    },
  );

  await t.step(
    "an existing DaemonSet changes only where the flags say",
    async () => {
      // Another manager adds a toleration and an annotation.
      const edited = await cp.api("PATCH", DS_PATH, {
        metadata: { annotations: { "example.com/owner": "team-a" } },
      }, { contentType: "application/merge-patch+json" });
      assert.equal(edited.status, 200, JSON.stringify(edited.body));
      const image = await clusterInit([
        "--host-list=node-a",
        "--kcm-cmd-list=reconcile",
        "--kcm-img=registry.example/kcm:0.3",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(image.code, 0, image.stderr);
      assert.match(
        image.stderr,
        /INFO:root:DaemonSet kcm-system\/kcm-daemons updated, 3 changes:\nINFO:root: {2}spec\.template\.spec\.containers\[reconcile\]\.image: "kcm" -> "registry\.example\/kcm:0\.3"\n/,
      );
      let ds = await daemonSet();
      assert.deepEqual(
        ds.spec.template.spec.containers.map((c: { name: string }) => c.name),
        ["reconcile", "node-report", "discover"],
      );
      assert.equal(ds.metadata.annotations["example.com/owner"], "team-a");
      // A rerun with the default flags keeps the image it was given.
      const again = await clusterInit([
        "--host-list=node-a",
        "--kcm-cmd-list=reconcile,nodereport",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(again.code, 0, again.stderr);
      assert.match(
        again.stderr,
        /INFO:root:DaemonSet kcm-system\/kcm-daemons unchanged\n/,
      );
      ds = await daemonSet();
      assert.ok(
        ds.spec.template.spec.containers.every((c: { image: string }) =>
          c.image === "registry.example/kcm:0.3"
        ),
      );
    },
  );

  await t.step(
    "a DaemonSet applied from resources/ is taken over unchanged",
    async () => {
      assert.equal((await cp.api("DELETE", DS_PATH)).status, 200);
      await waitFor(
        "the DaemonSet to go",
        async () =>
          (await cp.api("GET", DS_PATH)).status === 404 ? true : undefined,
      );
      const [shipped] = await readManifest("kcm-daemonset.yaml");
      const applied = await applyObject(cp, shipped!, { namespace: NS });
      assert.equal(applied.status, 201, JSON.stringify(applied.body));
      const result = await clusterInit([
        "--host-list=node-a",
        "--kcm-cmd-list=reconcile,nodereport,discover",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        /INFO:root:DaemonSet kcm-system\/kcm-daemons unchanged\n/,
      );
    },
  );

  await t.step(
    "--all-hosts skips NotReady, cordoned and control-plane nodes",
    async () => {
      await createNode(cp, "node-cordoned", { unschedulable: true });
      await createNode(cp, "node-notready", { ready: false });
      await createNode(cp, "node-cp", {
        labels: { "node-role.kubernetes.io/control-plane": "" },
      });
      const result = await clusterInit([
        "--all-hosts",
        "--kcm-cmd-list=reconcile,nodereport",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(result.code, 0, result.stderr);
      const rows = table(result.stdout);
      assert.equal(
        rows["node-cordoned"],
        "skipped | node is cordoned (unschedulable)",
      );
      assert.equal(rows["node-notready"], "skipped | node is NotReady");
      assert.equal(
        rows["node-cp"],
        "skipped | control-plane node (name it in --host-list to include it)",
      );
      assert.equal(rows["node-a"], "ok");
      assert.match(
        result.stderr,
        /INFO:root:Skipping node "node-notready": node is NotReady\n/,
      );
      // Named in --host-list, a NotReady node is skipped and makes it fail.
      const named = await clusterInit([
        "--host-list=node-notready,node-a",
        "--kcm-cmd-list=discover",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(named.code, 1, named.stderr);
      assert.match(
        named.stderr,
        /WARNING:root:Skipping node "node-notready": node is NotReady\n/,
      );
      assert.deepEqual(table(named.stdout), {
        "node-a": "ok",
        "node-notready": "skipped | node is NotReady",
      });
    },
  );

  // Negative cases.
  await t.step(
    "a pod stuck for good fails at once, a dead node blocks only itself",
    async () => {
      // No kubelet serves node-dead: the test writes the status a kubelet
      // would write when the image is absent under pull policy Never.
      await createNode(cp, "node-dead");
      const podPath = `/api/v1/namespaces/${NS}/pods/kcm-setup-node-dead`;
      const run = clusterInit([
        "--host-list=node-dead",
        "--kcm-cmd-list=discover",
        "--timeout=600",
      ], { KCM_LOG_LEVEL: "INFO" });
      await waitFor("the setup pod of node-dead", async () => {
        const r = await cp.api("GET", podPath);
        return r.status === 200 ? true : undefined;
      });
      const patched = await cp.api("PATCH", `${podPath}/status`, {
        status: {
          containerStatuses: [{
            name: "discover",
            image: "kcm",
            imageID: "",
            ready: false,
            restartCount: 0,
            started: false,
            state: {
              waiting: {
                reason: "ErrImageNeverPull",
                message:
                  'Container image "kcm" is not present with pull policy of Never',
              },
            },
          }],
        },
      }, { contentType: "application/merge-patch+json" });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      // Well before the 600 s timeout.
      const result = await run;
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /ERROR:root:Node "node-dead": pod kcm-setup-node-dead failed: Pending \(ErrImageNeverPull\): ErrImageNeverPull: Container image "kcm" is not present with pull policy of Never\n/,
      );
      assert.match(
        result.stderr,
        /kcm: error: cluster-init did not finish on 1 of 1 nodes: node-dead\n/,
      );
      // Its pod cannot be deleted (no kubelet confirms): it stays
      // Terminating. node-b is prepared all the same.
      const both = await clusterInit([
        "--host-list=node-dead,node-b",
        "--kcm-cmd-list=discover",
        "--timeout=10",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(both.code, 1, both.stderr);
      assert.deepEqual(table(both.stdout), {
        "node-dead":
          "timed out | the pod of an earlier run is still being deleted",
        "node-b": "ok",
      });
    },
  );

  await t.step("an unknown node fails before anything is created", async () => {
    const podUid = async () =>
      (await cp.api("GET", `/api/v1/namespaces/${NS}/pods/kcm-setup-node-a`))
        .body.metadata.uid;
    const dsVersion = async () => (await daemonSet()).metadata.resourceVersion;
    const before = [await podUid(), await dsVersion()];
    const result = await clusterInit(["--host-list=node-a,ghost,ghost-2"], {
      KCM_LOG_LEVEL: "INFO",
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^kcm: error: Nodes "ghost", "ghost-2" do not exist\nhint: check --host-list against `kubectl get nodes`\n$/,
    );
    assert.doesNotMatch(result.stderr, /Deleting pod|Creating setup pods/);
    assert.equal(result.stdout, "");
    assert.deepEqual([await podUid(), await dsVersion()], before);
  });

  await t.step(
    "Pod Security and a missing ServiceAccount are named",
    async () => {
      // As the admin (--kubeconfig), in namespaces set up wrong on purpose.
      await createNamespace(cp, "kcm-baseline");
      const labelled = await cp.api(
        "PATCH",
        "/api/v1/namespaces/kcm-baseline",
        {
          metadata: {
            labels: { "pod-security.kubernetes.io/enforce": "baseline" },
          },
        },
        { contentType: "application/merge-patch+json" },
      );
      assert.equal(labelled.status, 200);
      await cp.serviceAccount("kcm-baseline", "kcm-node-agent");
      const baseline = await clusterInit([
        "--host-list=node-a,node-b",
        "--namespace=kcm-baseline",
        `--kubeconfig=${cp.adminKubeconfig}`,
        "--kcm-cmd-list=discover",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(baseline.code, 1, baseline.stderr);
      assert.match(
        baseline.stderr,
        /ERROR:root:Node "node-a": failed: cannot create pod kcm-setup-node-a: POST \/api\/v1\/namespaces\/kcm-baseline\/pods: 403 Forbidden: pods "kcm-setup-node-a" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes/,
      );
      assert.match(
        baseline.stderr,
        /ERROR:root:hint: kcm's pods mount host paths, which only the "privileged" Pod Security level allows/,
      );
      const rows = table(baseline.stdout);
      assert.match(
        rows["node-a"]!,
        /^failed \| cannot create pod kcm-setup-node-a: POST .*: 403 Forbidden: .*violates PodSecurity/,
      );
      assert.equal(rows["node-b"], "failed | not created: 403 Forbidden");
      const none = await cp.api("GET", "/api/v1/namespaces/kcm-baseline/pods");
      assert.equal(none.body.items.length, 0);

      await createNamespace(cp, "kcm-nosa");
      const noAccount = await clusterInit([
        "--host-list=node-a",
        "--namespace=kcm-nosa",
        `--kubeconfig=${cp.adminKubeconfig}`,
        "--kcm-cmd-list=discover",
      ], { KCM_LOG_LEVEL: "INFO" });
      assert.equal(noAccount.code, 1, noAccount.stderr);
      assert.match(
        noAccount.stderr,
        /ERROR:root:hint: create ServiceAccount kcm-nosa\/kcm-node-agent: kubectl apply -f resources\/rbac\.yaml\n/,
      );
    },
  );

  await t.step("the installer may not work outside kcm-system", async () => {
    const result = await clusterInit([
      "--host-list=node-a",
      "--namespace=default",
      "--kcm-cmd-list=discover",
    ], { KCM_LOG_LEVEL: "INFO" });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /cannot list resource "pods" in API group "" in the namespace "default"\nhint: grant system:serviceaccount:kcm-system:kcm-installer "list" on "pods" in namespace default: apply the installer's roles in resources\/rbac\.yaml/,
    );
  });

  await t.step("flag errors come before any API call", async () => {
    const result = await runKcm(
      ["cluster-init", "--all-hosts", "--kcm-img-pol=Maybe"],
      {
        env: {
          KUBERNETES_SERVICE_HOST: "127.0.0.1",
          KUBERNETES_SERVICE_PORT: "1",
        },
      },
    );
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^kcm: error: Image pull policy should be one of \['Never', 'IfNotPresent', 'Always'\]\n/,
    );
    const missing = await runKcm([
      "cluster-init",
      "--all-hosts",
      "--kubeconfig=/nonexistent/config",
    ]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^kcm: error: Cannot read kubeconfig \/nonexistent\/config\n/,
    );
    const context = await runKcm([
      "cluster-init",
      "--all-hosts",
      `--kubeconfig=${cp.adminKubeconfig}`,
      "--context=nope",
    ]);
    assert.equal(context.code, 1);
    assert.match(context.stderr, /has no context "nope"\n/);
  });
  assert.deepEqual(kubelet.errors, []);
});

// Negative cases: answers the real API server does not give on demand.
Deno.test("cluster-init against an API server that keeps refusing", async (t) => {
  let status = 429;
  const requests: string[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      requests.push(`${request.method} ${new URL(request.url).pathname}`);
      return Response.json({
        kind: "Status",
        status: "Failure",
        reason: status === 429 ? "TooManyRequests" : "InternalError",
        message: status === 429 ? "slow down" : "etcd is unhappy",
        code: status,
      }, { status, headers: { "retry-after": "1" } });
    },
  );
  const dir = await Deno.makeTempDir({ prefix: "kcm-refusing-" });
  const kubeconfig = `${dir}/config`;
  await Deno.writeTextFile(
    kubeconfig,
    JSON.stringify({
      "current-context": "c",
      contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
      clusters: [{
        name: "k",
        cluster: { server: `http://127.0.0.1:${server.addr.port}` },
      }],
      users: [{ name: "u", user: { token: "t" } }],
    }),
  );
  const clusterInit = () =>
    runKcm([
      "cluster-init",
      "--all-hosts",
      `--kubeconfig=${kubeconfig}`,
      "--insecure-http",
    ], { env: { KCM_LOG_LEVEL: "INFO" } });
  try {
    for (
      const [code, line] of [[429, /429 TooManyRequests: slow down/], [
        500,
        /500 InternalError: etcd is unhappy/,
      ]] as const
    ) {
      await t.step(`${code}: one line, exit 1, nothing created`, async () => {
        status = code;
        requests.length = 0;
        const result = await clusterInit();
        assert.equal(result.code, 1);
        const lines = result.stderr.trimEnd().split("\n");
        assert.match(
          lines[0]!,
          /^kcm: error: cluster-init: GET \/api\/v1\/nodes: /,
        );
        assert.match(lines[0]!, line);
        assert.equal(lines.length, 2, result.stderr);
        assert.match(
          lines[1]!,
          /^hint: http:\/\/127\.0\.0\.1:\d+ kept answering \d+ while kcm retried: try again later/,
        );
        assert.equal(result.stdout, "");
        // Retried as the policy says, and nothing but the node list asked.
        assert.equal(requests.length, 6);
        assert.ok(requests.every((r) => r === "GET /api/v1/nodes"));
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
