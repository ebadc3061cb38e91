/**
 * A publishing loop (`node-report --publish --interval=1`) survives every
 * fault of the API side without a restart, logging one line per change of
 * state and not one per retry: an outage, 500s, 429 with Retry-After
 * (honoured: no request before it has passed), a conflicting write by
 * another agent, and a deleted CRD (a logged failure until the CRD is
 * applied again). The faults come from a proxy in front of the real
 * kube-apiserver (tests/_helpers/api_proxy.ts); conflicts and the CRD are
 * real.
 *
 * Time is scaled down: the "5 minute" outage lasts 6 s, which with
 * `--interval=1 --heartbeat=5` spans 6 rounds and a heartbeat; what
 * matters is that heartbeats and changes fall inside the outage and that
 * the current report goes out at once when it ends.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { reportCrd } from "../../core/k8s/report_objects.ts";
import { type ApiProxy, startApiProxy } from "../_helpers/api_proxy.ts";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../_helpers/k8s_manifests.ts";
import {
  collectText,
  signalBetweenRounds,
  type TextSink,
  waitForLine,
} from "../_helpers/process_output.ts";
import { getReport } from "../_helpers/report_api.ts";
import { spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import {
  type ControlPlane,
  type CrdObject,
  createCrd,
  createNode,
  startControlPlane,
} from "../k8s/testenv.ts";

const NS = KCM_NAMESPACE;
const NODE = "fault-node";
const CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" +
  "nodereports.kcm.intel.com";

/** Lines of `sink` at `level` so far. */
function lines(sink: TextSink, level: string): string[] {
  return sink.text.split("\n").filter((l) => l.startsWith(`${level}:`));
}

/** Waits for the object to show pool `pool` in its description. */
function publishedWith(cp: ControlPlane, pool: string, timeoutMs = 20_000) {
  return waitFor(`a report with pool ${pool}`, async () => {
    const object = await getReport(cp, NS, "nodereports", NODE);
    return object?.report?.description?.pools?.[pool] ? object : undefined;
  }, timeoutMs);
}

/** Writes to kcm's report objects (what the faults are aimed at). */
function isReportWrite(request: Request, path: string): boolean {
  return request.method !== "GET" && path.includes("/nodereports");
}

Deno.test("a publishing loop rides out outages, 500s, 429s, conflicts and a deleted CRD", async (t) => {
  await using cp = await startControlPlane();
  const identities = await installKcmIdentities(cp);
  await createNode(cp, NODE);
  const sa = await identities.nodeAgent(NODE);
  await using proxy: ApiProxy = await startApiProxy(cp);
  await using conf = await makeConfigDir({
    infra: { exclusive: false, lists: { "0-1": "" } },
  });
  /** Changes the report's content without changing any check. */
  const change = async (pool: string) => {
    await Deno.mkdir(join(conf.confDir, "pools", pool));
    await Deno.writeTextFile(
      join(conf.confDir, "pools", pool, "exclusive"),
      "0",
    );
  };
  const kcm = spawnKcm([
    "node-report",
    `--conf-dir=${conf.confDir}`,
    "--publish",
    "--interval=1",
    "--heartbeat=5",
    "--metrics-listen=127.0.0.1:0",
  ], {
    env: {
      ...sa.inClusterEnv,
      KUBERNETES_SERVICE_PORT: String(proxy.port),
      NODE_NAME: NODE,
    },
  });
  const out = collectText(kcm.stdout), err = collectText(kcm.stderr);
  let metricsUrl = "";
  try {
    [, metricsUrl] = await waitForLine(
      err,
      /^INFO:root:Serving metrics on (http:\/\/\S+)$/,
    ) as unknown as [string, string];
    const first = await publishedWith(cp, "infra");

    await t.step(
      "steady state: nothing is sent until the heartbeat",
      async () => {
        const since = proxy.requests.length;
        await new Promise((r) => setTimeout(r, 2500));
        assert.deepEqual(proxy.requests.slice(since), [], "unchanged rounds");
        const text = await (await fetch(metricsUrl)).text();
        assert.match(
          text,
          /^kcm_report_publish_skipped_total\{kind="NodeReport"\} [1-9]/m,
        );
        const heartbeat = await waitFor("the heartbeat", async () => {
          const object = await getReport(cp, NS, "nodereports", NODE);
          return object.last_updated > first.last_updated ? object : undefined;
        });
        // 5 s, jittered down by up to 10 %, from the start of the round that
        // wrote (the next round starts at most one interval later).
        const gap = Date.parse(heartbeat.last_updated) -
          Date.parse(first.last_updated);
        assert.ok(gap >= 4500 && gap < 7500, `heartbeat after ${gap} ms`);
        assert.deepEqual(heartbeat.report, first.report);
      },
    );

    await t.step(
      "an outage: one error, the current report at once after it",
      async () => {
        await proxy.down();
        await change("during-outage");
        await new Promise((r) => setTimeout(r, 6000));
        // Up again before any assertion, so a failure here does not take
        // the later steps down with it.
        const during = lines(err, "ERROR");
        const upAt = performance.now();
        proxy.up();
        assert.equal(during.length, 1, err.text);
        assert.match(
          during[0]!,
          // The round's first request to fail names itself: the Node's
          // GET, or the report's PUT when the GET still rode a connection
          // the proxy had open before it went down.
          /^ERROR:root:Cannot publish NodeReport: (GET \/api\/v1\/nodes\/fault-node|PUT \/apis\/kcm.intel.com\/v1\/namespaces\/kcm-system\/nodereports\/fault-node): no answer: cannot reach the API server/,
        );
        await publishedWith(cp, "during-outage");
        // The next round (at most one interval away) publishes it.
        assert.ok(performance.now() - upAt < 3000, "published at once");
        await waitForLine(
          err,
          /^INFO:root:Published NodeReport kcm-system\/fault-node again after \d+ failed attempts in \d+s$/,
        );
      },
    );

    await t.step("500s: one error while they last", async () => {
      proxy.fault((request, path) =>
        isReportWrite(request, path)
          ? new Response('{"kind":"Status","reason":"InternalError"}', {
            status: 500,
          })
          : undefined
      );
      await change("during-500s");
      await waitFor(
        "three failed rounds",
        () =>
          proxy.requests.filter((r) => r.status === 500).length >= 6 ||
          undefined,
      );
      proxy.fault(undefined);
      await publishedWith(cp, "during-500s");
      const errors = lines(err, "ERROR");
      assert.equal(errors.length, 2, err.text);
      assert.match(errors[1]!, /: 500 InternalError: /);
    });

    await t.step(
      "429 with Retry-After: no request before it has passed",
      async () => {
        const since = proxy.requests.length;
        proxy.fault(() =>
          new Response('{"kind":"Status","reason":"TooManyRequests"}', {
            status: 429,
            headers: { "retry-after": "3" },
          })
        );
        await change("during-429s");
        await waitFor(
          "two 429s",
          () =>
            proxy.requests.slice(since).filter((r) => r.status === 429)
                .length >= 2 || undefined,
        );
        proxy.fault(undefined);
        const refused = proxy.requests.slice(since).filter((r) =>
          r.status === 429
        );
        const gap = refused[1]!.atMs - refused[0]!.atMs;
        assert.ok(gap >= 2900, `asked again after ${Math.round(gap)} ms`);
        await publishedWith(cp, "during-429s");
        const errors = lines(err, "ERROR");
        assert.equal(errors.length, 3, err.text);
        assert.match(errors[2]!, /: 429 TooManyRequests: /);
      },
    );

    await t.step(
      "a conflicting write by another agent is read back and overwritten",
      async () => {
        const current = await getReport(cp, NS, "nodereports", NODE);
        const other = await cp.api(
          "PUT",
          `/apis/kcm.intel.com/v1/namespaces/${NS}/nodereports/${NODE}`,
          { ...current, report: { written: "by another agent" } },
        );
        assert.equal(other.status, 200, JSON.stringify(other.body));
        const since = proxy.requests.length;
        await change("after-conflict");
        const object = await publishedWith(cp, "after-conflict");
        assert.equal(object.report.written, undefined);
        // The server applies the write before the proxy has its answer in
        // hand: wait for the proxy to record every status.
        const writes = await waitFor("the proxy to record the answers", () => {
          const seen = proxy.requests.slice(since).filter((r) =>
            r.path.includes("/nodereports/")
          );
          return seen.every((r) => r.status !== 0)
            ? seen.map((r) => `${r.method} ${r.status}`)
            : undefined;
        });
        assert.deepEqual(writes, ["PUT 409", "GET 200", "PUT 200"]);
        assert.equal(lines(err, "ERROR").length, 3, "a conflict is no error");
      },
    );

    await t.step(
      "a deleted CRD: one error until it is applied again",
      async () => {
        assert.equal((await cp.api("DELETE", CRD)).status, 200);
        await waitFor(
          "the CRD to be gone",
          async () => (await cp.api("GET", CRD)).status === 404 || undefined,
        );
        await change("without-crd");
        await waitForLine(
          err,
          /^ERROR:root:Cannot publish NodeReport: the CustomResourceDefinition nodereports\.kcm\.intel\.com is not installed \(hint: apply resources\/crd-nodereports\.yaml/,
        );
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(lines(err, "ERROR").length, 4, err.text);
        assert.equal((await cp.api("GET", CRD)).status, 404, "kcm made no CRD");
        await createCrd(cp, reportCrd("NodeReport") as unknown as CrdObject);
        await publishedWith(cp, "without-crd");
        await waitFor(
          "the fourth recovery line",
          () =>
            lines(err, "INFO").filter((l) => / again after /.test(l))
                .length === 4 || undefined,
        );
      },
    );

    await t.step("the metrics counted it all", async () => {
      const text = await (await fetch(metricsUrl)).text();
      const value = (series: string) =>
        Number(
          text.split("\n").find((l) => l.startsWith(`${series} `))?.split(
            " ",
          )[1],
        );
      assert.ok(
        value(
          'kcm_report_publish_total{kind="NodeReport",result="failure"}',
        ) >= 4,
      );
      assert.ok(
        value(
          'kcm_report_publish_total{kind="NodeReport",result="success"}',
        ) >= 5,
      );
      const last = value(
        'kcm_report_last_publish_timestamp_seconds{kind="NodeReport"}',
      );
      assert.ok(Math.abs(last - Date.now() / 1000) < 10, String(last));
    });
  } finally {
    // Between rounds: a round in progress may outlast the stop grace on a
    // loaded machine, and its warning is not one of the faults'.
    const { status } = await signalBetweenRounds(kcm, err, "SIGTERM");
    await Promise.all([out.done, err.done]);
    assert.equal(status.code, 0, err.text);
  }
  // One line per change of state: 4 failures, each followed by recovery.
  assert.equal(lines(err, "ERROR").length, 4, err.text);
  assert.equal(
    lines(err, "INFO").filter((l) => / again after /.test(l)).length,
    4,
    err.text,
  );
  assert.deepEqual(lines(err, "WARNING"), []);
});
