// deno-lint-ignore-file no-console
/**
 * Many `kcm isolate` processes at once on one config directory: an
 * exclusive list never holds two tasks, no write is torn or lost, and
 * every list is given back. A sampler reads the tasks files the whole
 * time the processes run.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, finish, spawnKcm } from "../_helpers/run_cli.ts";
import { makeConfigDir, type TempConfig } from "../_helpers/temp_config_dir.ts";
import { waitFor } from "../_helpers/wait.ts";
import { hasOpen } from "../_helpers/lock_holder.ts";

/** Strict parse of a tasks file as kcm writes it: pids joined by ",". */
function parseTasksStrict(text: string, where: string): number[] {
  assert.match(text, /^([1-9][0-9]*(,[1-9][0-9]*)*)?$/, `${where}: "${text}"`);
  return text === "" ? [] : text.split(",").map(Number);
}

interface Samples {
  /** How many times every list was read. */
  rounds: number;
  /** The most pids one list held at once. */
  maxPerList: number;
  /** The most lists holding a pid at the same read. */
  maxBusyLists: number;
  /** Every pid seen, with the lists it was seen in. */
  seen: Map<number, Set<string>>;
  /** The longest time between two rounds, in ms. */
  maxGap: number;
}

/** Reads every tasks file of `pool` in a loop until `done` settles. */
async function sample(
  conf: TempConfig,
  pool: string,
  lists: readonly string[],
  done: Promise<unknown>,
): Promise<Samples> {
  const samples: Samples = {
    rounds: 0,
    maxPerList: 0,
    maxBusyLists: 0,
    seen: new Map(),
    maxGap: 0,
  };
  let finished = false;
  done.finally(() => finished = true);
  let last = performance.now();
  while (!finished) {
    const now = performance.now();
    samples.maxGap = Math.max(samples.maxGap, now - last);
    last = now;
    let busy = 0;
    for (const list of lists) {
      const pids = parseTasksStrict(
        await conf.tasks(pool, list),
        `${pool}/${list}`,
      );
      samples.maxPerList = Math.max(samples.maxPerList, pids.length);
      if (pids.length > 0) busy++;
      for (const pid of pids) {
        const where = samples.seen.get(pid) ?? new Set();
        where.add(list);
        samples.seen.set(pid, where);
      }
    }
    samples.maxBusyLists = Math.max(samples.maxBusyLists, busy);
    samples.rounds++;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return samples;
}

/** Asserts each list directory holds only an empty `tasks` file. */
async function assertAllReleased(
  conf: TempConfig,
  pool: string,
  lists: readonly string[],
): Promise<void> {
  for (const list of lists) {
    assert.equal(await conf.tasks(pool, list), "", `${pool}/${list}`);
    const names = [];
    for await (
      const entry of Deno.readDir(join(conf.confDir, "pools", pool, list))
    ) {
      names.push(entry.name);
    }
    assert.deepEqual(names, ["tasks"], `no temporary file in ${list}`);
  }
}

Deno.test("50 concurrent isolates on 2 exclusive lists: exactly 2 run, 48 are refused", async () => {
  const lists = ["0", "1"];
  await using conf = await makeConfigDir({
    dataplane: { exclusive: true, lists: { "0": "", "1": "" } },
  });
  const lockFile = join(conf.confDir, "lock");
  const started = performance.now();
  // Hold the lock while the 50 start (50 Deno start-ups take about 2 s on
  // 2 cores, as long as the sleep), then let them all race for it at once.
  const gate = await Deno.open(lockFile, { read: true, write: true });
  await gate.lock(true);
  let kcms: Deno.ChildProcess[] = [];
  let results: CliResult[];
  let samples: Samples;
  try {
    kcms = Array.from({ length: 50 }, () =>
      spawnKcm([
        "isolate",
        `--conf-dir=${conf.confDir}`,
        "--pool=dataplane",
        "sleep",
        "--",
        "2",
      ], { env: { KCM_LOCK_TIMEOUT: "60" } }));
    await waitFor("all 50 to wait for the lock", async () => {
      const waiting = await Promise.all(
        kcms.map((kcm) => hasOpen(kcm.pid, lockFile)),
      );
      return waiting.every(Boolean) ? true : undefined;
    }, 30_000);
    const startup = performance.now() - started;
    await gate.unlock();
    const all = Promise.all(kcms.map(finish));
    [results, samples] = await Promise.all([
      all,
      sample(conf, "dataplane", lists, all),
    ]);
    console.log(
      `start-up ${startup.toFixed(0)} ms, total ${
        (performance.now() - started).toFixed(0)
      } ms, ${samples.rounds} samples`,
    );
  } finally {
    gate.close();
  }

  const winners = results.flatMap((r, i) => r.code === 0 ? [kcms[i]!.pid] : []);
  const losers = results.filter((r) => r.code !== 0);
  assert.equal(winners.length, 2, "exactly 2 succeed");
  assert.equal(losers.length, 48);
  for (const loser of losers) {
    assert.equal(loser.code, 1);
    assert.match(
      loser.stderr,
      /^kcm: error: No free cpu lists in pool dataplane\b/,
    );
  }
  assert.equal(samples.maxPerList, 1, "never two pids in one list");
  assert.equal(samples.maxBusyLists, 2, "both lists in use at once");
  // The only pids ever recorded are the winners', one list each.
  assert.deepEqual([...samples.seen.keys()].sort(), winners.sort());
  const used = [...samples.seen.values()].map((where) => [...where]);
  assert.deepEqual(used.map((where) => where.length), [1, 1]);
  assert.deepEqual(used.flat().sort(), lists);
  await assertAllReleased(conf, "dataplane", lists);
});

Deno.test("100 concurrent isolates on a shared pool: all run, every pid recorded and removed", async () => {
  const lists = ["0", "1"];
  await using conf = await makeConfigDir({
    infra: { exclusive: false, lists: { "0": "", "1": "" } },
  });
  const started = performance.now();
  // Spawning is synchronous and slow (a fork of this big process each
  // time), so the sampler starts first and gets a turn after each spawn;
  // otherwise the first isolates could come and go before it looks.
  const { promise: done, resolve: allDone } = Promise.withResolvers<void>();
  const sampling = sample(conf, "infra", lists, done);
  const kcms: Deno.ChildProcess[] = [];
  for (let i = 0; i < 100; i++) {
    kcms.push(spawnKcm([
      "isolate",
      `--conf-dir=${conf.confDir}`,
      "--pool=infra",
      "sh",
      "--",
      "-c",
      `sleep 2; echo "$KCM_CPUS_ASSIGNED"; echo "$PPID"; cat ${conf.confDir}/pools/infra/$KCM_CPUS_ASSIGNED/tasks`,
    ], { env: { KCM_LOCK_TIMEOUT: "60" } }));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const results = await Promise.all(kcms.map(finish));
  allDone();
  const samples = await sampling;
  console.log(
    `total ${
      (performance.now() - started).toFixed(0)
    } ms, ${samples.rounds} samples (longest gap ${
      samples.maxGap.toFixed(0)
    } ms), most pids in one list ${samples.maxPerList}`,
  );

  results.forEach((result, i) => {
    assert.equal(result.code, 0, `kcm ${i}: ${result.stderr}`);
    assert.equal(result.stderr, "");
    const [list, parent, tasks] = result.stdout.split("\n");
    assert.match(list!, /^[01]$/);
    assert.equal(parent, String(kcms[i]!.pid));
    assert.ok(
      parseTasksStrict(tasks!, list!).includes(kcms[i]!.pid),
      `${parent} in ${tasks}`,
    );
  });
  // Every kcm was seen in tasks while it ran, in the list it was given,
  // and nothing else ever was.
  const pids = kcms.map((kcm) => kcm.pid);
  assert.deepEqual(
    [...samples.seen.keys()].sort((a, b) => a - b),
    [...pids].sort((a, b) => a - b),
  );
  kcms.forEach((kcm, i) => {
    assert.deepEqual(
      [...samples.seen.get(kcm.pid)!],
      [results[i]!.stdout.split("\n")[0]],
    );
  });
  assert.ok(samples.maxPerList > 1, "lists were shared");
  await assertAllReleased(conf, "infra", lists);
});
