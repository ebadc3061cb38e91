// deno-lint-ignore-file no-console
/**
 * What kube-controller-manager and kube-scheduler add to the test control
 * plane (tests/k8s/testenv.ts): start time (until every server answers its
 * health endpoint) and resident memory of each server, 5 s after start and
 * after one node and one DaemonSet, with and without the two components,
 * started in turns (with, without, without, with, ...).
 *
 * Not part of `deno task bench` (it needs the test binaries):
 *
 *     deno run --allow-all bench/testenv_start.ts [--rounds=7]
 */

import {
  createNode,
  processUsage,
  startControlPlane,
} from "../tests/k8s/testenv.ts";
import { formatMs, interleave, median } from "./measure.ts";

const MIB = 1024 * 1024;

async function run(): Promise<number> {
  let rounds = 7;
  for (const arg of Deno.args) {
    const match = /^--rounds=(\d+)$/.exec(arg);
    if (match) rounds = Number(match[1]);
    else {
      console.error("usage: bench/testenv_start.ts [--rounds=N]");
      return 2;
    }
  }
  const rss: Record<string, number[]> = {};
  const record = (key: string, bytes: number) =>
    (rss[key] ??= []).push(bytes / MIB);
  const contender = (controllers: boolean) => async () => {
    const started = performance.now();
    await using cp = await startControlPlane({ controllers });
    const ms = performance.now() - started;
    await createNode(cp, "node-1");
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const label = controllers ? "with" : "without";
    let total = 0;
    for (const [name, pid] of Object.entries(cp.pids)) {
      const { rssBytes } = await processUsage(pid);
      record(`${label} ${name}`, rssBytes);
      total += rssBytes;
    }
    record(`${label} total`, total);
    return ms;
  };
  const samples = await interleave(rounds, {
    with: contender(true),
    without: contender(false),
  });
  const withMs = median(samples.with!), withoutMs = median(samples.without!);
  console.log(`control plane start, median of ${rounds} rounds:`);
  console.log(`  etcd + kube-apiserver:            ${formatMs(withoutMs)}`);
  console.log(
    `  + kube-controller-manager + kube-scheduler: ${formatMs(withMs)} ` +
      `(${(withMs / withoutMs).toFixed(2)}x)`,
  );
  console.log("resident memory 5 s after start (median MiB):");
  for (const [key, values] of Object.entries(rss).sort()) {
    console.log(`  ${key.padEnd(28)} ${median(values).toFixed(0)}`);
  }
  return 0;
}

Deno.exit(await run());
