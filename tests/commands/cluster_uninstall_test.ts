/**
 * `kcm cluster-uninstall` end to end on a real control plane with
 * kube-controller-manager and kube-scheduler: cluster-init prepares fake
 * nodes served by the test kubelet (setup pods, then the DaemonSet
 * controller's daemon pods), and cluster-uninstall, as the installer with
 * exactly the shipped RBAC, takes kcm off them through uninstall pods the
 * test kubelet runs as the node agent, then off the cluster.
 */

import assert from "node:assert/strict";
import { commandLine, nodeTable } from "../_helpers/cluster_cli.ts";
import { parse } from "../../commands/cluster_uninstall.ts";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
  readManifest,
} from "../_helpers/k8s_manifests.ts";
import { serveKubeletLogs } from "../_helpers/kubelet_logs.ts";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import { waitFor } from "../_helpers/wait.ts";
import {
  type CrdObject,
  createNode,
  startControlPlane,
} from "../k8s/testenv.ts";
import { startTestKubelet } from "../k8s/test_kubelet.ts";

const NS = KCM_NAMESPACE;
const SYSFS = `${REPO_ROOT}/tests/fixtures/sysfs/xeon_d_1x8x2`;
const DS_PATH = `/apis/apps/v1/namespaces/${NS}/daemonsets/kcm-daemons`;
const CRB_PATH =
  "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kcm-node-agent";
const CRD_PATH =
  "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/nodereports.kcm.intel.com";

const invocation = (args: string[]) => commandLine("cluster-uninstall", args);

const table = nodeTable;

Deno.test("parse() of cluster-uninstall", () => {
  const options = parse(
    invocation(["--all-hosts", "--force", "--delete-crds"]),
  );
  assert.equal(options.hosts, "all");
  assert.equal(options.force, true);
  assert.equal(options.deleteCrds, true);
  assert.equal(options.timeoutSeconds, 600);
  // Negative cases.
  const cases: [string[], RegExp][] = [
    [[], /cluster-uninstall needs --host-list or --all-hosts/],
    [["--host-list=a", "--all-hosts"], /not both/],
    [["--host-list=A"], /not a valid node name/],
    [["--all-hosts", "--timeout=soon"], /--timeout must be a whole number/],
    [["--all-hosts", "--install-dir=opt"], /must be an absolute host path/],
    [["--all-hosts", "--delete-crds=yes"], /must not have an argument/],
    [["--all-hosts", "--num-dp-cores=2"], /not an option of cluster-uninstall/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parse(invocation(args)), message, args.join(" "));
  }
});

Deno.test("cluster-uninstall takes kcm off nodes, then off the cluster", async (t) => {
  const crds = [
    ...await readManifest("crd-nodereports.yaml"),
    ...await readManifest("crd-reconcilereports.yaml"),
  ] as CrdObject[];
  await using cp = await startControlPlane({ controllers: true, crds });
  const kcm = await installKcmIdentities(cp);
  const nodes = ["node-a", "node-b"];
  for (const node of nodes) await createNode(cp, node);
  await using kubelet = await startTestKubelet(cp, {
    nodes,
    repoRoot: REPO_ROOT,
    sysfs: { "node-a": SYSFS, "node-b": SYSFS },
  });
  await using _logs = await serveKubeletLogs(cp, kubelet, nodes);
  const env = { ...kcm.installer.inClusterEnv, KCM_LOG_LEVEL: "INFO" };
  const kcmCli = (args: string[]) => runKcm(args, { env });
  const node = async (name: string) =>
    (await cp.api("GET", `/api/v1/nodes/${name}`)).body;
  const status = async (path: string) => (await cp.api("GET", path)).status;
  const report = (name: string) =>
    status(`/apis/kcm.intel.com/v1/namespaces/${NS}/nodereports/${name}`);
  const root = (name: string) => kubelet.nodeRoot(name);
  const exists = (path: string) =>
    Deno.lstat(path).then(() => true, () => false);
  const daemonPods = async () =>
    (await cp.api(
      "GET",
      `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/component=daemons`,
    )).body.items.map((p: { spec: { nodeName: string } }) => p.spec.nodeName)
      .sort();

  const init = await kcmCli([
    "cluster-init",
    "--host-list=node-a,node-b",
    "--kcm-img=registry.example/kcm:0.3",
    "--kcm-img-pol=IfNotPresent",
    "--timeout=240",
  ]);
  assert.equal(init.code, 0, init.stderr);
  for (const name of nodes) {
    await waitFor(
      `the report of ${name}`,
      async () => (await report(name)) === 200 ? true : undefined,
      120_000,
    );
  }

  await t.step(
    "one node: its files, marks, reports and daemon pod go",
    async () => {
      const result = await kcmCli([
        "cluster-uninstall",
        "--host-list=node-a",
        "--timeout=120",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(table(result.stdout), { "node-a": "ok" });
      assert.equal(await exists(`${root("node-a")}/etc/kcm/pools`), false);
      assert.equal(await exists(`${root("node-a")}/opt/bin/kcm`), false);
      const a = await node("node-a");
      assert.equal(a.metadata.labels["kcm.intel.com/kcm-node"], undefined);
      assert.equal(a.spec.taints, undefined);
      assert.equal(
        a.status.capacity["kcm.intel.com/dataplane-cores"],
        undefined,
      );
      assert.equal(await report("node-a"), 404);
      assert.deepEqual(await daemonPods(), ["node-b"]);
      // node-b still runs kcm: the cluster objects stay.
      assert.match(
        result.stderr,
        /WARNING:root:Kept the DaemonSet, webhook, node agent bindings and CRDs: 1 node\(s\) still carry kcm's label \(node-b\); uninstall them too, or give --force\n/,
      );
      assert.equal(await status(DS_PATH), 200);
      assert.equal(await status(CRB_PATH), 200);
      assert.equal(
        (await node("node-b")).metadata.labels["kcm.intel.com/kcm-node"],
        "true",
      );
    },
  );

  // Negative cases.
  await t.step("a node with a live task is not uninstalled", async () => {
    // A live pid (this test's) holds a dataplane list of node-b.
    const dataplane = `${root("node-b")}/etc/kcm/pools/dataplane`;
    const [list] = (await Array.fromAsync(Deno.readDir(dataplane)))
      .filter((e) => e.isDirectory);
    await Deno.writeTextFile(
      `${dataplane}/${list!.name}/tasks`,
      String(Deno.pid),
    );
    const result = await kcmCli([
      "cluster-uninstall",
      "--all-hosts",
      "--timeout=120",
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(table(result.stdout), {
      "node-a": "ok",
      "node-b": "failed | uninstall: Error (exit code 1)",
    });
    assert.match(
      result.stderr,
      /ERROR:root: {2}\| kcm: error: 1 task still hold cpu lists of "\S+": dataplane \S+ \(pid \d+\); nothing was removed\n/,
    );
    assert.ok(await exists(`${root("node-b")}/etc/kcm/pools`));
    assert.equal(await status(DS_PATH), 200);
  });

  await t.step(
    "--force --delete-crds finishes and removes the cluster objects",
    async () => {
      const result = await kcmCli([
        "cluster-uninstall",
        "--all-hosts",
        "--force",
        "--delete-crds",
        "--timeout=120",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(table(result.stdout), {
        "node-a": "ok",
        "node-b": "ok",
      });
      for (
        const line of [
          "Deleted DaemonSet kcm-system/kcm-daemons",
          "MutatingWebhookConfiguration kcm-webhook was already gone",
          "Deleted ClusterRoleBinding kcm-node-agent",
          "Deleted RoleBinding kcm-system/kcm-node-agent",
          "Deleted RoleBinding default/kcm-node-agent-events",
          "Deleted CustomResourceDefinition nodereports.kcm.intel.com",
          "Deleted CustomResourceDefinition reconcilereports.kcm.intel.com",
        ]
      ) assert.match(result.stderr, new RegExp(`INFO:root:${line}\n`));
      assert.equal(await exists(`${root("node-b")}/etc/kcm/pools`), false);
      assert.equal(await status(CRB_PATH), 404);
      await waitFor(
        "the CRD to go",
        async () => (await status(CRD_PATH)) === 404 ? true : undefined,
      );
      await waitFor(
        "the DaemonSet and its pods to go",
        async () =>
          (await status(DS_PATH)) === 404 && (await daemonPods()).length === 0
            ? true
            : undefined,
        60_000,
      );
      const left = (await cp.api("GET", `/api/v1/namespaces/${NS}/pods`)).body
        .items.map((p: { metadata: { name: string } }) => p.metadata.name);
      assert.deepEqual(left, []);
      // The installer keeps its own rights: a rerun is possible.
      assert.equal(
        await status(
          "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kcm-installer",
        ),
        200,
      );
    },
  );

  await t.step("a rerun has nothing to do", async () => {
    const result = await kcmCli([
      "cluster-uninstall",
      "--all-hosts",
      "--delete-crds",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(table(result.stdout), {
      "node-a": "ok | nothing left to remove",
      "node-b": "ok | nothing left to remove",
    });
    assert.match(
      result.stderr,
      /INFO:root:DaemonSet kcm-system\/kcm-daemons was already gone\n/,
    );
    assert.doesNotMatch(result.stderr, /Creating uninstall pods/);
  });

  await t.step(
    "a node marked again after the bindings went is named",
    async () => {
      const relabelled = await cp.api("PATCH", "/api/v1/nodes/node-a", {
        metadata: { labels: { "kcm.intel.com/kcm-node": "true" } },
      }, { contentType: "application/merge-patch+json" });
      assert.equal(relabelled.status, 200);
      const result = await kcmCli(["cluster-uninstall", "--host-list=node-a"]);
      assert.equal(result.code, 1, result.stderr);
      assert.deepEqual(table(result.stdout), {
        "node-a":
          "failed | kcm's node agent binding is gone: kubectl apply -f resources/rbac.yaml, then run again",
      });
    },
  );
  assert.deepEqual(kubelet.errors, []);
});
