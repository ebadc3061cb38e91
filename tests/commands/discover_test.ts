/**
 * `kcm discover` against a real kube-apiserver, run as a subprocess with
 * the in-cluster environment of the node agent (ServiceAccount
 * kcm-system/kcm-node-agent with a token bound to the node, as in a pod on
 * it), under exactly the shipped RBAC and admission policy.
 */

import assert from "node:assert/strict";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../_helpers/k8s_manifests.ts";
import { finish, runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import { type ConfigSpec, makeConfigDir } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import { createNode, startControlPlane } from "../k8s/testenv.ts";

const LAYOUT: ConfigSpec = {
  dataplane: {
    exclusive: true,
    lists: { "4,12": "", "5,13": "", "6,14": "1234" },
  },
  controlplane: { exclusive: false, lists: { "3,11": "" } },
  infra: { exclusive: false, lists: { "0-2,8-10": "" } },
};

const NS = KCM_NAMESPACE;

Deno.test("discover advertises, labels and taints the node", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  await using config = await makeConfigDir(LAYOUT);
  const tokens: string[] = [];
  /** The node agent's environment on `tokenNode`, acting for `node`. */
  const env = async (node: string, tokenNode = node) => {
    const sa = await kcm.nodeAgent(tokenNode);
    tokens.push(sa.token);
    return { ...sa.inClusterEnv, NODE_NAME: node, KCM_LOG_LEVEL: "DEBUG" };
  };
  const discover = async (
    node: string,
    extra: Record<string, string> = {},
    tokenNode = node,
  ) =>
    runKcm(["discover", `--conf-dir=${config.confDir}`], {
      env: { ...await env(node, tokenNode), ...extra },
    });
  const node = async (name: string) =>
    (await cp.api("GET", `/api/v1/nodes/${name}`)).body;

  await t.step(
    "patches capacity, label and taint, keeping taints",
    async () => {
      await createNode(cp, "worker-1", {
        taints: [{ key: "gpu", value: "a100", effect: "NoSchedule" }],
      });
      const result = await discover("worker-1");
      assert.equal(result.code, 0, result.stderr);
      const n = await node("worker-1");
      assert.equal(n.status.capacity["kcm.intel.com/dataplane-cores"], "3");
      assert.equal(n.status.capacity.cpu, "4", "other capacity kept");
      assert.equal(n.metadata.labels["kcm.intel.com/kcm-node"], "true");
      assert.deepEqual(
        n.spec.taints.map((x: { key: string; value: string; effect: string }) =>
          `${x.key}=${x.value}:${x.effect}`
        ),
        ["gpu=a100:NoSchedule", "kcm=true:NoSchedule"],
      );
      assert.match(
        result.stderr,
        /INFO:root:Node "worker-1": capacity kcm.intel.com\/dataplane-cores=3\n/,
      );
      assert.match(
        result.stderr,
        /INFO:root:Node "worker-1": label kcm.intel.com\/kcm-node=true, taint kcm=true:NoSchedule\n/,
      );
      assert.equal(result.stdout, "");
      assert.ok(
        !tokens.some((token) => result.stderr.includes(token)),
        "token in DEBUG output",
      );
    },
  );

  await t.step("a rerun changes nothing and duplicates nothing", async () => {
    const before = await node("worker-1");
    const result = await discover("worker-1");
    assert.equal(result.code, 0, result.stderr);
    const after = await node("worker-1");
    assert.equal(
      after.metadata.resourceVersion,
      before.metadata.resourceVersion,
    );
    assert.equal(
      after.spec.taints.filter((x: { key: string }) => x.key === "kcm").length,
      1,
    );
    assert.match(
      result.stderr,
      /dataplane-cores=3 \(already set\)\n[^]*\(already set\), taint .* \(already set\)/,
    );
  });

  await t.step(
    "--interval puts back what the Node lost, until SIGTERM",
    async () => {
      await createNode(cp, "worker-2");
      const child = spawnKcm(
        ["discover", `--conf-dir=${config.confDir}`, "--interval=1"],
        { env: await env("worker-2") },
      );
      const labelled = async () => {
        const n = await node("worker-2");
        return n.metadata.labels?.["kcm.intel.com/kcm-node"] === "true" &&
            n.status.capacity?.["kcm.intel.com/dataplane-cores"] === "3"
          ? true
          : undefined;
      };
      await waitFor("the first discovery", labelled);
      // What a re-registered Node looks like: no capacity, label or taint.
      const stripped = await cp.api("PATCH", "/api/v1/nodes/worker-2", {
        metadata: { labels: { "kcm.intel.com/kcm-node": null } },
        spec: { taints: null },
      }, { contentType: "application/merge-patch+json" });
      assert.equal(stripped.status, 200, JSON.stringify(stripped.body));
      const statusPatch = await cp.api(
        "PATCH",
        "/api/v1/nodes/worker-2/status",
        [{
          op: "remove",
          path: "/status/capacity/kcm.intel.com~1dataplane-cores",
        }],
        { contentType: "application/json-patch+json" },
      );
      assert.equal(statusPatch.status, 200, JSON.stringify(statusPatch.body));
      await waitFor("the rediscovery", labelled, 15_000);
      assert.deepEqual(
        (await node("worker-2")).spec.taints,
        [{ key: "kcm", value: "true", effect: "NoSchedule" }],
      );
      child.kill("SIGTERM");
      const result = await finish(child);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Stopping on SIGTERM/);
    },
  );

  await t.step("a node without taints or labels gets both", async () => {
    await cp.api("POST", "/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "bare" },
    });
    const result = await discover("bare");
    assert.equal(result.code, 0, result.stderr);
    const n = await node("bare");
    assert.deepEqual(n.metadata.labels, { "kcm.intel.com/kcm-node": "true" });
    // The NodeTaint admission plugin adds not-ready to every new Node.
    assert.deepEqual(n.spec.taints, [
      { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" },
      { key: "kcm", value: "true", effect: "NoSchedule" },
    ]);
    assert.equal(n.status.capacity["kcm.intel.com/dataplane-cores"], "3");
  });

  await t.step(
    "taints added concurrently by another writer survive",
    async () => {
      await createNode(cp, "busy");
      const writer = (async () => {
        for (let i = 0; i < 15; i++) {
          const r = await cp.api(
            "PATCH",
            "/api/v1/nodes/busy",
            [{
              op: "add",
              path: "/spec/taints/-",
              value: { key: `other-${i}`, effect: "PreferNoSchedule" },
            }],
            { contentType: "application/json-patch+json" },
          );
          if (r.status === 422) {
            // No taints list yet: create it.
            await cp.api("PATCH", "/api/v1/nodes/busy", {
              spec: {
                taints: [{ key: `other-${i}`, effect: "PreferNoSchedule" }],
              },
            }, { contentType: "application/merge-patch+json" });
          }
        }
      })();
      const runs = await Promise.all([discover("busy"), discover("busy")]);
      await writer;
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      const keys = (await node("busy")).spec.taints.map((x: { key: string }) =>
        x.key
      );
      assert.equal(keys.filter((k: string) => k === "kcm").length, 1, keys);
      assert.equal(
        keys.filter((k: string) => k.startsWith("other-")).length,
        15,
        `lost a concurrent taint: ${keys}`,
      );
    },
  );

  await t.step(
    "a dataplane pool without an exclusive file is counted all the same",
    async () => {
      // The reference never read the flag here: one pool without it must
      // not keep the node from being advertised.
      await using noFlag = await makeConfigDir({
        dataplane: { exclusive: true, lists: { "4": "", "5": "" } },
      });
      await Deno.remove(`${noFlag.confDir}/pools/dataplane/exclusive`);
      await createNode(cp, "worker-5");
      const result = await runKcm(
        ["discover", `--conf-dir=${noFlag.confDir}`],
        { env: await env("worker-5") },
      );
      assert.equal(result.code, 0, result.stderr);
      const n = await node("worker-5");
      assert.equal(n.status.capacity["kcm.intel.com/dataplane-cores"], "2");
    },
  );

  await t.step(
    "an empty dataplane pool advertises 0, with a warning",
    async () => {
      // The reference failed here ("No CPU list in dataplane pool"); kcm
      // advertises the truth, so pods asking for cores stay pending.
      await using empty = await makeConfigDir({
        dataplane: { exclusive: true, lists: {} },
      });
      const result = await runKcm(
        ["discover", `--conf-dir=${empty.confDir}`],
        { env: await env("worker-5") },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        /WARNING:root:Dataplane pool of ".*" has no cpu lists; advertising 0 kcm.intel.com\/dataplane-cores\n/,
      );
      const n = await node("worker-5");
      assert.equal(n.status.capacity["kcm.intel.com/dataplane-cores"], "0");
    },
  );

  // Negative cases.
  await t.step(
    "a missing dataplane pool fails before any API call",
    async () => {
      await using empty = await makeConfigDir({
        infra: { exclusive: false, lists: { "0-3": "" } },
      });
      const result = await runKcm(["discover", `--conf-dir=${empty.confDir}`], {
        env: {
          KUBERNETES_SERVICE_HOST: "127.0.0.1",
          KUBERNETES_SERVICE_PORT: "1",
          KCM_SERVICE_ACCOUNT_DIR: "/nonexistent",
          NODE_NAME: "worker-1",
        },
      });
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        `kcm: error: Dataplane pool does not exist in config directory "${empty.confDir}"\nhint: run \`kcm init\` first\n`,
      );
    },
  );

  await t.step("a bad --interval is a usage error", async () => {
    const result = await runKcm([
      "discover",
      `--conf-dir=${config.confDir}`,
      "--interval=soon",
    ]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^kcm: error: --interval must be a whole number >= 0, got "soon"\nUsage:/,
    );
  });

  await t.step("a missing node is a clear error", async () => {
    const result = await discover(
      "ghost",
      { KCM_LOG_LEVEL: "INFO" },
      "worker-1",
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^kcm: error: Cannot advertise dataplane cores on node "ghost": GET \/api\/v1\/nodes\/ghost: 404 NotFound: nodes "ghost" not found\nhint: set NODE_NAME/,
    );
  });

  await t.step("an RBAC denial names the verb and resource", async () => {
    await createNode(cp, "worker-3");
    const reader = await cp.serviceAccount(NS, "reader");
    await cp.api(
      "POST",
      "/apis/rbac.authorization.k8s.io/v1/clusterroles",
      {
        metadata: { name: "node-reader" },
        rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }],
      },
    );
    await cp.api(
      "POST",
      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
      {
        metadata: { name: "node-reader" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: "node-reader",
        },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: NS }],
      },
    );
    const result = await runKcm(
      ["discover", `--conf-dir=${config.confDir}`],
      {
        env: {
          ...reader.inClusterEnv,
          NODE_NAME: "worker-3",
          KCM_LOG_LEVEL: "DEBUG",
        },
      },
    );
    assert.equal(result.code, 1);
    const first = result.stderr.split("\n").find((l) =>
      l.startsWith("kcm: error:")
    );
    assert.match(
      first ?? "",
      /PATCH \/api\/v1\/nodes\/worker-3\/status: 403 Forbidden: .*User "system:serviceaccount:kcm-system:reader" cannot patch resource "nodes\/status"/,
    );
    assert.match(
      result.stderr,
      /hint: grant system:serviceaccount:kcm-system:reader "patch" on "nodes\/status": apply a Role or ClusterRole/,
    );
    assert.ok(!result.stderr.includes(reader.token), "token in DEBUG output");
  });

  await t.step("the node agent of another node is refused", async () => {
    const before = await node("worker-1");
    await cp.api("PATCH", "/api/v1/nodes/worker-1", {
      metadata: { labels: { "kcm.intel.com/kcm-node": null } },
    }, { contentType: "application/merge-patch+json" });
    // A token of node "bare" acting for worker-1.
    const result = await discover(
      "worker-1",
      { KCM_LOG_LEVEL: "INFO" },
      "bare",
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /\nkcm: error: Cannot label and taint node "worker-1": PATCH \/api\/v1\/nodes\/worker-1: 403 Forbidden: nodes "worker-1" is forbidden: ValidatingAdmissionPolicy 'kcm-node-agent-nodes' with binding 'kcm-node-agent-nodes' denied request: kcm node agent of node "bare" may not change node "worker-1"\nhint: kcm's node agent may change only its own Node/,
    );
    const after = await node("worker-1");
    assert.equal(after.metadata.labels["kcm.intel.com/kcm-node"], undefined);
    assert.equal(
      after.status.capacity["kcm.intel.com/dataplane-cores"],
      before.status.capacity["kcm.intel.com/dataplane-cores"],
    );
  });
});
