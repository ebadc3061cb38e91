// deno-lint-ignore-file no-console
/**
 * Benchmark 5, memory: peak (VmHWM) and current (VmRSS) resident memory of
 * `kcm reconcile --interval=1` and `kcm node-report --interval=1` after 300
 * iterations against after 10 (60 with --quick) and, to tell warm-up from
 * a leak, against after half of them; both loops running at
 * once on 200-list configs and stopped with SIGTERM; and the same count of
 * `reconcileOnce` / `buildNodeReport` calls back to back in a fresh
 * process (bench/memory_in_process.ts), which also reports V8's heap
 * after a forced full GC (the figure a leak would grow; RSS also grows
 * while V8 sizes its heap, and never shrinks back).
 *
 * The loops take 300 s or more (`--interval` takes whole seconds), so
 * bench/main.ts starts them first and collects them last: they run beside
 * the other benchmarks, costing those a few percent of one CPU.
 */

import { join } from "node:path";
import {
  nodeReportFixture,
  reconcileFixture,
  writeConfigDir,
  writeFakeProcfs,
} from "./fixtures.ts";
import { readMemory } from "./memory_in_process.ts";
import { DENO, KCM_V8_FLAGS, repoPath, timeCommand } from "./measure.ts";
import type { BenchOptions } from "./options.ts";
import type { Row } from "./table.ts";

const EARLY = 10;
const LISTS = 200;
/** Allowed growth of memory from the early sample to the late one. */
const MAX_GROWTH = 1.1;

interface Sample {
  readonly iterations: number;
  readonly hwm: number;
  readonly rss: number;
  readonly heapUsed?: number;
}

interface Loop {
  readonly name: string;
  readonly samples: Promise<Sample[]>;
  readonly stopped: Promise<number>;
}

function startLoop(
  name: string,
  command: string,
  confDir: string,
  procRoot: string,
  late: number,
): Loop {
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-all",
      KCM_V8_FLAGS,
      repoPath("main.ts"),
      command,
      `--conf-dir=${confDir}`,
      "--interval=1",
    ],
    env: { KCM_PROC_FS: procRoot },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const samples = (async () => {
    const taken: Sample[] = [];
    let iterations = 0, carry = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      const lines = (carry + decoder.decode(chunk, { stream: true })).split(
        "\n",
      );
      carry = lines.pop()!;
      for (const line of lines) {
        if (line !== "}") continue; // the end of one report
        iterations++;
        if (
          iterations === EARLY || iterations === Math.floor(late / 2) ||
          iterations === late
        ) {
          taken.push({ iterations, ...readMemory(child.pid) });
          if (iterations === late) child.kill("SIGTERM");
        }
      }
    }
    return taken;
  })();
  return { name, samples, stopped: child.status.then((s) => s.code) };
}

/** Loops started by {@linkcode startMemoryBench}; `finish` collects them. */
export interface MemoryBench {
  finish(): Promise<Row[]>;
}

function growthRows(label: string, samples: readonly Sample[]): Row[] {
  const early = samples[0], late = samples.at(-1);
  const middle = samples.length > 2 ? samples[1] : undefined;
  if (early === undefined || late === undefined) {
    return [{
      benchmark: `5. memory, ${label}`,
      kcm: "no samples",
      baseline: "",
      baselineValue: "",
      ratio: NaN,
      target: `<= ${MAX_GROWTH}x`,
      met: false,
    }];
  }
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  const rows: Row[] = [];
  for (const key of ["hwm", "rss"] as const) {
    rows.push({
      benchmark: `5. memory, ${label}: ${key === "hwm" ? "VmHWM" : "VmRSS"}`,
      kcm: `${mib(late[key])} after ${late.iterations}`,
      baseline: `after ${early.iterations}`,
      baselineValue: mib(early[key]),
      ratio: late[key] / early[key],
      target: `<= ${MAX_GROWTH}x`,
      met: late[key] / early[key] <= MAX_GROWTH,
    });
  }
  if (middle !== undefined) {
    // Warm-up (V8 sizing its heap) is over by the middle sample; growth
    // after it is what a leak would show.
    rows.push({
      benchmark: `5. memory, ${label}: VmRSS, second half`,
      kcm: `${mib(late.rss)} after ${late.iterations}`,
      baseline: `after ${middle.iterations}`,
      baselineValue: mib(middle.rss),
      ratio: late.rss / middle.rss,
      target: `<= ${MAX_GROWTH}x`,
      met: late.rss / middle.rss <= MAX_GROWTH,
    });
  }
  if (early.heapUsed !== undefined && late.heapUsed !== undefined) {
    rows.push({
      benchmark: `5. memory, ${label}: V8 heapUsed after full GC`,
      kcm: `${
        (late.heapUsed / 2 ** 20).toFixed(1)
      } MiB after ${late.iterations}`,
      baseline: `after ${early.iterations}`,
      baselineValue: `${(early.heapUsed / 2 ** 20).toFixed(1)} MiB`,
      ratio: late.heapUsed / early.heapUsed,
      target: `<= ${MAX_GROWTH}x`,
      met: late.heapUsed / early.heapUsed <= MAX_GROWTH,
    });
  }
  return rows;
}

/** Builds the fixtures and starts the two `--interval=1` loops. */
export async function startMemoryBench(
  options: BenchOptions,
): Promise<MemoryBench> {
  const late = options.quick ? 60 : 300;
  const tmp = await Deno.makeTempDir({ prefix: "kcm-bench-memory-" });
  const rec = reconcileFixture(LISTS, 5), rep = nodeReportFixture(LISTS);
  const dirs = {
    reconcile: { conf: join(tmp, "rec"), proc: join(tmp, "rec-proc") },
    reconcileIn: { conf: join(tmp, "rec-in"), proc: join(tmp, "rec-proc") },
    report: { conf: join(tmp, "rep"), proc: join(tmp, "rep-proc") },
  };
  await writeConfigDir(dirs.reconcile.conf, rec.pools);
  await writeConfigDir(dirs.reconcileIn.conf, rec.pools);
  await writeFakeProcfs(dirs.reconcile.proc, rec.live);
  await writeConfigDir(dirs.report.conf, rep.pools);
  await writeFakeProcfs(dirs.report.proc, rep.live);
  const started = performance.now();
  const loops = [
    startLoop(
      "reconcile --interval=1",
      "reconcile",
      dirs.reconcile.conf,
      dirs.reconcile.proc,
      late,
    ),
    startLoop(
      "node-report --interval=1",
      "node-report",
      dirs.report.conf,
      dirs.report.proc,
      late,
    ),
  ];
  return {
    async finish(): Promise<Row[]> {
      try {
        const rows: Row[] = [];
        console.log(
          `\n## 5. memory (${LISTS}-list configs; samples after ${EARLY} and ${late} iterations)`,
        );
        for (const loop of loops) {
          const samples = await loop.samples;
          const code = await loop.stopped;
          console.log(
            `  kcm ${loop.name}: ${
              JSON.stringify(samples)
            } (KiB); exit ${code} on SIGTERM`,
          );
          rows.push(...growthRows(`kcm ${loop.name} (deno run)`, samples));
        }
        console.log(
          `  the loops ran ${
            ((performance.now() - started) / 1000).toFixed(0)
          } s`,
        );
        for (
          const [what, dir] of [["reconcile", dirs.reconcileIn], [
            "node-report",
            dirs.report,
          ]] as const
        ) {
          const { stdout } = await timeCommand({
            command: DENO,
            args: [
              "run",
              "--allow-all",
              "--v8-flags=--expose-gc,--max-semi-space-size=2",
              repoPath("bench/memory_in_process.ts"),
              what,
              dir.conf,
              dir.proc,
              String(EARLY),
              String(late),
            ],
          });
          const samples = JSON.parse(stdout) as Sample[];
          console.log(`  in-process ${what}: ${JSON.stringify(samples)}`);
          rows.push(...growthRows(`${what} x${late} (in-process)`, samples));
        }
        return rows;
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    },
  };
}
