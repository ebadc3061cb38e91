// deno-lint-ignore-file no-console
/**
 * One `reconcile` round at scale of this checkout against another one
 * (say, the parent commit's tree), in-process and in interleaved rounds,
 * on the fixture of benchmark 3 (2,000 cpu lists, 10,000 pids, half of
 * them dead, a fake procfs) on tmpfs, so that a change's effect on the
 * round itself is seen side by side, without process start-up or disk
 * noise. Each round rewrites the tasks files first (the round before
 * removed the dead pids).
 *
 * Usage: deno run --allow-all bench/reconcile_versus.ts <other-checkout> [rounds]
 *
 * For example, `mkdir /tmp/kcm-before && git archive HEAD~1 | tar -x -C
 * /tmp/kcm-before` and then
 * `deno run -A bench/reconcile_versus.ts /tmp/kcm-before 11`.
 */

import { join, resolve } from "node:path";
import { reconcileOnce } from "../commands/reconcile.ts";
import { createLogger } from "../core/log.ts";
import {
  reconcileFixture,
  writeConfigDir,
  writeFakeProcfs,
  writeTasksFiles,
} from "./fixtures.ts";
import { interleave, median, versusArgs } from "./measure.ts";

const { other, rounds } = versusArgs("reconcile_versus.ts", 9);
const otherModule = resolve(other, "commands/reconcile.ts");
const { reconcileOnce: otherReconcile } = await import(otherModule) as {
  reconcileOnce: typeof reconcileOnce;
};

const fixture = reconcileFixture(2_000, 5);
const shm = await Deno.makeTempDir({
  dir: "/dev/shm",
  prefix: "kcm-bench-reconcile-versus-",
});
try {
  const procRoot = join(shm, "proc");
  await writeFakeProcfs(procRoot, fixture.live);
  const confs = { here: join(shm, "here"), other: join(shm, "other") };
  await writeConfigDir(confs.here, fixture.pools);
  await writeConfigDir(confs.other, fixture.pools);
  const host = {
    procRoot,
    lockTimeoutMs: 30_000,
    log: createLogger("INFO", () => {}),
    env: {},
  };
  const timed = (work: () => Promise<unknown>) => async () => {
    const start = performance.now();
    await work();
    return performance.now() - start;
  };
  const samples = await interleave(rounds, {
    here: timed(() => reconcileOnce(confs.here, host)),
    other: timed(() => otherReconcile(confs.other, host)),
  }, {
    before: (name) =>
      writeTasksFiles(
        name === "here" ? confs.here : confs.other,
        fixture.pools,
      ),
  });
  const here = samples.here!, there = samples.other!;
  const ratios = here.map((ms, i) => ms / there[i]!);
  console.log(
    `${here.length} interleaved rounds of one reconcile (${fixture.taskCount} pids, ${fixture.live.size} live), medians:`,
  );
  console.log(`  here   ${median(here).toFixed(1)} ms`);
  console.log(`  other  ${median(there).toFixed(1)} ms (${other})`);
  console.log(
    `  here/other, median of per-round ratios: ${median(ratios).toFixed(3)}`,
  );
} finally {
  await Deno.remove(shm, { recursive: true });
}
