// deno-lint-ignore-file no-console
/**
 * Benchmark 3, reconcile at scale: a config dir of 2,000 cpu lists holding
 * 10,000 task pids, half of them dead, checked against a fake procfs of
 * 5,000 `<pid>/status` files (`KCM_PROC_FS`). One `kcm reconcile` against
 * bench/floor_reconcile.ts, which only reads every tasks file and stats
 * every pid. The tasks files are rewritten before every kcm run, since
 * reconcile removes the dead pids. Run both as processes (`deno run`) and
 * in-process (`reconcileOnce` against `floorReconcile`) to tell start-up
 * from work; on the disk-backed temp dir (where the renames of the
 * rewritten tasks files reach the disk), on tmpfs (/dev/shm), and in the
 * steady state where no pid is dead and nothing is written.
 */

import { join } from "node:path";
import { reconcileOnce } from "../commands/reconcile.ts";
import { createLogger } from "../core/log.ts";
import {
  reconcileFixture,
  writeConfigDir,
  writeFakeProcfs,
  writeTasksFiles,
} from "./fixtures.ts";
import { floorReconcile } from "./floor_reconcile.ts";
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
import { type Row, timeRow } from "./table.ts";

const LISTS = 2_000;
const TASKS_PER_LIST = 5;

/** Runs benchmark 3 and returns its table rows. */
export async function benchReconcileScale(
  options: BenchOptions,
): Promise<Row[]> {
  const rounds = options.quick ? 3 : 7;
  const fixture = reconcileFixture(LISTS, TASKS_PER_LIST);
  const disk = await Deno.makeTempDir({ prefix: "kcm-bench-reconcile-" });
  const shm = await Deno.makeTempDir({
    dir: "/dev/shm",
    prefix: "kcm-bench-reconcile-",
  });
  try {
    const procRoot = join(disk, "proc");
    await writeFakeProcfs(procRoot, fixture.live);
    const confDisk = join(disk, "kcm"), confShm = join(shm, "kcm");
    const confSteady = join(disk, "steady");
    await writeConfigDir(confDisk, fixture.pools);
    await writeConfigDir(confShm, fixture.pools);
    await writeConfigDir(confSteady, fixture.pools);
    const env = { KCM_PROC_FS: procRoot };
    const main = repoPath("main.ts");
    const floorScript = repoPath("bench/floor_reconcile.ts");
    const cli = (confDir: string) => async () =>
      (await timeCommand({
        command: DENO,
        args: [
          "run",
          "--allow-all",
          KCM_V8_FLAGS,
          main,
          "reconcile",
          `--conf-dir=${confDir}`,
        ],
        env,
      })).ms;
    const floorCli = async () =>
      (await timeCommand({
        command: DENO,
        args: ["run", "--allow-all", floorScript, confDisk, procRoot],
      })).ms;
    // Steady state: a first reconcile leaves only live pids.
    await cli(confSteady)();

    const rebuild = async (name: string) => {
      if (name === "kcmDisk") await writeTasksFiles(confDisk, fixture.pools);
      if (name === "kcmTmpfs") await writeTasksFiles(confShm, fixture.pools);
    };
    const cliSamples = await interleave(rounds, {
      kcmDisk: cli(confDisk),
      kcmTmpfs: cli(confShm),
      kcmSteady: cli(confSteady),
      floor: floorCli,
    }, { before: rebuild });

    const host = {
      procRoot,
      lockTimeoutMs: 30_000,
      log: createLogger("INFO", () => {}),
      env: {},
    };
    const timed = (work: () => unknown) => async () => {
      const start = performance.now();
      await work();
      return performance.now() - start;
    };
    const inSamples = await interleave(rounds, {
      kcmDisk: timed(() => reconcileOnce(confDisk, host)),
      kcmTmpfs: timed(() => reconcileOnce(confShm, host)),
      kcmSteady: timed(() => reconcileOnce(confSteady, host)),
      floor: timed(() => floorReconcile(confDisk, procRoot)),
    }, { before: rebuild });

    const c: Record<string, number> = {}, p: Record<string, number> = {};
    for (const [k, v] of Object.entries(cliSamples)) c[k] = median(v);
    for (const [k, v] of Object.entries(inSamples)) p[k] = median(v);
    console.log(
      `\n## 3. reconcile at scale (${LISTS} lists, ${fixture.taskCount} pids, ${fixture.live.size} live; ${rounds} interleaved rounds, medians)`,
    );
    console.log("  contender    deno run   in-process");
    for (const k of Object.keys(c)) {
      console.log(
        `  ${k.padEnd(12)} ${formatMs(c[k]!).padStart(9)}  ${
          formatMs(p[k]!).padStart(9)
        }`,
      );
    }
    console.log(
      `  writes: kcmDisk - kcmTmpfs = ${
        formatMs(c.kcmDisk! - c.kcmTmpfs!)
      } (${LISTS} tasks files renamed on disk instead of tmpfs)`,
    );
    return [
      timeRow(
        "3. reconcile, half dead, disk (deno run)",
        c.kcmDisk!,
        "floor_reconcile.ts (deno run)",
        c.floor!,
        2,
      ),
      timeRow(
        "3. reconcile, half dead, tmpfs (deno run)",
        c.kcmTmpfs!,
        "floor_reconcile.ts (deno run)",
        c.floor!,
        2,
      ),
      timeRow(
        "3. reconcile, none dead (deno run)",
        c.kcmSteady!,
        "floor_reconcile.ts (deno run)",
        c.floor!,
        2,
      ),
      timeRow(
        "3. reconcileOnce, half dead, disk (in-process)",
        p.kcmDisk!,
        "floorReconcile (in-process)",
        p.floor!,
        2,
      ),
      timeRow(
        "3. reconcileOnce, half dead, tmpfs (in-process)",
        p.kcmTmpfs!,
        "floorReconcile (in-process)",
        p.floor!,
        2,
      ),
      timeRow(
        "3. reconcileOnce, none dead (in-process)",
        p.kcmSteady!,
        "floorReconcile (in-process)",
        p.floor!,
        2,
      ),
    ];
  } finally {
    await Deno.remove(disk, { recursive: true });
    await Deno.remove(shm, { recursive: true });
  }
}
