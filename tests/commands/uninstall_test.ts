/**
 * `kcm uninstall` on one node, run as a subprocess: the node's files (a
 * config directory of a temp folder, an installed kcm) and, against a real
 * kube-apiserver, the Node's kcm capacity, label and taint and its reports,
 * as the node agent (token bound to the node) under the shipped RBAC and
 * admission policy.
 */

import assert from "node:assert/strict";
import { commandLine } from "../_helpers/cluster_cli.ts";
import { join } from "node:path";
import { parse } from "../../commands/uninstall.ts";
import { UsageError } from "../../core/errors.ts";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../_helpers/k8s_manifests.ts";
import { MAIN_TS, runKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir, snapshotTree } from "../_helpers/temp_config_dir.ts";
import { createNode, startControlPlane } from "../k8s/testenv.ts";

const NS = KCM_NAMESPACE;
const decoder = new TextDecoder();

const invocation = (args: string[]) => commandLine("uninstall", args);

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** A node's files: a config directory and an installed kcm. */
async function nodeFiles(tasks = "") {
  const config = await makeConfigDir({
    dataplane: { exclusive: true, lists: { "4,12": tasks, "5,13": "" } },
    infra: { exclusive: false, lists: { "0-3,8-11": "" } },
  });
  const installDir = join(config.root, "bin");
  await Deno.mkdir(installDir);
  await Deno.writeTextFile(join(installDir, "kcm"), "#!/bin/sh\n");
  await Deno.writeTextFile(join(installDir, "other-tool"), "keep me\n");
  return {
    config,
    installDir,
    args: [`--conf-dir=${config.confDir}`, `--install-dir=${installDir}`],
    [Symbol.asyncDispose]: () => config[Symbol.asyncDispose](),
  };
}

Deno.test("parse() of uninstall", () => {
  assert.deepEqual(parse(invocation(["--force"])), {
    confDir: "/etc/kcm",
    installDir: "/opt/bin",
    force: true,
    local: false,
    connection: {
      kubeconfig: undefined,
      context: undefined,
      insecureHttp: false,
    },
  });
  // Negative cases.
  for (
    const args of [
      ["--local", "--kubeconfig=/k"],
      ["--local", "--insecure-http"],
      ["--conf-dir="],
      ["--install-dir= "],
    ]
  ) {
    assert.throws(() => parse(invocation(args)), UsageError, args.join(" "));
  }
});

Deno.test("kcm uninstall takes kcm off the node", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  await createNode(cp, "n1", {
    labels: { zone: "a" },
    taints: [{ key: "gpu", value: "a100", effect: "NoSchedule" }],
  });
  await createNode(cp, "n2");
  const agent = await kcm.nodeAgent("n1");
  const env = { ...agent.inClusterEnv, NODE_NAME: "n1" };
  await using files = await nodeFiles(String(Deno.pid));
  const node = async () => (await cp.api("GET", "/api/v1/nodes/n1")).body;
  const report = async (plural: string) =>
    (await cp.api(
      "GET",
      `/apis/kcm.intel.com/v1/namespaces/${NS}/${plural}/n1`,
    )).status;
  // What discover and the daemons leave on a node.
  for (
    const args of [
      ["discover", `--conf-dir=${files.config.confDir}`],
      ["node-report", `--conf-dir=${files.config.confDir}`, "--publish"],
      ["reconcile", `--conf-dir=${files.config.confDir}`, "--publish"],
    ]
  ) {
    const result = await runKcm(args, { env });
    assert.equal(result.code, 0, result.stderr);
  }
  assert.equal(await report("nodereports"), 200);

  await t.step("a live task stops it before anything is removed", async () => {
    const before = await snapshotTree(files.config.root);
    const nodeBefore = await node();
    const result = await runKcm(["uninstall", ...files.args], { env });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      `kcm: error: 1 task still hold cpu lists of "${files.config.confDir}": dataplane 4,12 (pid ${Deno.pid}); nothing was removed\n` +
        "hint: stop those workloads first, or give --force to remove kcm from under them\n",
    );
    assert.deepEqual(await snapshotTree(files.config.root), before);
    assert.equal(
      (await node()).metadata.resourceVersion,
      nodeBefore.metadata.resourceVersion,
    );
  });

  await t.step("--force removes files, Node marks and reports", async () => {
    const result = await runKcm(["uninstall", ...files.args, "--force"], {
      env,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `WARNING:root:Removed the config directory from under 1 live task(s) (--force): pid ${Deno.pid}\n` +
        `INFO:root:Removed config directory ${files.config.confDir}\n` +
        `INFO:root:Removed ${files.installDir}/kcm\n` +
        `INFO:root:Node "n1": removed kcm's capacity, label and taint\n` +
        `INFO:root:Deleted NodeReport and ReconcileReport ${NS}/n1\n`,
    );
    assert.equal(await exists(files.config.confDir), false);
    assert.deepEqual(
      [...(await snapshotTree(files.installDir)).keys()],
      ["other-tool"],
    );
    const n = await node();
    assert.deepEqual(n.metadata.labels, {
      "kubernetes.io/hostname": "n1",
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
      zone: "a",
    });
    assert.deepEqual(n.spec.taints, [
      { key: "gpu", value: "a100", effect: "NoSchedule" },
    ]);
    assert.equal(n.status.capacity["kcm.intel.com/dataplane-cores"], undefined);
    assert.equal(n.status.capacity.cpu, "4");
    assert.equal(await report("nodereports"), 404);
    assert.equal(await report("reconcilereports"), 404);
  });

  await t.step("a rerun finds nothing to do and changes nothing", async () => {
    const before = (await node()).metadata.resourceVersion;
    const result = await runKcm(["uninstall", ...files.args], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stderr,
      `INFO:root:No config directory at ${files.config.confDir}\n` +
        `INFO:root:No kcm installed in ${files.installDir}\n` +
        `INFO:root:Node "n1": no kcm capacity, label or taint left\n` +
        `INFO:root:No reports of node "n1" in namespace ${NS}\n`,
    );
    assert.equal((await node()).metadata.resourceVersion, before);
  });

  await t.step("--local leaves the Node alone", async () => {
    await using other = await nodeFiles();
    const discovered = await runKcm(
      ["discover", `--conf-dir=${other.config.confDir}`],
      { env },
    );
    assert.equal(discovered.code, 0, discovered.stderr);
    const result = await runKcm(["uninstall", ...other.args, "--local"], {
      env: { NODE_NAME: "n1" },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await exists(other.config.confDir), false);
    assert.equal(
      (await node()).metadata.labels["kcm.intel.com/kcm-node"],
      "true",
    );
    // Clean up for the next step.
    const again = await runKcm(["uninstall", ...other.args], { env });
    assert.equal(again.code, 0, again.stderr);
  });

  // Negative cases.
  await t.step(
    "another node's token is refused after the files went",
    async () => {
      await using other = await nodeFiles();
      const discovered = await runKcm(
        ["discover", `--conf-dir=${other.config.confDir}`],
        { env },
      );
      assert.equal(discovered.code, 0, discovered.stderr);
      const n2 = await kcm.nodeAgent("n2");
      const result = await runKcm(["uninstall", ...other.args], {
        env: { ...n2.inClusterEnv, NODE_NAME: "n1", KCM_LOG_LEVEL: "ERROR" },
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /^kcm: error: Cannot take kcm off node "n1": PATCH \/api\/v1\/nodes\/n1: 403 Forbidden: .*kcm node agent of node "n2" may not change node "n1" \(done before: Removed config directory \S+; Removed \S+\/kcm\)\nhint: kcm's node agent may change only its own Node/,
      );
      assert.equal(
        (await node()).metadata.labels["kcm.intel.com/kcm-node"],
        "true",
      );
      const again = await runKcm(["uninstall", ...other.args], { env });
      assert.equal(again.code, 0, again.stderr);
    },
  );

  await t.step("a missing Node names NODE_NAME", async () => {
    await using other = await nodeFiles();
    const result = await runKcm(["uninstall", ...other.args], {
      env: { ...env, NODE_NAME: "ghost", KCM_LOG_LEVEL: "ERROR" },
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^kcm: error: Cannot take kcm off node "ghost": GET \/api\/v1\/nodes\/ghost: 404 NotFound: nodes "ghost" not found \(done before: .*\)\nhint: set NODE_NAME to this machine's Node name, or give --local\n$/,
    );
  });
});

// Negative cases: the file system refuses.
const UNSHARE = "/usr/bin/unshare";
/** Whether this machine lets a test bind-mount in a private namespace. */
async function probeBindMount(): Promise<boolean> {
  if (Deno.uid() !== 0 || !(await Deno.stat(UNSHARE).catch(() => null))) {
    return false;
  }
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(UNSHARE, {
      args: ["--mount", "sh", "-c", `mount --bind '${dir}' '${dir}'`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
const canMount = await probeBindMount();
const SKIPPED = canMount
  ? ""
  : " (ignored: needs root and unshare --mount to bind-mount)";

/**
 * Runs `kcm uninstall --local` in a private mount namespace after
 * `mounts` (a shell snippet over "$1", the config directory), then
 * `after` (another snippet); nothing stays mounted whatever happens.
 */
async function uninstallInMountNamespace(
  files: Awaited<ReturnType<typeof nodeFiles>>,
  mounts: string,
  after = "true",
) {
  const out = await new Deno.Command(UNSHARE, {
    args: [
      "--mount",
      "sh",
      "-c",
      `${mounts} && "$2" run --quiet --allow-all "$3" uninstall --local --conf-dir="$1" --install-dir="$4" && ${after}`,
      "sh",
      files.config.confDir,
      Deno.execPath(),
      MAIN_TS,
      files.installDir,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test({
  name:
    `kcm uninstall on a read-only config directory removes nothing${SKIPPED}`,
  ignore: !canMount,
  async fn() {
    await using files = await nodeFiles();
    const before = await snapshotTree(files.config.root);
    const out = await uninstallInMountNamespace(
      files,
      `mount --bind "$1" "$1" && mount -o remount,ro,bind "$1"`,
    );
    assert.equal(out.code, 1, out.stderr);
    assert.match(
      out.stderr,
      /^kcm: error: Cannot open lock file "\S+\/lock": read-only file system[^\n]*\n$/,
    );
    assert.deepEqual(await snapshotTree(files.config.root), before);
  },
});

Deno.test({
  name:
    `kcm uninstall empties a config directory that is a mount point${SKIPPED}`,
  ignore: !canMount,
  async fn() {
    await using files = await nodeFiles();
    const out = await uninstallInMountNamespace(
      files,
      `mount --bind "$1" "$1"`,
      `ls -A "$1"`,
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      /INFO:root:Emptied config directory \S+ \(a mount point: the empty directory stays\)\n/,
    );
    assert.equal(out.stdout, "");
  },
});
