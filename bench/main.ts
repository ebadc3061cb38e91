// deno-lint-ignore-file no-console
/**
 * `deno task bench`: runs the benchmarks and prints one markdown table.
 * Options: `--quick` (fewer repetitions), `--only=<name>` (one benchmark:
 * isolate, contention, reconcile, node-report, memory, allocate, webhook,
 * kubelet). `kubelet` (kcm's allocator against the kubelet's,
 * bench/kubelet_compare.ts) needs Go and runs only when asked for with
 * `--only=kubelet`.
 *
 * The memory loops take five minutes of wall time but little CPU, so they
 * start first and are collected last, while the others run.
 */

import { benchAllocate } from "./allocate.ts";
import { benchContention } from "./contention.ts";
import { benchIsolateStartup } from "./isolate_startup.ts";
import { startMemoryBench } from "./memory.ts";
import { printKubeletComparison } from "./kubelet_compare.ts";
import { benchNodeReportScale } from "./node_report_scale.ts";
import type { BenchOptions } from "./options.ts";
import { benchReconcileScale } from "./reconcile_scale.ts";
import { useFreshDenoDir } from "./measure.ts";
import { formatTable, type Row } from "./table.ts";
import { benchWebhook } from "./webhook.ts";

const NAMES = [
  "isolate",
  "contention",
  "reconcile",
  "node-report",
  "memory",
  "allocate",
  "webhook",
  "kubelet",
];
/** Benchmarks that run only when named with `--only`. */
const OPT_IN = ["kubelet"];

function machine(): string {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const cpus = cpuinfo.match(/^processor\s*:/gm)?.length ?? 0;
  return `${cpus} CPUs, ${model}, Deno ${Deno.version.deno}, ${Deno.build.target}`;
}

async function run(): Promise<number> {
  let quick = false, only: string | undefined;
  for (const arg of Deno.args) {
    if (arg === "--quick") quick = true;
    else if (arg.startsWith("--only=")) only = arg.slice("--only=".length);
    else {
      console.error(
        `usage: bench/main.ts [--quick] [--only=${NAMES.join("|")}]`,
      );
      return 2;
    }
  }
  if (only !== undefined && !NAMES.includes(only)) {
    console.error(`unknown benchmark "${only}"; one of ${NAMES.join(", ")}`);
    return 2;
  }
  const options: BenchOptions = { quick };
  // Every program timed loads from caches written in this run (measure.ts);
  // kcm saves its code cache on its first run, a warm-up round.
  await using _denoDir = await useFreshDenoDir();
  const wanted = (name: string) =>
    only === name || (only === undefined && !OPT_IN.includes(name));
  const started = performance.now();
  console.log(
    `# kcm benchmarks${quick ? " (--quick)" : ""}\nmachine: ${machine()}`,
  );
  const memory = wanted("memory") ? await startMemoryBench(options) : undefined;
  const rows: Row[] = [];
  if (wanted("isolate")) rows.push(...await benchIsolateStartup(options));
  if (wanted("contention")) rows.push(...await benchContention(options));
  if (wanted("reconcile")) rows.push(...await benchReconcileScale(options));
  if (wanted("node-report")) rows.push(...await benchNodeReportScale(options));
  if (wanted("allocate")) rows.push(...await benchAllocate(options));
  if (wanted("webhook")) rows.push(...await benchWebhook(options));
  if (memory !== undefined) rows.push(...await memory.finish());
  if (wanted("kubelet")) {
    await printKubeletComparison({ seeds: quick ? 3 : 10, steps: 600 });
    if (rows.length === 0) return 0;
  }
  console.log(`\n## Results (${machine()})\n`);
  console.log(formatTable(rows));
  console.log(
    "\nratio = kcm / baseline for times and memory, baseline / kcm for throughput: above 1 means kcm is slower or bigger.",
  );
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return 0;
}

Deno.exit(await run());
