/**
 * The monitoring examples in resources/monitoring/ fit kcm: the Grafana
 * dashboard's queries name only metrics kcm exports, and the Prometheus
 * scrape job selects the pods and ports of the shipped DaemonSet.
 */

import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { createKcmMetrics } from "../core/kcm_metrics.ts";
import { METRICS_PORTS } from "../core/k8s/workloads.ts";
import { readManifest } from "./_helpers/k8s_manifests.ts";
import { REPO_ROOT } from "./_helpers/run_cli.ts";

const DIR = `${REPO_ROOT}/resources/monitoring`;

/** Every metric name a kcm daemon's /metrics can show, histogram series included. */
function exportedNames(): Set<string> {
  const names = new Set<string>();
  const text = createKcmMetrics("0.0.0").registry.format();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) {
        names.add(name! + suffix);
      }
    }
  }
  return names;
}

/** PromQL words that are not metric names. */
const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects: identifiers outside
 * strings, label matchers, ranges and grouping clauses that are not
 * function calls or keywords.
 *
 * @example `metricNames('sum by (node) (rate(a_total{x="y"}[5m])) / b')` is `["a_total", "b"]`.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(
      /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
      " ",
    );
  const names: string[] = [];
  for (
    const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)
  ) {
    const [text, call] = [match[0].replace(/\s*\($/, ""), match[1]];
    if (call || KEYWORDS.has(text.toLowerCase())) continue;
    names.push(text);
  }
  return names;
}

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; definition?: string }[] };
}

Deno.test("the Grafana dashboard queries only metrics kcm exports", async () => {
  const dashboard = JSON.parse(
    await Deno.readTextFile(`${DIR}/grafana-dashboard.json`),
  ) as Dashboard;
  const exported = exportedNames();
  const queries = dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({ panel: panel.title, expr: target.expr }))
  );
  assert.ok(queries.length >= 5, "a dashboard worth the name");
  const used = new Set<string>();
  for (const { panel, expr } of queries) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${panel}: no metric in ${expr}`);
    for (const name of names) {
      assert.ok(exported.has(name), `${panel}: kcm exports no "${name}"`);
      used.add(name);
    }
  }
  for (const variable of dashboard.templating.list) {
    const match = /^label_values\((\w+),\s*(\w+)\)$/.exec(
      variable.definition ?? "",
    );
    if (match) assert.ok(exported.has(match[1]!), variable.name);
  }
  // The point of the dashboard: pool use per node.
  assert.ok(
    queries.some(({ expr }) =>
      expr.includes("kcm_pool_cpu_lists_in_use") &&
      /by \(node, pool\)/.test(expr)
    ),
  );
  assert.ok(used.has("kcm_pool_cpu_lists"));
});

Deno.test("the dashboard check sees a metric kcm does not export", () => {
  assert.deepEqual(
    metricNames(
      'sum by (node) (rate(kcm_nope_total{x="a{b}"}[5m])) / on(node) kcm_pool_tasks',
    ),
    ["kcm_nope_total", "kcm_pool_tasks"],
  );
  assert.ok(!exportedNames().has("kcm_nope_total"));
});

interface ScrapeConfig {
  "scrape_configs": {
    job_name: string;
    kubernetes_sd_configs: { role: string }[];
    relabel_configs: {
      source_labels?: string[];
      regex?: string;
      action?: string;
    }[];
  }[];
}

Deno.test("the Prometheus scrape job keeps exactly the DaemonSet's metrics ports", async () => {
  const config = parseYaml(
    await Deno.readTextFile(`${DIR}/prometheus-scrape.yaml`),
  ) as ScrapeConfig;
  const [job] = config.scrape_configs;
  assert.equal(job!.job_name, "kcm");
  assert.deepEqual(job!.kubernetes_sd_configs.map((c) => c.role), ["pod"]);
  const keeps = job!.relabel_configs.filter((r) => r.action === "keep");
  /** Whether a target with these meta labels survives the keep rules. */
  const kept = (meta: Record<string, string>) =>
    keeps.every((rule) => {
      const value = (rule.source_labels ?? []).map((l) => meta[l] ?? "")
        .join(";");
      return new RegExp(`^(?:${rule.regex})$`).test(value);
    });

  const [daemonSet] = await readManifest("kcm-daemonset.yaml");
  const labels = daemonSet!.spec.template.metadata.labels;
  const podMeta = {
    "__meta_kubernetes_pod_label_app_kubernetes_io_name":
      labels["app.kubernetes.io/name"],
    "__meta_kubernetes_pod_label_app_kubernetes_io_component":
      labels["app.kubernetes.io/component"],
  };
  const ports = daemonSet!.spec.template.spec.containers.flatMap((
    c: { ports?: { name: string; containerPort: number }[] },
  ) => c.ports ?? []);
  assert.deepEqual(
    ports.map((p: { name: string }) => p.name).sort(),
    Object.values(METRICS_PORTS).map((p) => p.name).sort(),
  );
  for (const port of ports) {
    assert.ok(
      kept({
        ...podMeta,
        __meta_kubernetes_pod_container_port_name: port.name,
      }),
      `port ${port.name} is scraped`,
    );
  }
  // Negative cases: another port of the pod, another workload's metrics.
  assert.ok(
    !kept({ ...podMeta, __meta_kubernetes_pod_container_port_name: "http" }),
  );
  assert.ok(
    !kept({
      ...podMeta,
      __meta_kubernetes_pod_label_app_kubernetes_io_component: "setup",
      __meta_kubernetes_pod_container_port_name: "metrics",
    }),
  );
});
