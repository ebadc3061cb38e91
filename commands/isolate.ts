/**
 * `kcm isolate`: claim a cpu list of a pool, pin to it, run a command on
 * it, and give the list back when the command ends.
 *
 * Steps:
 * 1. Listen for signals (core/signal_relay.ts), read kcm's pid and start
 *    time, and refuse a procfs of kcm's own pid namespace
 *    (core/proc_identity.ts).
 * 2. Under the exclusive lock (a signal ends the wait): find the pool,
 *    choose a list (the first free one in name order for an exclusive
 *    pool, a random one for a shared pool), create kcm's claim file and
 *    take its lock (core/claim_file.ts), and append kcm's pid to the
 *    list's tasks with its record in `owners` (core/owners.ts).
 * 3. Pin every thread of kcm to the list (unless `--no-affinity`), so the
 *    child inherits the mask whichever thread spawns it.
 * 4. Run the command as an argv with `KCM_CPUS_ASSIGNED=<list>`, in its own
 *    session, holding the claim's lock through the descriptor it inherits;
 *    unless `--no-affinity`, read its CPU mask back from /proc and kill it
 *    (exit 1) if it may run outside the list. Add its pid and start time
 *    to the claim file, forward signals and wait.
 * 5. Under the lock again: remove the pid and the claim file. Exit with the
 *    child's status. When that fails (lock timeout, read-only or full
 *    disk), say so on one line and exit with the child's status anyway:
 *    once kcm and the command are gone, `reconcile` frees the list.
 *
 * This module is isolate's whole start-up path: it imports nothing of the
 * Kubernetes client or YAML.
 */

import type { Invocation } from "../core/command.ts";
import { HeldClaim, removeClaim } from "../core/claim_file.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { isPlainName } from "../core/config_paths.ts";
import {
  type CpuListState,
  type PoolState,
  readPool,
} from "../core/config_read.ts";
import { removeTask, writeTasks } from "../core/config_write.ts";
import { ConfinedDir } from "../core/confined_dir.ts";
import { pinProcess } from "../core/affinity.ts";
import {
  ConfigError,
  errorMessage,
  ProcfsError,
  ResourceError,
  UsageError,
} from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import { claimId } from "../core/owners.ts";
import {
  findChildIdentity,
  ownNamespaceProblem,
  type ProcessId,
  readSelfIdentity,
} from "../core/proc_identity.ts";
import { startChild } from "../core/process.ts";
import { SignalRelay } from "../core/signal_relay.ts";

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
  if (!isPlainName(pool)) {
    throw new UsageError(
      `--pool must be a pool's name (no "/", not "." or ".."), got ${
        JSON.stringify(pool)
      }`,
    );
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

/** A list claimed: its state when claimed, and the claim held. */
interface Claimed {
  readonly list: CpuListState;
  readonly claim: HeldClaim;
}

function claim(options: IsolateOptions, self: ProcessId): Claimed {
  const pool = readPool(options.confDir, options.pool);
  if (pool === undefined) {
    throw new ConfigError(`Requested pool ${options.pool} does not exist`);
  }
  const list = chooseCpuList(pool, Math.random);
  if (list === undefined) {
    const taken = pool.cpuLists.filter((l) => l.tasks.length > 0).length;
    throw new ResourceError(
      `No free cpu lists in pool ${options.pool} (${pool.cpuLists.length} lists, ${taken} taken)`,
      1,
      pool.cpuLists.length > 0
        ? {
          hint: "run `kcm reconcile` if a task died without releasing its list",
        }
        : {},
    );
  }
  // The lock is held since readPool: its view of the tasks is current.
  using root = ConfinedDir.openRoot(options.confDir);
  const id = claimId(self);
  const held = HeldClaim.create(root, id, self);
  try {
    writeTasks(
      options.confDir,
      options.pool,
      list.name,
      [...list.tasks, self.pid],
      new Map([[self.pid, { start: self.start, claim: id }]]),
    );
  } catch (error) {
    held.close();
    removeClaim(root, id);
    throw error;
  }
  return { list, claim: held };
}

/**
 * Adds the child's pid and start time, as the procfs root sees them, to
 * the claim file, so the claim lives while the child runs even if it
 * closes the claim's descriptor. Best effort: the inherited lock covers
 * the child either way.
 */
function recordChild(
  claimed: Claimed,
  childPid: number,
  self: ProcessId,
  host: Host,
): void {
  try {
    const child = findChildIdentity(host.procRoot, self.pid, childPid);
    if (child === undefined) {
      host.log.debug(
        `Child ${childPid} not found in ${host.procRoot}: not in the claim file`,
      );
      return;
    }
    claimed.claim.addProcess(child);
  } catch (error) {
    host.log.debug(`Child ${childPid} not recorded: ${errorMessage(error)}`);
  }
}

/**
 * Gives the list back: removes kcm's pid and its claim file, under the
 * lock. A failure is said on one line and swallowed: kcm exits with the
 * child's status, and `reconcile` frees the list once kcm and the command
 * are gone (their pids dead, the claim's lock free).
 */
async function release(
  options: IsolateOptions,
  host: Host,
  claimed: Claimed,
  self: ProcessId,
): Promise<void> {
  try {
    await withConfigLock(
      options.confDir,
      true,
      { timeoutMs: host.lockTimeoutMs },
      () => {
        removeTask(options.confDir, options.pool, claimed.list.name, self.pid);
        using root = ConfinedDir.openRoot(options.confDir);
        removeClaim(root, claimed.claim.id);
      },
    );
  } catch (error) {
    host.log.error(
      `Cannot give back cpu list ${options.pool}:${claimed.list.name}: ${
        errorMessage(error)
      }; it is left for \`kcm reconcile\``,
    );
  } finally {
    claimed.claim.close();
  }
}

/** Refuses a procfs whose pids other containers would record too. */
function checkNamespace(host: Host): void {
  const problem = ownNamespaceProblem(host.procRoot);
  if (problem === undefined || host.env.KCM_SHARED_PID_NAMESPACE === "1") {
    return;
  }
  throw new ProcfsError(problem, 1, {
    hint:
      "mount the host's /proc (say at /host/proc) and set KCM_PROC_FS to it; set KCM_SHARED_PID_NAMESPACE=1 if every kcm using this config directory runs in this pid namespace",
  });
}

/** Runs `kcm isolate`. */
export async function run(
  options: IsolateOptions,
  host: Host,
): Promise<number> {
  using relay = new SignalRelay();
  const self = readSelfIdentity(host.procRoot);
  checkNamespace(host);
  let claimed: Claimed;
  try {
    claimed = await withConfigLock(
      options.confDir,
      true,
      { timeoutMs: host.lockTimeoutMs, signal: relay.signal },
      () => claim(options, self),
    );
  } catch (error) {
    if (relay.caughtEarly === undefined) throw error;
    host.log.warning(
      `Caught ${relay.caughtEarly} before claiming a cpu list; not starting ${options.command}`,
    );
    return relay.earlyExitCode();
  }
  try {
    const { list } = claimed;
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
    const child = startChild({
      command: options.command,
      args: options.args,
      env: { KCM_CPUS_ASSIGNED: list.name },
      cpus: options.noAffinity ? undefined : list.cpus,
    });
    const exitCode = relay.supervise(child);
    recordChild(claimed, child.pid, self, host);
    return await exitCode;
  } finally {
    await release(options, host, claimed, self);
  }
}
