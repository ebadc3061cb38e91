// deno-lint-ignore-file no-console
/**
 * `kcm isolate` start-up of this checkout against another one (say, the
 * parent commit's tree), in the same interleaved rounds as the runtime
 * floor (bench/floor_spawn.ts) and `taskset -c 1 true`, so that a change's
 * effect is measured side by side on a noisy machine. Each checkout runs
 * from its own directory, with its own config directory on the system
 * temp dir (the disk, as in benchmark 1).
 *
 * Usage: deno run --allow-all bench/isolate_versus.ts <other-checkout> [rounds]
 *
 * For example, `git worktree add /tmp/kcm-before HEAD~3` and then
 * `deno run -A bench/isolate_versus.ts /tmp/kcm-before 60`.
 */

import { join } from "node:path";
import { writeConfigDir } from "./fixtures.ts";
import {
  DENO,
  formatMs,
  interleave,
  KCM_V8_FLAGS,
  median,
  repoPath,
  timeCommand,
} from "./measure.ts";

const [other, roundsText = "40"] = Deno.args;
if (other === undefined) {
  console.error("usage: bench/isolate_versus.ts <other-checkout> [rounds]");
  Deno.exit(2);
}
const here = repoPath("").replace(/\/$/, "");
const tmp = await Deno.makeTempDir({ prefix: "kcm-bench-versus-" });
try {
  const isolate = async (checkout: string, name: string) => {
    const confDir = join(tmp, name);
    await writeConfigDir(confDir, [
      { name: "infra", exclusive: false, lists: [{ name: "1", tasks: [] }] },
    ]);
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
  const samples = await interleave(Number(roundsText), {
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
  }, { warmup: 2 });
  const floor = median(samples.floorSpawn!);
  const taskset = median(samples.taskset!);
  console.log(`${roundsText} interleaved rounds, medians:`);
  for (const [name, values] of Object.entries(samples)) {
    const m = median(values);
    console.log(
      `  ${name.padEnd(10)} ${formatMs(m).padStart(8)}  ${
        (m / floor).toFixed(2)
      }x floor_spawn  ${(m / taskset).toFixed(1)}x taskset`,
    );
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
