/**
 * `kcm isolate`: claim cpu lists of a pool, pin to them, run a command on
 * them, and give the lists back when the command ends.
 *
 * Steps:
 * 1. Before the lock: the topology the choice needs (see
 *    {@linkcode placementTopology}): the config directory's record, else,
 *    only for a placement flag or more than one list, sysfs.
 * 2. Under the exclusive lock: read the pool, choose its lists
 *    (`allocateLists()`: for an exclusive pool `--cores` free lists on one
 *    NUMA node and one L3 when possible, for a shared pool one at random)
 *    and append kcm's pid to each chosen list's tasks, in one batch.
 * 3. Pin every thread of kcm to the union of the lists (unless
 *    `--no-affinity`), so the child inherits the mask whichever thread
 *    spawns it.
 * 4. Run the command as an argv with `KCM_CPUS_ASSIGNED`,
 *    `KCM_CPUS_ASSIGNED_MASK` and `KCM_NUMA_NODES_ASSIGNED`; unless
 *    `--no-affinity`, read its CPU mask back from /proc and kill it (exit
 *    1) if it may run outside the lists. Forward signals and wait.
 * 5. Under the lock again: remove the pid from every chosen list. Exit
 *    with the child's status.
 *
 * This module is isolate's whole start-up path: it imports nothing of the
 * Kubernetes client or YAML, and sysfs only on demand.
 */

import type { Invocation } from "../core/command.ts";
import { allocateLists, type Allocation } from "../core/allocate.ts";
import { assignmentEnv } from "../core/assignment_env.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { type PoolState, readPool } from "../core/config_read.ts";
import { removeTaskFromLists, writeManyTasks } from "../core/config_write.ts";
import { pinProcess } from "../core/affinity.ts";
import { ConfigError, UsageError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import { readSelfPid } from "../core/procfs.ts";
import { SignalRelay, startChild } from "../core/process.ts";
import { Topology } from "../core/topology.ts";
import { loadTopology, readTopologyRecord } from "../core/topology_file.ts";

/** Options of `kcm isolate`. */
export interface IsolateOptions {
  readonly confDir: string;
  readonly pool: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly noAffinity: boolean;
  /** `--cores`; undefined: `KCM_NUM_CORES`, else 1. */
  readonly cores: number | undefined;
  /** `--numa-node`. */
  readonly numaNode: number | undefined;
  /** `--socket-id`. */
  readonly socketId: number | undefined;
}

/** Validates `isolate`'s flags. */
export function parse(invocation: Invocation<"isolate">): IsolateOptions {
  const { options } = invocation;
  const { pool } = options;
  if (pool === undefined || pool === "") {
    throw new UsageError("isolate needs --pool=<pool>");
  }
  if (
    options["numa-node"] !== undefined && options["socket-id"] !== undefined
  ) {
    throw new UsageError(
      "--numa-node and --socket-id cannot be given together",
    );
  }
  return {
    confDir: options["conf-dir"],
    pool,
    command: invocation.positionals[0]!,
    args: invocation.rest ?? [],
    noAffinity: options["no-affinity"],
    cores: options.cores,
    numaNode: options["numa-node"],
    socketId: options["socket-id"],
  };
}

/**
 * The number of lists to claim: `--cores` when given, else the
 * environment's `KCM_NUM_CORES` when set and not empty, else 1.
 *
 * @throws {UsageError} when `KCM_NUM_CORES` is used and is not a whole
 * number of at least 1.
 *
 * @example
 * ```ts
 * import { coreCount } from "./isolate.ts";
 * import assert from "node:assert/strict";
 * assert.equal(coreCount(undefined, undefined), 1);
 * assert.equal(coreCount(undefined, "4"), 4);
 * assert.equal(coreCount(2, "junk"), 2); // the flag wins, unread
 * ```
 */
export function coreCount(
  flag: number | undefined,
  env: string | undefined,
): number {
  if (flag !== undefined) return flag;
  if (env === undefined || env === "") return 1;
  const n = Number(env);
  if (!/^[0-9]+$/.test(env) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(
      `KCM_NUM_CORES must be a whole number >= 1, got "${env}"`,
    );
  }
  return n;
}

/** The topology of a config directory without a record, for name order. */
const NO_TOPOLOGY = new Topology([]);

/**
 * The topology a claim is placed with: the config directory's record
 * (`topology.json`) when it has one. A directory without one (made by the
 * 2017 tool, or an older kcm) gets an empty topology for a claim of one
 * list without `--numa-node`/`--socket-id`, which keeps the reference's
 * choice (the first free list in name order) and reads no sysfs; any
 * other claim reads the topology from sysfs.
 */
async function placementTopology(
  options: IsolateOptions,
  count: number,
  host: Host,
): Promise<Topology> {
  const record = readTopologyRecord(options.confDir);
  if (record !== undefined) return record.topology;
  if (
    count === 1 && options.numaNode === undefined &&
    options.socketId === undefined
  ) {
    return NO_TOPOLOGY;
  }
  host.log.debug(
    `No topology record in ${options.confDir}: reading ${host.sysRoot}`,
  );
  return (await loadTopology(options.confDir, host.sysRoot)).topology;
}

function readExistingPool(options: IsolateOptions): PoolState {
  const pool = readPool(options.confDir, options.pool);
  if (pool === undefined) {
    throw new ConfigError(`Requested pool ${options.pool} does not exist`);
  }
  return pool;
}

/** Step 2, under the lock: choose the lists and record `pid` in each. */
function claim(
  options: IsolateOptions,
  pid: number,
  topology: Topology,
  count: number,
): Allocation {
  const pool = readExistingPool(options);
  const allocation = allocateLists(
    {
      name: pool.name,
      exclusive: pool.exclusive,
      lists: pool.cpuLists.map((list) => ({
        name: list.name,
        cpus: list.cpus,
        free: list.tasks.length === 0,
      })),
    },
    topology,
    {
      count,
      numaNode: options.numaNode,
      socketId: options.socketId,
    },
  );
  // The lock is held since readPool: its view of the tasks is current.
  const tasksOf = new Map(pool.cpuLists.map((list) => [list.name, list.tasks]));
  writeManyTasks(
    options.confDir,
    allocation.lists.map((list) => ({
      pool: options.pool,
      list: list.name,
      tasks: [...tasksOf.get(list.name)!, pid],
    })),
  );
  return allocation;
}

/** Runs `kcm isolate`. */
export async function run(
  options: IsolateOptions,
  host: Host,
): Promise<number> {
  const count = coreCount(options.cores, host.env.KCM_NUM_CORES);
  const topology = await placementTopology(options, count, host);
  const lock = { timeoutMs: host.lockTimeoutMs };
  const pid = readSelfPid(host.procRoot);
  using relay = new SignalRelay();
  const allocation = await withConfigLock(
    options.confDir,
    true,
    lock,
    () => claim(options, pid, topology, count),
  );
  try {
    for (const warning of allocation.warnings) {
      host.log.warning(warning.message);
    }
    if (!options.noAffinity) {
      host.log.debug(`Setting affinity to ${allocation.cpus}`);
      pinProcess(allocation.cpus);
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
      env: assignmentEnv(allocation),
      cpus: options.noAffinity ? undefined : allocation.cpus,
    }));
  } finally {
    await withConfigLock(
      options.confDir,
      true,
      lock,
      () =>
        removeTaskFromLists(
          options.confDir,
          options.pool,
          allocation.lists.map((list) => list.name),
          pid,
        ),
    );
  }
}
