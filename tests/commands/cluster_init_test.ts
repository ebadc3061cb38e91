/**
 * `kcm cluster-init` end to end: kcm runs as the `kcm` ServiceAccount with
 * the shipped RBAC against a real kube-apiserver, and the test kubelet runs
 * the pods it creates on fake nodes (each with its own host folder and
 * sysfs fixture). The apiserver reaches a tiny HTTPS "kubelet" of this file
 * for `pods/<p>/log`, which serves the test kubelet's container logs.
 */

import assert from "node:assert/strict";
import { parse } from "../../commands/cluster_init.ts";
import { type Invocation, parseCommandLine } from "../../core/cli.ts";
import { daemonSetNodes } from "../../core/k8s/workloads.ts";
import { kcmServiceAccount } from "../_helpers/k8s_manifests.ts";
import { REPORT_CRDS } from "../_helpers/report_api.ts";
import { REPO_ROOT, runKcm } from "../_helpers/run_cli.ts";
import {
  type ControlPlane,
  createNode,
  startControlPlane,
} from "../k8s/testenv.ts";
import { startTestKubelet, type TestKubelet } from "../k8s/test_kubelet.ts";
import { waitFor } from "../_helpers/wait.ts";

const NS = "kcm-system";
const SYSFS = `${REPO_ROOT}/tests/fixtures/sysfs`;

function invocation(args: string[]) {
  const line = parseCommandLine(["cluster-init", ...args]);
  assert.equal(line.kind, "command");
  return line as Invocation<"cluster-init">;
}

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
  assert.equal(options.timeoutSeconds, 600);
  assert.equal(options.namespace, undefined);
  assert.equal(parse(invocation(["--all-hosts"])).hosts, "all");
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
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parse(invocation(args)), message, args.join(" "));
  }
});

/** Serves `GET /containerLogs/<ns>/<pod>/<container>` from the test kubelet. */
async function serveKubeletLogs(
  cp: ControlPlane,
  kubelet: TestKubelet,
  nodes: string[],
) {
  const dir = await Deno.makeTempDir({ prefix: "kcm-fake-kubelet-" });
  const openssl = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=kubelet",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(openssl.success);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
    onListen() {},
  }, async (request) => {
    const url = new URL(request.url);
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(
      url.pathname,
    );
    if (!match) return new Response("not found", { status: 404 });
    const text = await kubelet.logs(match[1]!, match[2]!, match[3]!);
    const tail = Number(url.searchParams.get("tailLines") ?? "0");
    const lines = text.trimEnd().split("\n");
    return new Response(
      (tail > 0 ? lines.slice(-tail) : lines).join("\n") + "\n",
    );
  });
  for (const node of nodes) {
    const r = await cp.api("PATCH", `/api/v1/nodes/${node}/status`, {
      status: {
        addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
        daemonEndpoints: { kubeletEndpoint: { Port: server.addr.port } },
      },
    }, { contentType: "application/merge-patch+json" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  return {
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("cluster-init prepares nodes through the API", async (t) => {
  // The daemons publish reports; kcm does not create their CRDs.
  await using cp = await startControlPlane({ crds: REPORT_CRDS });
  const sa = await kcmServiceAccount(cp, NS);
  const good = ["node-a", "node-b", "node-c"];
  const served = [...good, "node-small"];
  for (const node of served) await createNode(cp, node);
  await createNode(cp, "node-cordoned", { unschedulable: true });
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
  const env = { ...sa.inClusterEnv, KCM_LOG_LEVEL: "DEBUG" };
  const clusterInit = (args: string[]) =>
    runKcm(["cluster-init", ...args], { env });
  const node = async (name: string) =>
    (await cp.api("GET", `/api/v1/nodes/${name}`)).body;

  await t.step(
    "three nodes: config, binary, node patches, DaemonSet",
    async () => {
      const result = await clusterInit([
        `--host-list=${good.join(",")}`,
        "--timeout=240",
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!result.stderr.includes(sa.token), "token in DEBUG stderr");
      for (const name of good) {
        const root = kubelet.nodeRoot(name);
        const lists = [];
        for await (
          const e of Deno.readDir(`${root}/etc/kcm/pools/dataplane`)
        ) if (e.isDirectory) lists.push(e.name);
        assert.equal(lists.length, 4, `${name}: ${lists}`);
        assert.ok(
          await exists(`${root}/opt/bin/kcm`),
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
      const ds = await cp.api(
        "GET",
        `/apis/apps/v1/namespaces/${NS}/daemonsets/kcm-daemons`,
      );
      assert.equal(ds.status, 200);
      const spec = ds.body.spec.template.spec;
      assert.deepEqual(daemonSetNodes(ds.body), good);
      assert.deepEqual(
        spec.containers.map((c: { command: string[] }) => c.command.join(" ")),
        [
          "/usr/local/bin/kcm reconcile --conf-dir=/etc/kcm --interval=60 --publish --metrics-listen=:9102",
          "/usr/local/bin/kcm node-report --conf-dir=/etc/kcm --interval=60 --publish --metrics-listen=:9103",
        ],
      );
      assert.equal(spec.serviceAccountName, "kcm");
      assert.deepEqual(spec.tolerations, [{ key: "kcm", operator: "Exists" }]);
    },
  );

  await t.step("the DaemonSet's pods publish both reports", async () => {
    // Play the DaemonSet controller: one pod of the template per node.
    const ds = (await cp.api(
      "GET",
      `/apis/apps/v1/namespaces/${NS}/daemonsets/kcm-daemons`,
    )).body;
    for (const name of good) {
      const r = await cp.api("POST", `/api/v1/namespaces/${NS}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `kcm-daemons-${name}`,
          labels: ds.spec.template.metadata.labels,
        },
        spec: { ...ds.spec.template.spec, nodeName: name },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    for (const plural of ["nodereports", "reconcilereports"]) {
      for (const name of good) {
        let object;
        for (let i = 0; i < 300 && !object; i++) {
          const r = await cp.api(
            "GET",
            `/apis/kcm.intel.com/v1/namespaces/${NS}/${plural}/${name}`,
          );
          if (r.status === 200) object = r.body;
          else await new Promise((res) => setTimeout(res, 100));
        }
        assert.ok(object, `${plural}/${name} not published`);
        assert.equal(object.node, name);
      }
    }
    for (const name of good) {
      await cp.api(
        "DELETE",
        `/api/v1/namespaces/${NS}/pods/kcm-daemons-${name}`,
      );
    }
  });

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
        /ERROR:root:Node "node-small": pod kcm-setup-node-small failed in container "init": Error \(exit code 1\)\n/,
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
        /kcm: error: cluster-init failed on 1 of 2 nodes: node-small\n/,
      );
      // node-a ran again: its old pod was replaced, its config kept.
      assert.match(
        stderr,
        /Deleting pod kcm-setup-node-a of an earlier run/,
      );
      assert.match(
        stderr,
        /INFO:root:Node "node-a": pod kcm-setup-node-a Succeeded/,
      );
      assert.match(
        await kubelet.logs(NS, "kcm-setup-node-a", "init"),
        /already initialised, init skipped/,
      );
      // The DaemonSet keeps its nodes; the failed node is not added.
      const ds = await cp.api(
        "GET",
        `/apis/apps/v1/namespaces/${NS}/daemonsets/kcm-daemons`,
      );
      assert.deepEqual(daemonSetNodes(ds.body), good);
    },
  );

  await t.step("--all-hosts skips unschedulable nodes", async () => {
    const result = await clusterInit([
      "--all-hosts",
      "--kcm-cmd-list=reconcile,nodereport",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Skipping unschedulable node "node-cordoned"/);
    const ds = await cp.api(
      "GET",
      `/apis/apps/v1/namespaces/${NS}/daemonsets/kcm-daemons`,
    );
    assert.deepEqual(daemonSetNodes(ds.body).sort(), [...served].sort());
  });

  // Negative cases.
  await t.step("a stuck pod times out naming its state and why", async () => {
    // No kubelet serves node-dead: the test writes the pod status a kubelet
    // would when the image is absent and the pull policy is Never.
    await createNode(cp, "node-dead");
    const podPath = `/api/v1/namespaces/${NS}/pods/kcm-setup-node-dead`;
    const run = clusterInit([
      "--host-list=node-dead",
      "--kcm-cmd-list=discover",
      "--timeout=6",
    ]);
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
    const result = await run;
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /ERROR:root:Node "node-dead": pod kcm-setup-node-dead still Pending \(ErrImageNeverPull\) at the timeout: ErrImageNeverPull: Container image "kcm" is not present with pull policy of Never\n/,
    );
    assert.match(
      result.stderr,
      /kcm: error: cluster-init failed on 1 of 1 nodes: node-dead\n/,
    );
  });

  await t.step("an unknown node fails before anything is created", async () => {
    const podUid = async () =>
      (await cp.api("GET", `/api/v1/namespaces/${NS}/pods/kcm-setup-node-a`))
        .body.metadata.uid;
    const dsVersion = async () =>
      (await cp.api(
        "GET",
        `/apis/apps/v1/namespaces/${NS}/daemonsets/kcm-daemons`,
      )).body.metadata.resourceVersion;
    const before = [await podUid(), await dsVersion()];
    const result = await clusterInit(["--host-list=node-a,ghost"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /kcm: error: Node "ghost" does not exist/);
    assert.doesNotMatch(result.stderr, /Deleting pod|Creating setup pods/);
    // node-a's setup pod of the earlier run and the DaemonSet are untouched.
    assert.deepEqual([await podUid(), await dsVersion()], before);
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
  });
  assert.deepEqual(kubelet.errors, []);
});
