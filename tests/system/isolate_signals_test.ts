// deno-lint-ignore-file no-console
/**
 * Signals sent to a running `kcm isolate` reach its child, the child's
 * exit status comes back as kcm's, and the cpu list is always given back,
 * whatever moment the signal arrives at.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, finish, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir, type TempConfig } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import { mulberry32, timeToClaim } from "../_helpers/chaos.ts";

function isolateArgs(conf: TempConfig, command: string[]): string[] {
  const [name, ...args] = command;
  return [
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=p",
    name!,
    "--",
    ...args,
  ];
}

function exists(path: string): Promise<true | undefined> {
  return Deno.stat(path).then(() => true as const, () => undefined);
}

/** Children of `pid` (with the name they run under). */
async function childrenOf(pid: number): Promise<[number, string][]> {
  const found: [number, string][] = [];
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      const text = await Deno.readTextFile(
        `/proc/${pid}/task/${task.name}/children`,
      ).catch(() => "");
      for (const word of text.split(/\s+/)) {
        if (word === "") continue;
        const name = await Deno.readTextFile(`/proc/${word}/comm`)
          .catch(() => "");
        found.push([Number(word), name.trim()]);
      }
    }
  } catch {
    // kcm is gone.
  }
  return found;
}

/** Children of `pid` that have exec'ed `comm`. */
async function childNamed(pid: number, comm: string): Promise<number[]> {
  return (await childrenOf(pid)).flatMap(([child, name]) =>
    name === comm ? [child] : []
  );
}

/**
 * Collects kcm's result, or, when it has not ended within `ms` (a signal
 * not forwarded), kills it and its child and fails instead of hanging.
 */
async function finishWithin(
  kcm: Deno.ChildProcess,
  ms = 15_000,
): Promise<CliResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  const ended = await Promise.race([kcm.status, late]);
  clearTimeout(timer);
  if (ended === "late") {
    for (const [child] of await childrenOf(kcm.pid)) {
      try {
        Deno.kill(child, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    kcm.kill("SIGKILL");
    await finish(kcm);
    throw new Error(`kcm ${kcm.pid} did not end within ${ms} ms`);
  }
  return await finish(kcm);
}

const TRAPPED: [Deno.Signal, string, number][] = [
  ["SIGTERM", "TERM", 42],
  ["SIGINT", "INT", 43],
  ["SIGHUP", "HUP", 44],
  ["SIGQUIT", "QUIT", 45],
  ["SIGUSR1", "USR1", 46],
  ["SIGUSR2", "USR2", 47],
];

Deno.test("isolate forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the child and exits with its status", async () => {
  await Promise.all(TRAPPED.map(async ([signal, trap, code]) => {
    await using conf = await makeConfigDir({
      p: { exclusive: true, lists: { "0": "" } },
    });
    const ready = join(conf.root, "ready");
    const kcm = spawnKcm(isolateArgs(conf, [
      "sh",
      "-c",
      `trap 'echo got-${trap}; exit ${code}' ${trap}; touch ${ready}; while :; do sleep 0.05; done`,
    ]));
    try {
      await waitFor(`${signal} trap`, () => exists(ready));
      assert.equal(await conf.tasks("p", "0"), String(kcm.pid));
      kcm.kill(signal);
    } catch (error) {
      kcm.kill("SIGKILL");
      throw error;
    } finally {
      const result = await finishWithin(kcm);
      assert.equal(result.code, code, `${signal}: ${result.stderr}`);
      assert.equal(result.signal, null);
      assert.equal(result.stdout, `got-${trap}\n`);
      assert.equal(await conf.tasks("p", "0"), "", `${signal} released`);
    }
  }));
});

Deno.test("isolate exits 128+N when the forwarded signal kills the child", async () => {
  const cases: [Deno.Signal, number][] = [
    ["SIGTERM", 143],
    ["SIGINT", 130],
    ["SIGHUP", 129],
  ];
  await Promise.all(cases.map(async ([signal, code]) => {
    await using conf = await makeConfigDir({
      p: { exclusive: false, lists: { "1": "" } },
    });
    const kcm = spawnKcm(isolateArgs(conf, ["sleep", "30"]));
    try {
      const [child] = await waitFor("sleep under kcm", async () => {
        const found = await childNamed(kcm.pid, "sleep");
        return found.length > 0 ? found : undefined;
      });
      kcm.kill(signal);
      // The child itself got the signal and is gone.
      await waitFor(
        "the child to end",
        async () => (await exists(`/proc/${child}`)) ? undefined : true,
      );
    } catch (error) {
      kcm.kill("SIGKILL");
      throw error;
    } finally {
      const result = await finishWithin(kcm);
      assert.equal(result.code, code, `${signal}: ${result.stderr}`);
      assert.equal(result.signal, null);
      assert.equal(await conf.tasks("p", "1"), "");
    }
  }));
});

Deno.test("isolate never leaks its cpu list on SIGTERM, whenever it arrives", async () => {
  const seed = Number(Deno.env.get("KCM_TEST_SEED") ?? Date.now() % 2 ** 31);
  console.log(`seed ${seed} (KCM_TEST_SEED=${seed} replays the same draws)`);
  const random = mulberry32(seed);
  await using conf = await makeConfigDir({
    p: { exclusive: false, lists: { "0": "", "1": "" } },
  });
  const runs = 30, parallel = 6;
  const claim = await timeToClaim(parallel);
  const window = Math.max(150, 2 * claim);
  console.log(
    `claim takes ${claim.toFixed(0)} ms: kills within ${window.toFixed(0)} ms`,
  );
  // The command outlasts the window by far: a kcm that ended by itself
  // before the signal (exit 0) would not be a signal's outcome.
  const hold = String(Math.ceil(window / 1000) + 5);
  const outcomes = new Map<string, number>();
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < runs) {
      next++;
      const delay = random() * window;
      const kcm = spawnKcm(isolateArgs(conf, ["sleep", hold]));
      await new Promise((resolve) => setTimeout(resolve, delay));
      kcm.kill("SIGTERM");
      const result = await finishWithin(kcm);
      // Killed before kcm listens (nothing recorded yet), or forwarded.
      const outcome = result.signal ?? String(result.code);
      assert.ok(
        outcome === "SIGTERM" || outcome === "143",
        `delay ${delay.toFixed(1)} ms: ${outcome} ${result.stderr}`,
      );
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  }));
  console.log(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.equal(await conf.tasks("p", "0"), "");
  assert.equal(await conf.tasks("p", "1"), "");
});
