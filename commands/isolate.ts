/**
 * `kcm isolate`: claim a cpu list of a pool, pin to it, run a command on
 * it, and give the list back when the command ends.
 *
 * Steps:
 * 1. Under the exclusive lock: find the pool, choose a list (the first
 *    free one in name order for an exclusive pool, a random one for a
 *    shared pool) and append kcm's pid to its tasks.
 * 2. Pin every thread of kcm to the list (unless `--no-affinity`), so the
 *    child inherits the mask whichever thread spawns it.
 * 3. Run the command as an argv with `KCM_CPUS_ASSIGNED=<list>`; unless
 *    `--no-affinity`, read its CPU mask back from /proc and kill it (exit
 *    1) if it may run outside the list. Forward signals and wait.
 * 4. Under the lock again: remove the pid. Exit with the child's status.
 *
 * This module is isolate's whole start-up path: it imports nothing of the
 * Kubernetes client or YAML.
 */

import type { Invocation } from "../core/command.ts";
import { withConfigLock } from "../core/config_lock.ts";
import {
  type CpuListState,
  type PoolState,
  readPool,
} from "../core/config_read.ts";
import { removeTask, writeTasks } from "../core/config_write.ts";
import { pinProcess } from "../core/affinity.ts";
import { ConfigError, ResourceError, UsageError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import { readSelfPid } from "../core/procfs.ts";
import { oneLine } from "../core/quote.ts";
import { SignalRelay, startChild } from "../core/process.ts";

/** Options of `kcm isolate`. */
export interface IsolateOptions {
  readonly confDir: string;
  readonly pool: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly noAffinity: boolean;
}

/** Validates `isolate`'s flags. */
export function parse(invocation: Invocation<"isolate">): IsolateOptions {
  const { pool } = invocation.options;
  if (pool === undefined || pool === "") {
    throw new UsageError("isolate needs --pool=<pool>");
  }
  return {
    confDir: invocation.options["conf-dir"],
    pool,
    command: invocation.positionals[0]!,
    args: invocation.rest ?? [],
    noAffinity: invocation.options["no-affinity"],
  };
}

/**
 * Chooses a cpu list: in an exclusive pool the first free one in name
 * order (undefined when none is free), in a shared pool any one, free or
 * not, picked with `random` (a number in [0, 1)).
 */
export function chooseCpuList(
  pool: PoolState,
  random: () => number,
): CpuListState | undefined {
  if (pool.exclusive) {
    return pool.cpuLists.find((list) => list.tasks.length === 0);
  }
  if (pool.cpuLists.length === 0) return undefined;
  return pool.cpuLists[Math.floor(random() * pool.cpuLists.length)];
}

function claim(options: IsolateOptions, pid: number): CpuListState {
  const pool = readPool(options.confDir, options.pool);
  if (pool === undefined) {
    throw new ConfigError(
      `Requested pool ${oneLine(options.pool)} does not exist`,
    );
  }
  const list = chooseCpuList(pool, Math.random);
  if (list === undefined) {
    const taken = pool.cpuLists.filter((l) => l.tasks.length > 0).length;
    throw new ResourceError(
      `No free cpu lists in pool ${
        oneLine(options.pool)
      } (${pool.cpuLists.length} lists, ${taken} taken)`,
      1,
      pool.cpuLists.length > 0
        ? {
          hint: "run `kcm reconcile` if a task died without releasing its list",
        }
        : {},
    );
  }
  // The lock is held since readPool: its view of the tasks is current.
  writeTasks(options.confDir, options.pool, list.name, [...list.tasks, pid]);
  return list;
}

/** Runs `kcm isolate`. */
export async function run(
  options: IsolateOptions,
  host: Host,
): Promise<number> {
  const lock = { timeoutMs: host.lockTimeoutMs };
  const pid = readSelfPid(host.procRoot);
  using relay = new SignalRelay();
  const list = await withConfigLock(
    options.confDir,
    true,
    lock,
    () => claim(options, pid),
  );
  try {
    if (!options.noAffinity) {
      host.log.debug(`Setting affinity to ${list.cpus}`);
      pinProcess(list.cpus);
    }
    if (relay.caughtEarly !== undefined) {
      host.log.warning(
        `Caught ${relay.caughtEarly} before starting ${options.command}; not starting it`,
      );
      return relay.earlyExitCode();
    }
    return await relay.supervise(startChild({
      command: options.command,
      args: options.args,
      env: { KCM_CPUS_ASSIGNED: list.name },
      cpus: options.noAffinity ? undefined : list.cpus,
    }));
  } finally {
    await withConfigLock(
      options.confDir,
      true,
      lock,
      () => removeTask(options.confDir, options.pool, list.name, pid),
    );
  }
}
