// deno-lint-ignore-file no-console
/**
 * Benchmark 2, allocation under contention: 200 `kcm isolate ... true`
 * launched 20 at a time, on a shared pool (2 lists, CPUs 0 and 1) and on
 * an exclusive pool of 20 lists (this machine has 2 CPUs, so the 20 lists
 * are named 0..19 and kcm runs with `--no-affinity`: the lists are taken
 * and given back, nothing is pinned), against the same count of
 * `taskset -c 0 true` launched 20 at a time (and, to tell Deno's share
 * from kcm's, bench/floor_spawn.ts launched 20 at a time). Figures: throughput
 * (isolates per second) and p50/p99 latency of one launch.
 */

import { join } from "node:path";
import { writeConfigDir } from "./fixtures.ts";
import {
  DENO,
  formatMs,
  KCM_V8_FLAGS,
  median,
  percentile,
  repoPath,
  timeCommand,
  type TimedCommand,
} from "./measure.ts";
import type { BenchOptions } from "./options.ts";
import type { Row } from "./table.ts";

const TOTAL = 200;
const PARALLEL = 20;

/** Throughput and latencies of one batch. */
interface BatchResult {
  readonly perSecond: number;
  readonly latencies: number[];
}

async function runBatch(make: () => TimedCommand): Promise<BatchResult> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  async function worker(): Promise<void> {
    while (next < TOTAL) {
      next++;
      latencies.push((await timeCommand(make())).ms);
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: TOTAL / seconds, latencies };
}

/** Runs benchmark 2 and returns its table rows. */
export async function benchContention(options: BenchOptions): Promise<Row[]> {
  const rounds = options.quick ? 1 : 3;
  const tmp = await Deno.makeTempDir({ prefix: "kcm-bench-contention-" });
  try {
    const confDir = join(tmp, "kcm");
    await writeConfigDir(confDir, [
      {
        name: "infra",
        exclusive: false,
        lists: [{ name: "0", tasks: [] }, { name: "1", tasks: [] }],
      },
      {
        name: "dataplane",
        exclusive: true,
        lists: Array.from({ length: PARALLEL }, (_, i) => ({
          name: String(i),
          tasks: [],
        })),
      },
    ]);
    const main = repoPath("main.ts");
    const kcm = (...args: string[]) => (): TimedCommand => ({
      command: DENO,
      args: [
        "run",
        "--allow-all",
        KCM_V8_FLAGS,
        main,
        "isolate",
        `--conf-dir=${confDir}`,
        ...args,
        "true",
      ],
    });
    const contenders: Record<string, () => TimedCommand> = {
      shared: kcm("--pool=infra"),
      taskset: () => ({ command: "taskset", args: ["-c", "0", "true"] }),
      floorSpawn: () => ({
        command: DENO,
        args: ["run", "--allow-all", repoPath("bench/floor_spawn.ts"), "true"],
      }),
      exclusive: kcm("--pool=dataplane", "--no-affinity"),
    };
    // One untimed run of each fills the Deno cache before any batch.
    for (const contender of Object.values(contenders)) {
      await timeCommand(contender());
    }
    const results: Record<string, BatchResult[]> = {};
    for (const name of Object.keys(contenders)) results[name] = [];
    for (let round = 0; round < rounds; round++) {
      const names = Object.keys(contenders);
      for (const name of round % 2 === 0 ? names : names.reverse()) {
        results[name]!.push(await runBatch(contenders[name]!));
      }
    }
    const summary = (name: string) => {
      const batches = results[name]!;
      const all = batches.flatMap((b) => b.latencies);
      return {
        perSecond: median(batches.map((b) => b.perSecond)),
        p50: percentile(all, 50),
        p99: percentile(all, 99),
      };
    };
    const s = {
      shared: summary("shared"),
      exclusive: summary("exclusive"),
      taskset: summary("taskset"),
      floorSpawn: summary("floorSpawn"),
    };
    console.log(
      `\n## 2. allocation under contention (${TOTAL} launches, ${PARALLEL} at a time, ${rounds} round(s))`,
    );
    for (const [name, v] of Object.entries(s)) {
      console.log(
        `  ${name.padEnd(10)} ${v.perSecond.toFixed(1)} isolates/s  p50 ${
          formatMs(v.p50)
        }  p99 ${formatMs(v.p99)}`,
      );
    }
    // Leftover pids would mean a list was not given back.
    for (const pool of ["infra", "dataplane"]) {
      for await (const entry of Deno.readDir(join(confDir, "pools", pool))) {
        if (!entry.isDirectory) continue;
        const text = await Deno.readTextFile(
          join(confDir, "pools", pool, entry.name, "tasks"),
        );
        if (text.trim() !== "") {
          console.log(`  WARNING: ${pool}:${entry.name} still holds ${text}`);
        }
      }
    }
    const rows: Row[] = [];
    const base = s.taskset;
    for (const name of ["shared", "exclusive"] as const) {
      const v = s[name];
      const label = name === "shared"
        ? "2. contention, shared pool"
        : "2. contention, exclusive pool (--no-affinity)";
      rows.push({
        benchmark: `${label}: throughput`,
        kcm: `${v.perSecond.toFixed(1)}/s`,
        baseline: "taskset -c 0 true, 20 at a time",
        baselineValue: `${base.perSecond.toFixed(1)}/s`,
        ratio: base.perSecond / v.perSecond,
        target: "",
        met: undefined,
      });
      for (const p of ["p50", "p99"] as const) {
        rows.push({
          benchmark: `${label}: ${p} latency`,
          kcm: formatMs(v[p]),
          baseline: "taskset -c 0 true, 20 at a time",
          baselineValue: formatMs(base[p]),
          ratio: v[p] / base[p],
          target: "",
          met: undefined,
        });
      }
    }
    rows.push({
      benchmark: "2. contention, shared pool: throughput",
      kcm: `${s.shared.perSecond.toFixed(1)}/s`,
      baseline: "floor_spawn.ts, 20 at a time",
      baselineValue: `${s.floorSpawn.perSecond.toFixed(1)}/s`,
      ratio: s.floorSpawn.perSecond / s.shared.perSecond,
      target: "",
      met: undefined,
    });
    return rows;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
