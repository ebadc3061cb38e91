import assert from "node:assert/strict";
import {
  createKcmMetrics,
  observeChecks,
  observeLoop,
  observePools,
  observeProcess,
  observePublish,
  observeReclaimed,
} from "../../core/kcm_metrics.ts";

Deno.test("createKcmMetrics() exposes every kcm metric with its HELP and TYPE", () => {
  const metrics = createKcmMetrics("1.2.3");
  observePools(metrics, [
    { name: "dataplane", cpuLists: [{ tasks: [10, 11] }, { tasks: [] }] },
    { name: "infra", cpuLists: [{ tasks: [12] }] },
  ]);
  observeReclaimed(metrics, [{ pool: "dataplane" }, { pool: "dataplane" }]);
  observeChecks(metrics, {
    configDirectory: { ok: true },
    taskAffinity: { ok: false },
  });
  observePublish(metrics, "NodeReport", {
    ok: true,
    at: new Date("2026-11-29T10:00:00.500Z"),
  });
  observePublish(metrics, "NodeReport", {
    ok: false,
    at: new Date("2026-11-29T10:00:10Z"),
  });
  metrics.publishSkips.inc({ kind: "NodeReport" });
  observeLoop(metrics, "node-report", 0.02);
  observeProcess(metrics, {
    residentBytes: 52428800,
    cpuSeconds: 1.5,
    startTimeSeconds: 1764400000.25,
    heapUsedBytes: 8000000,
    heapTotalBytes: 12000000,
  });
  const buckets = [
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1",
    "2.5",
    "5",
    "10",
    "30",
    "60",
    "+Inf",
  ].map((le) =>
    `kcm_loop_duration_seconds_bucket{command="node-report",le="${le}"} ${
      ["0.005", "0.01"].includes(le) ? 0 : 1
    }`
  );
  assert.equal(
    metrics.registry.format(),
    [
      "# HELP kcm_build_info Always 1; the kcm version in a label",
      "# TYPE kcm_build_info gauge",
      'kcm_build_info{version="1.2.3"} 1',
      "# HELP kcm_pool_cpu_lists Cpu lists in the pool",
      "# TYPE kcm_pool_cpu_lists gauge",
      'kcm_pool_cpu_lists{pool="dataplane"} 2',
      'kcm_pool_cpu_lists{pool="infra"} 1',
      "# HELP kcm_pool_cpu_lists_in_use Cpu lists of the pool that hold at least one task",
      "# TYPE kcm_pool_cpu_lists_in_use gauge",
      'kcm_pool_cpu_lists_in_use{pool="dataplane"} 1',
      'kcm_pool_cpu_lists_in_use{pool="infra"} 1',
      "# HELP kcm_pool_tasks Task pids recorded in the pool's cpu lists",
      "# TYPE kcm_pool_tasks gauge",
      'kcm_pool_tasks{pool="dataplane"} 2',
      'kcm_pool_tasks{pool="infra"} 1',
      "# HELP kcm_reclaimed_cpu_lists_total Cpu list claims reconcile gave back because their task had exited",
      "# TYPE kcm_reclaimed_cpu_lists_total counter",
      'kcm_reclaimed_cpu_lists_total{pool="dataplane"} 2',
      "# HELP kcm_node_report_check_ok 1 when the node-report check passed in the last run, 0 when it failed",
      "# TYPE kcm_node_report_check_ok gauge",
      'kcm_node_report_check_ok{check="configDirectory"} 1',
      'kcm_node_report_check_ok{check="taskAffinity"} 0',
      "# HELP kcm_report_publish_total Attempts to write the report object, by result",
      "# TYPE kcm_report_publish_total counter",
      'kcm_report_publish_total{kind="NodeReport",result="failure"} 1',
      'kcm_report_publish_total{kind="NodeReport",result="success"} 1',
      "# HELP kcm_report_publish_skipped_total Loop runs that did not write the report: unchanged and heartbeat not due",
      "# TYPE kcm_report_publish_skipped_total counter",
      'kcm_report_publish_skipped_total{kind="NodeReport"} 1',
      "# HELP kcm_report_last_publish_timestamp_seconds Unix time of the last successful write of the report object",
      "# TYPE kcm_report_last_publish_timestamp_seconds gauge",
      'kcm_report_last_publish_timestamp_seconds{kind="NodeReport"} 1795946400.5',
      "# HELP kcm_loop_duration_seconds Time one iteration of the --interval loop took, publishing included",
      "# TYPE kcm_loop_duration_seconds histogram",
      ...buckets,
      'kcm_loop_duration_seconds_sum{command="node-report"} 0.02',
      'kcm_loop_duration_seconds_count{command="node-report"} 1',
      "# HELP process_resident_memory_bytes Resident memory size in bytes",
      "# TYPE process_resident_memory_bytes gauge",
      "process_resident_memory_bytes 52428800",
      "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds",
      "# TYPE process_cpu_seconds_total counter",
      "process_cpu_seconds_total 1.5",
      "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds",
      "# TYPE process_start_time_seconds gauge",
      "process_start_time_seconds 1764400000.25",
      "# HELP deno_heap_size_used_bytes V8 heap in use, in bytes",
      "# TYPE deno_heap_size_used_bytes gauge",
      "deno_heap_size_used_bytes 8000000",
      "# HELP deno_heap_size_total_bytes V8 heap reserved, in bytes",
      "# TYPE deno_heap_size_total_bytes gauge",
      "deno_heap_size_total_bytes 12000000",
      "",
    ].join("\n"),
  );
});

Deno.test("observePools() and observeChecks() forget pools and checks that are gone", () => {
  const metrics = createKcmMetrics("0");
  observePools(metrics, [
    { name: "a", cpuLists: [{ tasks: [1] }] },
    { name: "b", cpuLists: [] },
  ]);
  observePools(metrics, [{ name: "b", cpuLists: [{ tasks: [] }] }]);
  assert.equal(metrics.poolCpuLists.get({ pool: "a" }), undefined);
  assert.equal(metrics.poolCpuLists.get({ pool: "b" }), 1);
  assert.equal(metrics.poolCpuListsInUse.get({ pool: "b" }), 0);
  observeChecks(metrics, { x: { ok: true } });
  observeChecks(metrics, { y: { ok: false } });
  assert.equal(metrics.checkOk.get({ check: "x" }), undefined);
  assert.equal(metrics.checkOk.get({ check: "y" }), 0);
});

Deno.test("observeReclaimed() and observePublish() accumulate across runs", () => {
  const metrics = createKcmMetrics("0");
  observeReclaimed(metrics, [{ pool: "a" }]);
  observeReclaimed(metrics, []);
  observeReclaimed(metrics, [{ pool: "a" }, { pool: "b" }]);
  assert.equal(metrics.reclaimedCpuLists.get({ pool: "a" }), 2);
  assert.equal(metrics.reclaimedCpuLists.get({ pool: "b" }), 1);
  const at = new Date("2026-01-01T00:00:00Z");
  observePublish(metrics, "ReconcileReport", { ok: true, at });
  observePublish(metrics, "ReconcileReport", {
    ok: false,
    at: new Date(at.getTime() + 10_000),
  });
  // A failure leaves the last success's timestamp.
  assert.equal(
    metrics.lastPublish.get({ kind: "ReconcileReport" }),
    at.getTime() / 1000,
  );
});

Deno.test("kcm's metric names follow the Prometheus conventions", () => {
  const text = createKcmMetrics("0").registry.format();
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)];
  assert.ok(types.length >= 15);
  for (const [, name, type] of types) {
    assert.match(name!, /^(kcm|process|deno)_[a-z0-9_]+$/, name);
    if (type === "counter") assert.match(name!, /_total$/, name);
    else assert.doesNotMatch(name!, /_total$/, name);
    if (type === "histogram") assert.match(name!, /_seconds$/, name);
    // Base units only: no milliseconds, kilobytes, ...
    assert.doesNotMatch(name!, /_(milli|micro|kilo|mega)|_ms$|_kb$/, name);
  }
});
