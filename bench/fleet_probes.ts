/**
 * What the fleet benchmark measures on the control plane: request counts
 * from kube-apiserver's `/metrics` (`apiserver_request_total`), etcd's
 * database size from etcd's `/metrics`, and the apiserver process's CPU
 * time and resident memory from procfs.
 */

import { processUsage } from "../tests/k8s/testenv.ts";
import type { ControlPlane } from "../tests/k8s/testenv.ts";

/** One sample line of a Prometheus text exposition. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * The samples of metrics named `names` in a Prometheus text exposition
 * (label values unescaped; HELP, TYPE and other metrics skipped).
 */
export function parseSamples(
  text: string,
  names: ReadonlySet<string>,
): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)/.exec(line);
    if (!match || !names.has(match[1]!)) continue;
    const labels: Record<string, string> = {};
    for (
      const [, key, raw] of (match[3] ?? "").matchAll(
        /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g,
      )
    ) {
      labels[key!] = raw!.replace(
        /\\(.)/g,
        (_, c: string) => (c === "n" ? "\n" : c),
      );
    }
    samples.push({ name: match[1]!, labels, value: Number(match[4]) });
  }
  return samples;
}

/** HTTP verbs that change state, as `apiserver_request_total` names them. */
const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "APPLY"]);

/** Counters and gauges of one moment. */
export interface ControlPlaneSnapshot {
  readonly atMs: number;
  /** `apiserver_request_total` summed by verb, every resource. */
  readonly requestsByVerb: Readonly<Record<string, number>>;
  /** Write requests on group `kcm.intel.com` (any status code). */
  readonly reportWrites: number;
  /** Successful writes (2xx) on group `kcm.intel.com`. */
  readonly reportWritesOk: number;
  /** `etcd_mvcc_db_total_size_in_bytes`. */
  readonly etcdDbBytes: number;
  /** `etcd_mvcc_db_total_size_in_use_in_bytes`. */
  readonly etcdDbInUseBytes: number;
  /** kube-apiserver's user + system CPU seconds so far. */
  readonly apiserverCpuSeconds: number;
  readonly apiserverRssBytes: number;
}

/** Takes a snapshot of the control plane's counters. */
export async function snapshot(
  cp: ControlPlane,
): Promise<ControlPlaneSnapshot> {
  const [apiserverText, etcdText, usage] = await Promise.all([
    cp.api("GET", "/metrics").then(({ status, body }) => {
      if (status !== 200) throw new Error(`GET /metrics: HTTP ${status}`);
      return String(body);
    }),
    fetch(`${cp.etcdUrl}/metrics`).then((r) => r.text()),
    processUsage(cp.pids.apiserver),
  ]);
  const requestsByVerb: Record<string, number> = {};
  let reportWrites = 0, reportWritesOk = 0;
  for (
    const { labels, value } of parseSamples(
      apiserverText,
      new Set(["apiserver_request_total"]),
    )
  ) {
    const verb = labels.verb ?? "";
    requestsByVerb[verb] = (requestsByVerb[verb] ?? 0) + value;
    if (labels.group === "kcm.intel.com" && WRITE_VERBS.has(verb)) {
      reportWrites += value;
      if (/^2/.test(labels.code ?? "")) reportWritesOk += value;
    }
  }
  const etcd = new Map(
    parseSamples(
      etcdText,
      new Set([
        "etcd_mvcc_db_total_size_in_bytes",
        "etcd_mvcc_db_total_size_in_use_in_bytes",
      ]),
    ).map((s) => [s.name, s.value]),
  );
  return {
    atMs: performance.now(),
    requestsByVerb,
    reportWrites,
    reportWritesOk,
    etcdDbBytes: etcd.get("etcd_mvcc_db_total_size_in_bytes") ?? NaN,
    etcdDbInUseBytes: etcd.get("etcd_mvcc_db_total_size_in_use_in_bytes") ??
      NaN,
    apiserverCpuSeconds: usage.cpuSeconds,
    apiserverRssBytes: usage.rssBytes,
  };
}

/** What changed between two snapshots, per second where it is a rate. */
export interface ControlPlaneDelta {
  readonly seconds: number;
  /** All write requests (every resource, every code) per second. */
  readonly writesPerSecond: number;
  /** Write requests on kcm's reports per second (every code). */
  readonly reportWritesPerSecond: number;
  /** Successful writes on kcm's reports per second. */
  readonly reportWritesOkPerSecond: number;
  /** Read requests (GET, LIST, WATCH) per second. */
  readonly readsPerSecond: number;
  readonly etcdDbGrowthBytes: number;
  readonly etcdInUseGrowthBytes: number;
  /** kube-apiserver CPU, in cores (CPU seconds per second). */
  readonly apiserverCores: number;
}

/** The difference `after - before`. */
export function delta(
  before: ControlPlaneSnapshot,
  after: ControlPlaneSnapshot,
): ControlPlaneDelta {
  const seconds = (after.atMs - before.atMs) / 1000;
  const sum = (verbs: (verb: string) => boolean) =>
    Object.entries(after.requestsByVerb)
      .filter(([verb]) => verbs(verb))
      .reduce(
        (total, [verb, n]) => total + n - (before.requestsByVerb[verb] ?? 0),
        0,
      );
  return {
    seconds,
    writesPerSecond: sum((v) => WRITE_VERBS.has(v)) / seconds,
    reportWritesPerSecond: (after.reportWrites - before.reportWrites) / seconds,
    reportWritesOkPerSecond: (after.reportWritesOk - before.reportWritesOk) /
      seconds,
    readsPerSecond: sum((v) => ["GET", "LIST", "WATCH"].includes(v)) / seconds,
    etcdDbGrowthBytes: after.etcdDbBytes - before.etcdDbBytes,
    etcdInUseGrowthBytes: after.etcdDbInUseBytes - before.etcdDbInUseBytes,
    apiserverCores: (after.apiserverCpuSeconds - before.apiserverCpuSeconds) /
      seconds,
  };
}
