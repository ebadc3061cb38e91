// deno-lint-ignore-file no-console
/**
 * `kcm isolate` killed with SIGKILL at random moments: the config
 * directory always stays readable, a killed kcm's pid stays in `tasks`
 * (by design: nothing runs after SIGKILL), and once the commands it left
 * running have ended, one `kcm reconcile` gives every such list back.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { finish, runKcm, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir, type TempConfig } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import {
  mulberry32,
  timeToClaim,
  waitForClaimsReleased,
} from "../_helpers/chaos.ts";

function isAlive(pid: number): Promise<boolean> {
  return Deno.lstat(`/proc/${pid}`).then(() => true, () => false);
}

/**
 * Runs at once. Each run is two Deno start-ups (isolate, then describe) on
 * 2 cores: with more at once a start-up outlasts the 150 ms kill window
 * and almost every kill lands before kcm has claimed a list.
 */
const PARALLEL = 3;

/** How long each isolate's command (`sleep`) runs. */
const COMMAND_MS = 1000;

interface Task {
  pool: string;
  cpus: string;
  pid: number;
}

interface Described {
  pools: Record<
    string,
    { cpuLists: Record<string, { cpus: string; tasks: number[] }> }
  >;
}

/** Runs `kcm describe`, asserting it succeeds, and lists every task. */
async function describeTasks(conf: TempConfig, when: string): Promise<Task[]> {
  const result = await runKcm(["describe", `--conf-dir=${conf.confDir}`]);
  assert.equal(result.code, 0, `describe ${when}: ${result.stderr}`);
  const described = JSON.parse(result.stdout) as Described;
  const tasks: Task[] = [];
  for (const [pool, { cpuLists }] of Object.entries(described.pools)) {
    for (const [cpus, list] of Object.entries(cpuLists)) {
      for (const pid of list.tasks) tasks.push({ pool, cpus, pid });
    }
  }
  return tasks;
}

function key(task: Task): string {
  return `${task.pool}:${task.cpus}:${task.pid}`;
}

/** Every file kcm left in the cpu-list directories (temporaries too). */
async function listFiles(conf: TempConfig): Promise<string[]> {
  const files: string[] = [];
  const pools = join(conf.confDir, "pools");
  for await (const pool of Deno.readDir(pools)) {
    if (!pool.isDirectory) continue;
    for await (const list of Deno.readDir(join(pools, pool.name))) {
      if (!list.isDirectory) continue;
      for await (
        const file of Deno.readDir(join(pools, pool.name, list.name))
      ) {
        files.push(`${pool.name}/${list.name}/${file.name}`);
      }
    }
  }
  return files.sort();
}

Deno.test("kill -9 at random moments: the config always parses, one reconcile reclaims every dead pid", async () => {
  const seed = Number(Deno.env.get("KCM_TEST_SEED") ?? Date.now() % 2 ** 31);
  console.log(`seed ${seed} (KCM_TEST_SEED=${seed} replays the same draws)`);
  const random = mulberry32(seed);
  const wide: Record<string, string> = {};
  for (let cpu = 2; cpu < 42; cpu++) wide[String(cpu)] = "";
  await using conf = await makeConfigDir({
    dataplane: { exclusive: true, lists: { "0": "", "1": "" } },
    wide: { exclusive: true, lists: wide },
    infra: { exclusive: false, lists: { "0": "", "1": "" } },
  });
  // Pools to draw from: pinned exclusive, unpinned exclusive with room for
  // every run, pinned shared.
  const choices: string[][] = [
    ["--pool=dataplane"],
    ["--pool=wide", "--no-affinity"],
    ["--pool=infra"],
  ];
  // 0-150 ms after the spawn, stretched when start-ups are slow right now.
  const claim = await timeToClaim(PARALLEL);
  const window = Math.max(150, 2 * claim);
  console.log(
    `claim takes ${claim.toFixed(0)} ms: kills within ${window.toFixed(0)} ms`,
  );
  const plan = Array.from({ length: 100 }, () => ({
    flags: choices[Math.floor(random() * choices.length)]!,
    delay: random() * window,
  }));

  const killed = new Set<number>();
  const outcomes = new Map<string, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < plan.length) {
      const run = plan[next++]!;
      const spawnedAt = performance.now();
      const kcm = spawnKcm([
        "isolate",
        `--conf-dir=${conf.confDir}`,
        ...run.flags,
        "sleep",
        "--",
        String(COMMAND_MS / 1000),
      ]);
      await new Promise((resolve) => setTimeout(resolve, run.delay));
      const killAfterMs = performance.now() - spawnedAt;
      try {
        kcm.kill("SIGKILL");
      } catch {
        // It has already ended by itself.
      }
      // An orphaned sleep keeps the pipes open: do not wait for them.
      const status = await kcm.status;
      const result = status.signal === null
        ? await finish(kcm)
        : (await Promise.all([kcm.stdout.cancel(), kcm.stderr.cancel()]),
          { ...status, stdout: "", stderr: "" });
      const outcome = result.signal ?? `exit ${result.code}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (result.signal === "SIGKILL") killed.add(kcm.pid);
      else if (result.code === 0) {
        // It ran its command to the end before the kill: only possible when
        // the kill came after the command's length (a window stretched on a
        // loaded machine, or a late timer).
        assert.ok(
          killAfterMs >= COMMAND_MS,
          `exit 0 when killed ${killAfterMs.toFixed(0)} ms after the spawn`,
        );
        assert.equal(result.stderr, "");
      } else {
        // It ended by itself before the kill: only a full pool does that.
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /No free cpu lists in pool dataplane/);
      }
      await describeTasks(conf, `after killing ${kcm.pid}`);
    }
  }));
  const before = await describeTasks(conf, "after all kills");
  console.log(
    `${plan.length} runs in ${(performance.now() - started).toFixed(0)} ms: ${
      JSON.stringify(Object.fromEntries(outcomes))
    }, ${before.length} pids left behind`,
  );
  // Only killed processes leave pids; an exclusive list holds at most one.
  for (const task of before) assert.ok(killed.has(task.pid), key(task));
  for (const pool of ["dataplane", "wide"]) {
    const lists = before.filter((t) => t.pool === pool).map((t) => t.cpus);
    assert.equal(new Set(lists).size, lists.length, `${pool}: ${lists}`);
  }

  // A killed kcm's command holds its list until it ends (COMMAND_MS).
  await waitForClaimsReleased(conf.confDir);
  // A pid reused by a new process since counts as alive; expect none.
  const reused = new Set<number>();
  for (const task of before) if (await isAlive(task.pid)) reused.add(task.pid);
  const result = await runKcm(["reconcile", `--conf-dir=${conf.confDir}`]);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as {
    reclaimedCpuLists: Task[];
    mismatchedCpuMasks: unknown[];
  };
  const expected = before.filter((t) => !reused.has(t.pid));
  assert.deepEqual(
    report.reclaimedCpuLists.map(key).sort(),
    expected.map(key).sort(),
  );
  const pids = report.reclaimedCpuLists.map((t) => t.pid);
  assert.deepEqual(pids, [...pids].sort((a, b) => a - b), "sorted by pid");
  if (reused.size === 0) assert.deepEqual(report.mismatchedCpuMasks, []);

  const after = await describeTasks(conf, "after reconcile");
  assert.deepEqual(
    after.map(key),
    before.filter((t) => reused.has(t.pid)).map(key),
  );
  for (const task of after) assert.ok(await isAlive(task.pid), key(task));
  // Temporary files of writers killed mid-write are gone too.
  const files = await listFiles(conf);
  assert.deepEqual(files.filter((f) => !f.endsWith("/tasks")), []);
});

Deno.test("kill -9 of kcm while its child runs leaves the pid in tasks until reconcile", async () => {
  await using conf = await makeConfigDir({
    dataplane: { exclusive: true, lists: { "1": "" } },
  });
  const ready = join(conf.root, "ready");
  const kcm = spawnKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=dataplane",
    "sh",
    "--",
    "-c",
    `echo $$ > ${ready}.tmp; mv ${ready}.tmp ${ready}; exec sleep 30`,
  ]);
  let child: number;
  try {
    child = await waitFor(
      "the child",
      () => Deno.readTextFile(ready).then(Number, () => undefined),
    );
  } finally {
    kcm.kill("SIGKILL");
  }
  // The orphaned sleep keeps kcm's stdout open: wait for the status only.
  const killed = await kcm.status;
  assert.equal(killed.signal, "SIGKILL");
  try {
    // Nothing ran after SIGKILL: the pid is still recorded.
    assert.equal(await conf.tasks("dataplane", "1"), String(kcm.pid));
    assert.ok(await isAlive(child), "the child outlives kcm");
    const full = await runKcm([
      "isolate",
      `--conf-dir=${conf.confDir}`,
      "--pool=dataplane",
      "true",
    ]);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /No free cpu lists in pool dataplane/);
    assert.match(full.stderr, /^hint: .*kcm reconcile/m);
  } finally {
    Deno.kill(child, "SIGKILL");
    await finish(kcm);
  }

  const result = await runKcm(["reconcile", `--conf-dir=${conf.confDir}`]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    `{
  "mismatchedCpuMasks": [],
  "reclaimedCpuLists": [
    {
      "cpus": "1",
      "pid": ${kcm.pid},
      "pool": "dataplane"
    }
  ]
}
`,
  );
  assert.equal(await conf.tasks("dataplane", "1"), "");
  const again = await runKcm([
    "isolate",
    `--conf-dir=${conf.confDir}`,
    "--pool=dataplane",
    "sh",
    "--",
    "-c",
    'echo "$KCM_CPUS_ASSIGNED"',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "1\n");
});
