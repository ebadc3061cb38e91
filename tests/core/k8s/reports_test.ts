/**
 * `ReportPublisher` on a real kube-apiserver with the wall clock in the
 * test's hands: in a loop it writes on change and at the heartbeat only
 * (one write request each), and an Event that could not be written while
 * the API server was down is written once it is back. Requests are counted
 * by a pass-through proxy (tests/_helpers/api_proxy.ts).
 */

import assert from "node:assert/strict";
import type { Host } from "../../../core/host.ts";
import { createLogger } from "../../../core/log.ts";
import type { NodeEvent } from "../../../core/k8s/node_events.ts";
import { ReportPublisher } from "../../../core/k8s/reports.ts";
import { startApiProxy } from "../../_helpers/api_proxy.ts";
import { FakeClock } from "../../_helpers/fake_clock.ts";
import {
  installKcmIdentities,
  KCM_NAMESPACE,
} from "../../_helpers/k8s_manifests.ts";
import { getReport, nodeEvents } from "../../_helpers/report_api.ts";
import { createNode, startControlPlane } from "../../k8s/testenv.ts";

const NS = KCM_NAMESPACE;
const T0 = Date.parse("2030-05-01T00:00:00Z");

Deno.test("ReportPublisher in a loop writes on change and at the heartbeat only", async (t) => {
  await using cp = await startControlPlane();
  const kcm = await installKcmIdentities(cp);
  await createNode(cp, "loop-node");
  const sa = await kcm.nodeAgent("loop-node");
  await using proxy = await startApiProxy(cp);
  let nowMs = T0;
  const clock = new FakeClock();
  const lines: string[] = [];
  const host: Pick<Host, "env" | "log" | "clock" | "now" | "hostname"> = {
    env: {
      ...sa.inClusterEnv,
      KUBERNETES_SERVICE_PORT: String(proxy.port),
      NODE_NAME: "loop-node",
    },
    log: createLogger("DEBUG", (line) => lines.push(line)),
    clock,
    now: () => new Date(nowMs),
    hostname: () => "unused",
  };
  const publisher = new ReportPublisher("NodeReport", {
    host,
    loop: { intervalSeconds: 10, heartbeatSeconds: 300 },
    random: () => 0, // no jitter: the heartbeat is due after exactly 300 s
  });
  const ok = { checks: { a: { ok: true, errors: [] } }, description: null };
  const failing = {
    checks: { a: { ok: false, errors: ["broken"] } },
    description: null,
  };
  /** Runs a round at T0 + `seconds`; returns its outcome and requests. */
  const roundAt = async (
    seconds: number,
    report: unknown,
    events: NodeEvent[] = [],
  ) => {
    clock.advance(T0 + seconds * 1000 - nowMs); // time passes for both
    nowMs = T0 + seconds * 1000;
    const since = proxy.requests.length;
    const outcome = await publisher.round({
      report: report as never,
      events,
    });
    const requests = proxy.requests.slice(since).map((r) =>
      `${r.method} ${r.path.replace(/^.*\//, "")} ${r.status}`
    );
    return { ...outcome, requests };
  };

  await t.step("the first round creates the object", async () => {
    const first = await roundAt(0, ok);
    assert.equal(first.decision.reason, "first");
    assert.equal(first.publish, "created");
    assert.deepEqual(first.requests, [
      "GET loop-node 200",
      "GET loop-node 404",
      "POST nodereports 201",
    ]);
    const object = await getReport(cp, NS, "nodereports", "loop-node");
    assert.equal(object.staleAfter, "5m30s"); // 300 s + 3 x 10 s
    assert.equal(object.staleAt, "2030-05-01T00:05:30Z");
  });

  await t.step("an unchanged report sends nothing", async () => {
    const same = await roundAt(10, ok);
    assert.equal(same.publish, "skipped");
    assert.equal(same.decision.reason, "unchanged");
    assert.deepEqual(same.requests, []);
  });

  await t.step("a change is one write", async () => {
    const changed = await roundAt(20, failing);
    assert.equal(changed.decision.reason, "changed");
    assert.equal(changed.publish, "replaced");
    assert.deepEqual(changed.requests, [
      "GET loop-node 200",
      "PUT loop-node 200",
    ]);
  });

  await t.step("the heartbeat refreshes last_updated, not before", async () => {
    assert.deepEqual((await roundAt(319, failing)).requests, []);
    const beat = await roundAt(320, failing);
    assert.equal(beat.decision.reason, "heartbeat");
    assert.equal(beat.publish, "replaced");
    const object = await getReport(cp, NS, "nodereports", "loop-node");
    assert.equal(object.last_updated, "2030-05-01T00:05:20.000Z");
  });

  await t.step("an Event from an outage is written when it ends", async () => {
    await proxy.down();
    const event: NodeEvent = {
      type: "Warning",
      reason: "CheckFailed",
      action: "NodeReport",
      note: "node-report check a failed: broken during the outage",
    };
    const during = await roundAt(330, ok, [event]);
    assert.equal(during.publish, "failed");
    assert.match(
      lines.join(""),
      /ERROR:root:Cannot publish NodeReport: GET \/api\/v1\/nodes\/loop-node: no answer/,
    );
    proxy.up();
    const after = await roundAt(340, ok);
    assert.equal(after.decision.reason, "retry");
    assert.equal(after.publish, "replaced");
    // After a failure the object is read again before it is replaced.
    assert.deepEqual(after.requests, [
      "GET loop-node 200",
      "GET loop-node 200",
      "PUT loop-node 200",
      "POST events 201",
    ]);
    const events = await nodeEvents(cp, "loop-node");
    assert.deepEqual(events.map((e) => e.note), [event.note]);
    assert.match(
      lines.join(""),
      /INFO:root:Published NodeReport kcm-system\/loop-node again after 1 failed attempt in 1\ds/,
    );
  });
});
