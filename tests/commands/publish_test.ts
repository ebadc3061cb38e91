/**
 * Report publishing against a real kube-apiserver: `publishReport()`
 * directly, and `reconcile --publish` / `node-report --publish` as
 * subprocesses running as kcm's node agent (token bound to the node) with
 * exactly the shipped RBAC and admission policy, including an API outage in `--interval` mode (a TCP relay in front
 * of the API server that the test turns off and on).
 */

import assert from "node:assert/strict";
import { type Host, systemClock } from "../../core/host.ts";
import { createLogger } from "../../core/log.ts";
import { reportCrd } from "../../core/k8s/report_objects.ts";
import { publishReport } from "../../core/k8s/reports.ts";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../_helpers/k8s_manifests.ts";
import { finish, runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import {
  type ControlPlane,
  createNode,
  startControlPlane,
} from "../k8s/testenv.ts";

const NS = KCM_NAMESPACE;

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

/** `kubectl get` of one report: the server-side Table with the printer columns. */
async function table(cp: ControlPlane, plural: string, name: string) {
  const client = Deno.createHttpClient({ caCerts: [cp.caPem] });
  try {
    const response = await fetch(
      `${cp.url}/apis/kcm.intel.com/v1/namespaces/${NS}/${plural}/${name}`,
      {
        client,
        headers: {
          authorization: `Bearer ${cp.adminToken}`,
          accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
        },
      },
    );
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    const columns = body.columnDefinitions.map((c: { name: string }) => c.name);
    return Object.fromEntries(
      columns.map((c: string, i: number) => [c, body.rows[0].cells[i]]),
    );
  } finally {
    client.close();
  }
}

async function getReport(cp: ControlPlane, plural: string, name: string) {
  const r = await cp.api(
    "GET",
    `/apis/kcm.intel.com/v1/namespaces/${NS}/${plural}/${name}`,
  );
  return r.status === 200 ? r.body : undefined;
}

/** A TCP relay to the API server that can refuse connections for a while. */
function relay(target: number) {
  let listener: Deno.Listener | undefined;
  const conns = new Set<Deno.Conn>();
  let port = 0;
  const serve = async (l: Deno.Listener) => {
    for await (const conn of l) {
      conns.add(conn);
      Deno.connect({ hostname: "127.0.0.1", port: target }).then((up) => {
        conns.add(up);
        const close = () => {
          for (const c of [conn, up]) {
            try {
              c.close();
            } catch { /* closed */ }
            conns.delete(c);
          }
        };
        Promise.all([
          conn.readable.pipeTo(up.writable).catch(() => {}),
          up.readable.pipeTo(conn.writable).catch(() => {}),
        ]).finally(close);
      }, () => conn.close());
    }
  };
  const up = () => {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    port = (listener.addr as Deno.NetAddr).port;
    serve(listener).catch(() => {});
  };
  const down = () => {
    listener?.close();
    listener = undefined;
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    conns.clear();
  };
  up();
  return { port: () => port, up, down };
}

Deno.test("publishReport() creates and replaces report objects", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  await createNode(cp, "worker-7");
  const sa = await kcm.nodeAgent("worker-7");
  const env = { ...sa.inClusterEnv, NODE_NAME: "Worker_7" };

  await t.step("a NodeReport is created under the shipped CRD", async () => {
    const { host, lines } = fakeHost(env, new Date("2030-01-02T03:04:05Z"));
    const report = {
      checks: { configDirectory: { ok: true, errors: [] } },
      description: null,
    };
    await publishReport(host, "NodeReport", report);
    const crd = (await cp.api(
      "GET",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/nodereports.kcm.intel.com",
    )).body;
    assert.deepEqual(
      crd.spec.versions[0].additionalPrinterColumns,
      reportCrd("NodeReport").spec &&
        // deno-lint-ignore no-explicit-any
        (reportCrd("NodeReport").spec as any).versions[0]
          .additionalPrinterColumns,
    );
    const object = await getReport(cp, "nodereports", "worker-7");
    assert.deepEqual(object.report, report);
    assert.equal(object.last_updated, "2030-01-02T03:04:05.000Z");
    assert.equal(object.node, "Worker_7");
    assert.equal(object.ok, true);
    assert.deepEqual(
      { ...await table(cp, "nodereports", "worker-7"), Age: "-" },
      {
        Name: "worker-7",
        Node: "Worker_7",
        OK: true,
        "Last-Updated": "2030-01-02T03:04:05.000Z",
        Age: "-",
      },
    );
    assert.match(
      lines.join(""),
      /INFO:root:Published NodeReport kcm-system\/worker-7 \(created\)/,
    );
    assert.ok(!lines.join("").includes(sa.token));
  });

  await t.step("a second publication replaces the object", async () => {
    const before = await getReport(cp, "nodereports", "worker-7");
    const { host, lines } = fakeHost(env, new Date("2030-01-02T03:05:00Z"));
    const report = {
      checks: {
        configDirectory: { ok: true, errors: [] },
        taskAffinity: { ok: false, errors: ["drift"] },
      },
      description: null,
    };
    await publishReport(host, "NodeReport", report, { loop: true });
    const after = await getReport(cp, "nodereports", "worker-7");
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.notEqual(
      after.metadata.resourceVersion,
      before.metadata.resourceVersion,
    );
    assert.deepEqual(after.report, report);
    assert.equal(after.ok, false);
    assert.equal(after.last_updated, "2030-01-02T03:05:00.000Z");
    assert.match(lines.join(""), /\(replaced\)/);
    const list = await cp.api(
      "GET",
      `/apis/kcm.intel.com/v1/namespaces/${NS}/nodereports`,
    );
    assert.equal(list.body.items.length, 1);
  });

  await t.step("a ReconcileReport shows the reclaimed count", async () => {
    const { host } = fakeHost(env, new Date("2030-01-02T03:06:00Z"));
    await publishReport(host, "ReconcileReport", {
      reclaimedCpuLists: [{ cpus: "4,12", pid: 7, pool: "dataplane" }],
      mismatchedCpuMasks: [],
    });
    const row = await table(cp, "reconcilereports", "worker-7");
    assert.equal(row.Node, "Worker_7");
    assert.equal(row.Reclaimed, 1);
    assert.equal(row["Last-Updated"], "2030-01-02T03:06:00.000Z");
  });

  // Negative cases.
  await t.step("without RBAC the error names verb and resource", async () => {
    const other = await cp.serviceAccount(NS, "no-rights");
    const { host } = fakeHost(
      { ...other.inClusterEnv, NODE_NAME: "n" },
      new Date(),
    );
    await assert.rejects(
      publishReport(host, "NodeReport", {}),
      /^KcmError: Cannot publish NodeReport: POST \/apis\/kcm.intel.com\/v1\/namespaces\/kcm-system\/nodereports: 403 Forbidden: .*cannot create resource "nodereports"/,
    );
  });
});

Deno.test("reconcile and node-report --publish publish through the CLI", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  for (const node of ["cli-node", "looping"]) await createNode(cp, node);
  const sa = await kcm.nodeAgent("cli-node");
  const looping = await kcm.nodeAgent("looping");
  await using config = await makeConfigDir({
    dataplane: { exclusive: true, lists: { "2": "999999999" } },
    infra: { exclusive: false, lists: { "0-1": "" } },
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
    const object = await getReport(cp, "nodereports", "cli-node");
    assert.deepEqual(object.report, JSON.parse(result.stdout));
    assert.ok(!result.stderr.includes(sa.token), "token in DEBUG stderr");
  });

  await t.step("reconcile --publish", async () => {
    const result = await runKcm(
      ["reconcile", `--conf-dir=${config.confDir}`, "--publish"],
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    const object = await getReport(cp, "reconcilereports", "cli-node");
    assert.deepEqual(object.report, JSON.parse(result.stdout));
    assert.equal(object.reclaimed, 1);
    assert.ok(!result.stderr.includes(sa.token), "token in DEBUG stderr");
  });

  await t.step("an API outage in --interval mode is survived", async () => {
    const gate = relay(cp.port);
    const child = spawnKcm(
      [
        "node-report",
        `--conf-dir=${config.confDir}`,
        "--publish",
        "--interval=1",
      ],
      {
        env: {
          ...env,
          ...looping.inClusterEnv,
          NODE_NAME: "looping",
          KUBERNETES_SERVICE_PORT: String(gate.port()),
          KCM_LOG_LEVEL: "INFO",
        },
      },
    );
    try {
      const published = async (after?: string) => {
        for (let i = 0; i < 100; i++) {
          const o = await getReport(cp, "nodereports", "looping");
          if (o && (after === undefined || o.last_updated > after)) return o;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error("no (newer) report published");
      };
      const first = await published();
      gate.down();
      await new Promise((r) => setTimeout(r, 4000));
      const during = await getReport(cp, "nodereports", "looping");
      gate.up();
      const later = await published(during.last_updated);
      assert.ok(later.last_updated > first.last_updated);
    } finally {
      gate.down();
      child.kill("SIGTERM");
    }
    const result = await finish(child);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /ERROR:root:node report failed: Cannot publish NodeReport: .*cannot reach the API server/,
    );
    assert.match(result.stderr, /INFO:root:Stopping on SIGTERM/);
  });
});
