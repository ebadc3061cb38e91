// deno-lint-ignore-file no-console
/**
 * Benchmark 4, node-report at scale: configs of 200, 2,000 and 20,000 cpu
 * lists of the same shape (bench/fixtures.ts `nodeReportFixture`: every
 * list overlaps another, one live and one dead pid per list, one live pid
 * in ten drifted), checked in-process with `buildNodeReport` (plus the
 * JSON formatting every run does) against a fake procfs and this
 * machine's /sys. Reports the time at each size and the growth factors,
 * which must stay near 10x per 10x more lists; and `kcm node-report` as a
 * process at 2,000 lists against bench/floor_reconcile.ts.
 */

import { join } from "node:path";
import { buildNodeReport } from "../commands/node_report.ts";
import { formatJson } from "../core/json.ts";
import {
  nodeReportFixture,
  writeConfigDir,
  writeFakeProcfs,
} from "./fixtures.ts";
import {
  DENO,
  formatMs,
  interleave,
  KCM_V8_FLAGS,
  median,
  repoPath,
  timeCommand,
} from "./measure.ts";
import type { BenchOptions } from "./options.ts";
import type { Row } from "./table.ts";

const SIZES = [200, 2_000, 20_000] as const;
/** Growth allowed per 10x lists before it stops counting as near-linear. */
const MAX_GROWTH = 13;

/** Runs benchmark 4 and returns its table rows. */
export async function benchNodeReportScale(
  options: BenchOptions,
): Promise<Row[]> {
  const rounds = options.quick ? 3 : 5;
  const tmp = await Deno.makeTempDir({ prefix: "kcm-bench-node-report-" });
  try {
    const dirs = new Map<number, { confDir: string; procRoot: string }>();
    for (const size of SIZES) {
      const fixture = nodeReportFixture(size);
      const confDir = join(tmp, `kcm-${size}`),
        procRoot = join(tmp, `proc-${size}`);
      await writeConfigDir(confDir, fixture.pools);
      await writeFakeProcfs(procRoot, fixture.live);
      dirs.set(size, { confDir, procRoot });
    }
    let reportBytes = 0;
    const inProcess = (size: number) => async () => {
      const { confDir, procRoot } = dirs.get(size)!;
      const start = performance.now();
      const report = await buildNodeReport(confDir, {
        procRoot,
        sysRoot: "/sys",
        lockTimeoutMs: 30_000,
      });
      const text = formatJson(report);
      const ms = performance.now() - start;
      if (size === 20_000) reportBytes = text.length;
      return ms;
    };
    const samples = await interleave(rounds, {
      "200": inProcess(200),
      "2000": inProcess(2_000),
      "20000": inProcess(20_000),
    });
    const t = (size: number) => median(samples[String(size)]!);

    const mid = dirs.get(2_000)!;
    const cli = await interleave(rounds, {
      kcm: async () =>
        (await timeCommand({
          command: DENO,
          args: [
            "run",
            "--allow-all",
            KCM_V8_FLAGS,
            repoPath("main.ts"),
            "node-report",
            `--conf-dir=${mid.confDir}`,
          ],
          env: { KCM_PROC_FS: mid.procRoot },
        })).ms,
      floor: async () =>
        (await timeCommand({
          command: DENO,
          args: [
            "run",
            "--allow-all",
            repoPath("bench/floor_reconcile.ts"),
            mid.confDir,
            mid.procRoot,
          ],
        })).ms,
    });
    const kcmCli = median(cli.kcm!), floorCli = median(cli.floor!);

    const g1 = t(2_000) / t(200), g2 = t(20_000) / t(2_000);
    console.log(
      `\n## 4. node-report at scale (${rounds} interleaved rounds, medians)`,
    );
    for (const size of SIZES) {
      console.log(
        `  ${String(size).padStart(6)} lists  ${formatMs(t(size))} in-process`,
      );
    }
    console.log(
      `  growth 200 -> 2,000: ${g1.toFixed(1)}x; 2,000 -> 20,000: ${
        g2.toFixed(1)
      }x`,
    );
    console.log(
      `  report at 20,000 lists: ${(reportBytes / 1e6).toFixed(1)} MB of JSON`,
    );
    console.log(
      `  kcm node-report at 2,000 (deno run) ${
        formatMs(kcmCli)
      }; floor_reconcile.ts ${formatMs(floorCli)}`,
    );
    const growthRow = (from: number, to: number): Row => ({
      benchmark: `4. node-report growth ${from.toLocaleString("en")} -> ${
        to.toLocaleString("en")
      } lists`,
      kcm: `${formatMs(t(to))} (${(t(to) / t(from)).toFixed(1)}x)`,
      baseline: `linear: 10 x time(${from.toLocaleString("en")})`,
      baselineValue: formatMs(10 * t(from)),
      ratio: t(to) / (10 * t(from)),
      target: `growth <= ${MAX_GROWTH}x`,
      met: t(to) / t(from) <= MAX_GROWTH,
    });
    return [
      {
        benchmark: "4. node-report 200 lists (in-process)",
        kcm: formatMs(t(200)),
        baseline: "",
        baselineValue: "",
        ratio: NaN,
        target: "",
        met: undefined,
      },
      growthRow(200, 2_000),
      growthRow(2_000, 20_000),
      {
        benchmark: "4. node-report 2,000 lists (deno run)",
        kcm: formatMs(kcmCli),
        baseline: "floor_reconcile.ts (deno run)",
        baselineValue: formatMs(floorCli),
        ratio: kcmCli / floorCli,
        target: "",
        met: undefined,
      },
    ];
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
