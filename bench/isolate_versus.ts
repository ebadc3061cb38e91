// deno-lint-ignore-file no-console
/**
 * `kcm isolate` start-up of this checkout against another one (say, the
 * parent commit's tree), in the same interleaved rounds as the runtime
 * floor (bench/floor_spawn.ts) and `taskset -c 1 true`, so that a change's
 * effect is measured side by side on a noisy machine. Each checkout runs
 * from its own directory, with its own config directory on the system
 * temp dir (the disk, as in benchmark 1), and every process loads its
 * modules from one fresh Deno cache (`useFreshDenoDir()`: with the shared
 * one, identical checkouts differed by 5 ms) that holds both checkouts'
 * code caches (`warmCodeCache()` for the other one). Every config directory holds
 * this machine's topology record, as one `kcm init` made would (a kcm
 * that predates the record ignores it); `hereNoRecord` is this checkout
 * on a directory without one (made by the 2017 tool).
 *
 * Usage: deno run --allow-all bench/isolate_versus.ts <other-checkout> [rounds]
 *
 * For example, `git worktree add /tmp/kcm-before HEAD~3` and then
 * `deno run -A bench/isolate_versus.ts /tmp/kcm-before 60`.
 */

import { join } from "node:path";
import { writeConfigDir, writeTopologyRecord } from "./fixtures.ts";
import {
  DENO,
  formatMs,
  interleave,
  KCM_V8_FLAGS,
  median,
  REPO_ROOT,
  timeCommand,
  useFreshDenoDir,
  versusArgs,
  warmCodeCache,
} from "./measure.ts";

const { other, rounds } = versusArgs("isolate_versus.ts", 40);
await using _denoDir = await useFreshDenoDir();
const here = REPO_ROOT;
// This checkout saves its own code cache (main.ts); an older one may not.
await warmCodeCache(other, [join(other, "main.ts")]);
const tmp = await Deno.makeTempDir({ prefix: "kcm-bench-versus-" });
try {
  const isolate = async (checkout: string, name: string, record = true) => {
    const confDir = join(tmp, name);
    await writeConfigDir(confDir, [
      { name: "infra", exclusive: false, lists: [{ name: "1", tasks: [] }] },
    ]);
    if (record) await writeTopologyRecord(confDir);
    return async () =>
      (await timeCommand({
        command: DENO,
        args: [
          "run",
          "--allow-all",
          KCM_V8_FLAGS,
          join(checkout, "main.ts"),
          "isolate",
          `--conf-dir=${confDir}`,
          "--pool=infra",
          "true",
        ],
        cwd: checkout,
      })).ms;
  };
  const samples = await interleave(rounds, {
    floorSpawn: async () =>
      (await timeCommand({
        command: DENO,
        args: [
          "run",
          "--allow-all",
          KCM_V8_FLAGS,
          join(here, "bench/floor_spawn.ts"),
          "true",
        ],
        cwd: here,
      })).ms,
    taskset: async () =>
      (await timeCommand({ command: "taskset", args: ["-c", "1", "true"] })).ms,
    other: await isolate(other, "other"),
    here: await isolate(here, "here"),
    hereNoRecord: await isolate(here, "hereNoRecord", false),
  }, { warmup: 2 });
  // Per-round ratios against the other checkout: each pair ran back to
  // back, so a slow spell of the machine falls on both.
  const paired = (name: string) =>
    median(samples[name]!.map((ms, i) => ms / samples.other![i]!));
  const floor = median(samples.floorSpawn!);
  const taskset = median(samples.taskset!);
  console.log(`${rounds} interleaved rounds, medians:`);
  for (const [name, values] of Object.entries(samples)) {
    const m = median(values);
    console.log(
      `  ${name.padEnd(12)} ${formatMs(m).padStart(8)}  ${
        (m / floor).toFixed(2)
      }x floor_spawn  ${(m / taskset).toFixed(1)}x taskset  ${
        paired(name).toFixed(3)
      }x other (median of per-round ratios)`,
    );
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
