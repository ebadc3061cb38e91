/**
 * Report publishing against a real kube-apiserver: `publishReport()`
 * directly, and `reconcile --publish` / `node-report --publish` as
 * subprocesses running as kcm's node agent (token bound to the node) with
 * exactly the shipped RBAC and admission policy: objects owned by their
 * Node, no CRD created at run time, a missing Node or CRD named, the
 * printer columns (staleness), and a failing report when the config
 * directory cannot be read.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Host, systemClock } from "../../core/host.ts";
import { createLogger } from "../../core/log.ts";
import { reportCrd } from "../../core/k8s/report_objects.ts";
import {
  NodeNotFoundError,
  ReportCrdMissingError,
} from "../../core/k8s/report_writer.ts";
import { publishReport } from "../../core/k8s/reports.ts";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../_helpers/k8s_manifests.ts";
import {
  collectText,
  signalAndTime,
  waitForLine,
} from "../_helpers/process_output.ts";
import { getReport, reportTable } from "../_helpers/report_api.ts";
import { runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import { createNode, startControlPlane } from "../k8s/testenv.ts";

const NS = KCM_NAMESPACE;
const CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

function fakeHost(env: Record<string, string>, now: Date) {
  const lines: string[] = [];
  const host: Host = {
    env,
    procRoot: "/proc",
    sysRoot: "/sys",
    lockTimeoutMs: 1000,
    log: createLogger("DEBUG", (line) => lines.push(line)),
    write: () => Promise.resolve(),
    now: () => now,
    clock: systemClock,
    hostname: () => "the-host",
    stopSignal: () => new AbortController().signal,
  };
  return { host, lines };
}

Deno.test("publishReport() writes report objects owned by their Node, and never a CRD", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  const node = await createNode(cp, "worker-7");
  const sa = await kcm.nodeAgent("worker-7");
  const env = { ...sa.inClusterEnv, NODE_NAME: "worker-7" };

  await t.step("a NodeReport is created, owned by the Node", async () => {
    const { host, lines } = fakeHost(env, new Date("2030-01-02T03:04:05Z"));
    const report = {
      checks: { configDirectory: { ok: true, errors: [] } },
      description: null,
    };
    await publishReport(host, "NodeReport", report);
    const object = await getReport(cp, NS, "nodereports", "worker-7");
    assert.deepEqual(object.report, report);
    assert.equal(object.last_updated, "2030-01-02T03:04:05.000Z");
    assert.equal(object.node, "worker-7");
    assert.equal(object.ok, true);
    assert.deepEqual(object.metadata.ownerReferences, [{
      apiVersion: "v1",
      kind: "Node",
      name: "worker-7",
      uid: node.metadata.uid,
    }]);
    // One-shot runs do not know when the next report comes: no staleness.
    assert.equal(object.staleAfter, undefined);
    const row = await reportTable(cp, NS, "nodereports", "worker-7");
    assert.deepEqual(Object.keys(row), [
      "Name",
      "Node",
      "OK",
      "Updated",
      "Stale-After",
      "Last-Updated",
      "Age",
    ]);
    assert.equal(row.Node, "worker-7");
    assert.equal(row.OK, true);
    assert.equal(row["Stale-After"], null);
    assert.equal(row["Last-Updated"], "2030-01-02T03:04:05.000Z");
    // Updated is the age of last_updated; the API server calls an age in
    // the future (2030) "<invalid>".
    assert.equal(row.Updated, "<invalid>");
    assert.match(
      lines.join(""),
      /INFO:root:Published NodeReport kcm-system\/worker-7 \(created\)/,
    );
    assert.ok(!lines.join("").includes(sa.token));
  });

  await t.step("a second publication replaces the object", async () => {
    const before = await getReport(cp, NS, "nodereports", "worker-7");
    const { host, lines } = fakeHost(env, new Date("2030-01-02T03:05:00Z"));
    const report = {
      checks: {
        configDirectory: { ok: true, errors: [] },
        taskAffinity: { ok: false, errors: ["drift"] },
      },
      description: null,
    };
    await publishReport(host, "NodeReport", report);
    const after = await getReport(cp, NS, "nodereports", "worker-7");
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.notEqual(
      after.metadata.resourceVersion,
      before.metadata.resourceVersion,
    );
    assert.deepEqual(after.report, report);
    assert.equal(after.ok, false);
    assert.equal(after.last_updated, "2030-01-02T03:05:00.000Z");
    assert.match(lines.join(""), /\(replaced\)/);
    // Nothing about CRDs was asked: kcm neither reads nor creates them.
    assert.doesNotMatch(lines.join(""), /customresourcedefinitions/);
  });

  await t.step(
    "a ReconcileReport shows OK and the reclaimed count",
    async () => {
      const { host } = fakeHost(env, new Date("2030-01-02T03:06:00Z"));
      await publishReport(host, "ReconcileReport", {
        reclaimedCpuLists: [{ cpus: "4,12", pid: 7, pool: "dataplane" }],
        mismatchedCpuMasks: [],
      });
      const row = await reportTable(cp, NS, "reconcilereports", "worker-7");
      assert.equal(row.Node, "worker-7");
      assert.equal(row.OK, true);
      assert.equal(row.Reclaimed, 1);
      assert.equal(row.Error, null);
      assert.equal(row["Last-Updated"], "2030-01-02T03:06:00.000Z");
    },
  );

  // Negative cases.
  await t.step("a Node that does not exist is named", async () => {
    const { host } = fakeHost(
      { ...sa.inClusterEnv, NODE_NAME: "ghost" },
      new Date(),
    );
    const error = await publishReport(host, "NodeReport", {}).catch((e) => e);
    assert.ok(error.cause instanceof NodeNotFoundError, String(error));
    assert.equal(error.cause.node, "ghost");
    assert.equal(
      error.message,
      'Cannot publish NodeReport: Node "ghost" does not exist',
    );
    assert.match(error.hint, /NODE_NAME/);
    assert.equal(await getReport(cp, NS, "nodereports", "ghost"), undefined);
  });

  await t.step("a missing CRD is named and not created", async () => {
    const crd = `${CRD_PATH}/reconcilereports.kcm.intel.com`;
    assert.equal((await cp.api("DELETE", crd)).status, 200);
    await waitFor(
      "the CRD to be gone",
      async () => (await cp.api("GET", crd)).status === 404 ? true : undefined,
    );
    const { host } = fakeHost(env, new Date());
    const error = await publishReport(host, "ReconcileReport", {
      reclaimedCpuLists: [],
      mismatchedCpuMasks: [],
    }).catch((e) => e);
    assert.ok(error.cause instanceof ReportCrdMissingError, String(error));
    assert.equal(error.cause.crd, "reconcilereports.kcm.intel.com");
    assert.match(error.hint, /resources\/crd-reconcilereports\.yaml/);
    assert.equal((await cp.api("GET", crd)).status, 404);
  });

  await t.step("without RBAC the error names verb and resource", async () => {
    const other = await cp.serviceAccount(NS, "no-rights");
    const { host } = fakeHost(
      { ...other.inClusterEnv, NODE_NAME: "worker-7" },
      new Date(),
    );
    await assert.rejects(
      publishReport(host, "NodeReport", {}),
      /^KcmError: Cannot publish NodeReport: GET \/api\/v1\/nodes\/worker-7: 403 Forbidden: .*cannot get resource "nodes"/,
    );
  });
});

Deno.test("reconcile and node-report --publish tell the truth about the config directory", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  await createNode(cp, "cli-node");
  const sa = await kcm.nodeAgent("cli-node");
  // Passes every check on any machine with CPUs 0 and 1; the dead pid
  // gives reconcile a list to reclaim.
  await using config = await makeConfigDir({
    infra: { exclusive: false, lists: { "0-1": "999999999" } },
  });
  const env = {
    ...sa.inClusterEnv,
    NODE_NAME: "cli-node",
    KCM_LOG_LEVEL: "DEBUG",
  };

  await t.step("node-report --publish", async () => {
    const result = await runKcm(
      ["node-report", `--conf-dir=${config.confDir}`, "--publish"],
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    const object = await getReport(cp, NS, "nodereports", "cli-node");
    assert.deepEqual(object.report, JSON.parse(result.stdout));
    assert.equal(object.ok, true);
    assert.ok(!result.stderr.includes(sa.token), "token in DEBUG stderr");
  });

  await t.step("reconcile --publish", async () => {
    const result = await runKcm(
      ["reconcile", `--conf-dir=${config.confDir}`, "--publish"],
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    const object = await getReport(cp, NS, "reconcilereports", "cli-node");
    assert.deepEqual(object.report, JSON.parse(result.stdout));
    assert.equal(object.reclaimed, 1);
    assert.equal(object.ok, true);
    assert.ok(!result.stderr.includes(sa.token), "token in DEBUG stderr");
  });

  await t.step("--kubeconfig wins over the in-cluster settings", async () => {
    // The in-cluster settings point at a port nothing listens on.
    const result = await runKcm(
      [
        "node-report",
        `--conf-dir=${config.confDir}`,
        "--publish",
        `--kubeconfig=${sa.kubeconfig}`,
      ],
      { env: { ...env, KUBERNETES_SERVICE_PORT: "1" } },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`settings from ${sa.kubeconfig}`));
    const object = await getReport(cp, NS, "nodereports", "cli-node");
    assert.deepEqual(object.report, JSON.parse(result.stdout));
    const refused = await runKcm(
      ["reconcile", `--conf-dir=${config.confDir}`, "--context=main"],
      { env },
    );
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /^kcm: error: --context needs --publish: without it nothing connects to the API server$/m,
    );
  });

  await t.step(
    "a run without its config directory publishes a failing report",
    async () => {
      const missing = join(config.root, "missing");
      for (
        const [command, plural] of [
          ["node-report", "nodereports"],
          ["reconcile", "reconcilereports"],
        ] as const
      ) {
        const before = await getReport(cp, NS, plural, "cli-node");
        assert.equal(before.ok, true, command);
        const result = await runKcm(
          [command, `--conf-dir=${missing}`, "--publish"],
          { env: { ...env, KCM_LOG_LEVEL: "INFO" } },
        );
        assert.equal(result.code, 1, result.stderr);
        assert.match(
          result.stderr,
          /^kcm: error: Cannot open lock file ".*\/missing\/lock": no such file or directory$/m,
        );
        const after = await getReport(cp, NS, plural, "cli-node");
        assert.equal(after.ok, false, command);
        assert.match(JSON.stringify(after), /Cannot open lock file/, command);
      }
      const row = await reportTable(cp, NS, "reconcilereports", "cli-node");
      assert.equal(row.OK, false);
      assert.match(String(row.Error), /^Cannot open lock file .*missing\/lock/);
    },
  );

  await t.step(
    "a loop marks staleness and turns failing while the directory is gone",
    async () => {
      const child = spawnKcm(
        [
          "node-report",
          `--conf-dir=${config.confDir}`,
          "--publish",
          "--interval=1",
          "--heartbeat=2",
        ],
        { env: { ...env, KCM_LOG_LEVEL: "INFO" } },
      );
      const out = collectText(child.stdout);
      const err = collectText(child.stderr);
      try {
        const ok = await waitFor("an OK report", async () => {
          const o = await getReport(cp, NS, "nodereports", "cli-node");
          return o?.ok === true ? o : undefined;
        });
        // Heartbeat 2 s + 3 intervals of 1 s.
        assert.equal(ok.staleAfter, "5s");
        assert.equal(
          Date.parse(ok.staleAt) -
            Date.parse(ok.last_updated.replace(/\.\d+Z$/, "Z")),
          5000,
        );
        const row = await reportTable(cp, NS, "nodereports", "cli-node");
        assert.equal(row["Stale-After"], "5s");
        assert.match(String(row.Updated), /^\d+s$/);

        const moved = `${config.confDir}.away`;
        await Deno.rename(config.confDir, moved);
        const failing = await waitFor("a failing report", async () => {
          const o = await getReport(cp, NS, "nodereports", "cli-node");
          return o?.ok === false ? o : undefined;
        });
        assert.match(
          failing.report.checks.configDirectory.errors[0],
          /^Cannot open lock file/,
        );
        await Deno.rename(moved, config.confDir);
        await waitFor("an OK report again", async () => {
          const o = await getReport(cp, NS, "nodereports", "cli-node");
          return o?.ok === true ? o : undefined;
        });
        await waitForLine(err, /^INFO:root:node report works again after/);
      } finally {
        const { status } = await signalAndTime(child, "SIGTERM");
        await Promise.all([out.done, err.done]);
        assert.equal(status.code, 0, err.text);
      }
      // The failure was logged once, not once per second.
      const failures = err.text.split("\n").filter((l) =>
        l.startsWith("ERROR:")
      );
      assert.equal(failures.length, 1, err.text);
      assert.match(
        failures[0]!,
        /^ERROR:root:node report failed: Cannot open lock file/,
      );
    },
  );

  await t.step("the CRDs kcm ships are the ones it expects", async () => {
    for (const kind of ["NodeReport", "ReconcileReport"] as const) {
      const crd = reportCrd(kind);
      const served = await cp.api(
        "GET",
        // deno-lint-ignore no-explicit-any
        `${CRD_PATH}/${(crd.metadata as any).name}`,
      );
      assert.deepEqual(
        served.body.spec.versions[0].additionalPrinterColumns,
        // deno-lint-ignore no-explicit-any
        (crd.spec as any).versions[0].additionalPrinterColumns,
      );
    }
  });
});
