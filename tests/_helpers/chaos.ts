/**
 * Helpers for tests that hit kcm at random moments: a seeded generator
 * (so a failing run can be replayed) and a calibration of how long a claim
 * takes on this machine right now.
 */

import { finish, spawnKcm } from "./run_cli.ts";
import { makeConfigDir } from "./temp_config_dir.ts";
import { waitFor } from "./wait.ts";

/** A tiny seeded PRNG (mulberry32) so a failing run can be replayed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * How long `parallel` isolates started at once take to claim a list on
 * this machine right now (in ms): the kill window scales with it, so that
 * kills land before, during and after the claim even on a loaded machine.
 */
export async function timeToClaim(parallel: number): Promise<number> {
  await using conf = await makeConfigDir({
    p: { exclusive: false, lists: { "0": "" } },
  });
  const started = performance.now();
  const kcms = Array.from({ length: parallel }, () =>
    spawnKcm([
      "isolate",
      `--conf-dir=${conf.confDir}`,
      "--pool=p",
      "sleep",
      "--",
      "30",
    ]));
  try {
    await waitFor("the calibration runs to claim", async () => {
      const text = await conf.tasks("p", "0");
      return text.split(",").length === parallel ? true : undefined;
    });
    return performance.now() - started;
  } finally {
    for (const kcm of kcms) kcm.kill("SIGTERM");
    await Promise.all(kcms.map(finish));
  }
}

/**
 * Waits until no process holds a claim file of `confDir` (the commands a
 * killed `kcm isolate` left running have ended), testing each with
 * `flock --nonblock`, as reconcile does.
 */
export async function waitForClaimsReleased(confDir: string): Promise<void> {
  await waitFor("every claim to be released", async () => {
    for await (const entry of Deno.readDir(confDir)) {
      if (!entry.name.startsWith(".kcm-claim-")) continue;
      // Through a descriptor: flock(1) given a path creates a missing file.
      const probe = await new Deno.Command("sh", {
        args: [
          "-c",
          'exec 9<"$0" || exit 0; flock --nonblock --exclusive 9',
          `${confDir}/${entry.name}`,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      if (probe.code !== 0) return undefined;
    }
    return true;
  }, 15_000);
}
