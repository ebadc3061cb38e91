/**
 * `kcm isolate`: claim cpu lists of a pool, pin to them, run a command on
 * them, and give the lists back when the command ends.
 *
 * Steps:
 * 0. Listen for signals (core/signal_relay.ts), read kcm's pid and start
 *    time, and refuse a procfs of kcm's own pid namespace
 *    (core/proc_identity.ts).
 * 1. Before the lock, what the choice needs. A claim of one list without
 *    `--numa-node`/`--socket-id` needs only the NUMA node of each CPU
 *    (from the topology record, for `KCM_NUMA_NODES_ASSIGNED`). Any other
 *    claim loads core/isolate_placement.ts and the whole topology (the
 *    record, else sysfs).
 * 2. Under the exclusive lock (a signal ends the wait): read the pool and
 *    choose. One list: in an exclusive pool the first free one in name
 *    order, in a shared pool a random one (the reference's choice).
 *    Otherwise `allocateLists()`: `--cores` free lists on one NUMA node
 *    and one L3 when possible, within the node or socket asked for.
 *    Create kcm's claim file and take its lock (core/claim_file.ts), and
 *    append kcm's pid to each chosen list's tasks, with its record in the
 *    list's `owners` (core/owners.ts), in one batch (core/isolate_claim.ts).
 * 3. Pin every thread of kcm to the union of the lists (unless
 *    `--no-affinity`), so the child inherits the mask whichever thread
 *    spawns it.
 * 4. Run the command as an argv with `KCM_CPUS_ASSIGNED`,
 *    `KCM_CPUS_ASSIGNED_MASK` and `KCM_NUMA_NODES_ASSIGNED`, in its own
 *    session, holding the claim's lock through the descriptor it inherits;
 *    unless `--no-affinity`, read its CPU mask back from /proc and kill it
 *    (exit 1) if it may run outside the lists. Add its pid and start time
 *    to the claim file, forward signals and wait.
 * 5. Under the lock again: remove the pid from every chosen list and the
 *    claim file. Exit with the child's status. When that fails (lock
 *    timeout, read-only or full disk), say so on one line and exit with
 *    the child's status anyway: once kcm and the command are gone,
 *    `reconcile` frees the lists.
 *
 * This module is isolate's whole start-up path: it imports nothing of the
 * Kubernetes client or YAML. The allocator and sysfs are loaded on demand
 * by a computed specifier (Deno reads every literal `import()` target at
 * start-up, taken or not: about 0.15 ms a module, see bench/README.md), so
 * `deno task compile` includes core/isolate_placement.ts by name.
 */

import type { Invocation } from "../core/command.ts";
import type { Allocation } from "../core/allocate.ts";
import { assignmentEnv } from "../core/assignment_env.ts";
import type { HeldClaim } from "../core/claim_file.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { OpenConfig } from "../core/config_open.ts";
import { isPlainName } from "../core/config_paths.ts";
import {
  type CpuListState,
  type PoolState,
  readPool,
} from "../core/config_read.ts";
import type { CpuSet } from "../core/cpuset.ts";
import { pinProcess } from "../core/affinity.ts";
import { ConfigError, UsageError } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import {
  checkNamespace,
  giveBackLists,
  recordChild,
  takeLists,
} from "../core/isolate_claim.ts";
import { type ProcessId, readSelfIdentity } from "../core/proc_identity.ts";
import { oneLine, quote } from "../core/quote.ts";
import { startChild } from "../core/process.ts";
import { SignalRelay } from "../core/signal_relay.ts";
import type { Topology } from "../core/topology.ts";
import { readRecordNumaNodes } from "../core/record_file.ts";

/** Where core/isolate_placement.ts is (computed: see the file comment). */
const PLACEMENT_MODULE: string = "../core/isolate_placement.ts";

/** core/isolate_placement.ts, as a type only. */
type PlacementModule = typeof import("../core/isolate_placement.ts");

/** Loads core/isolate_placement.ts. */
async function loadPlacement(): Promise<PlacementModule> {
  return await import(PLACEMENT_MODULE) as PlacementModule;
}

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
  if (!isPlainName(pool)) {
    throw new UsageError(
      `--pool must be a pool's name (no "/", not "." or ".."), got ${
        quote(pool)
      }`,
    );
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
      `KCM_NUM_CORES must be a whole number >= 1, got ${quote(env)}`,
    );
  }
  return n;
}

/**
 * Chooses a cpu list the way the reference did: in an exclusive pool the
 * first free one in name order (undefined when none is free), in a shared
 * pool any one, free or not, picked with `random` (a number in [0, 1)).
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

/** The NUMA nodes of `cpus`, ascending, from a CPU -> node map. */
function nodesOf(
  cpus: CpuSet,
  nodeOf: ReadonlyMap<number, number> | undefined,
): number[] {
  if (nodeOf === undefined) return [];
  const nodes = new Set<number>();
  for (const cpu of cpus.toArray()) {
    const node = nodeOf.get(cpu);
    if (node !== undefined) nodes.add(node);
  }
  return [...nodes].sort((a, b) => a - b);
}

/** What the claim under the lock decided. */
type Claim =
  | { readonly allocation: Allocation; readonly claim: HeldClaim }
  /** A one-list claim found no list; the error is worded after the lock. */
  | { readonly refused: PoolState };

/** How to choose: the topology of a placed claim, or the node map. */
type Chooser =
  | { readonly placed: PlacementModule; readonly topology: Topology }
  | { readonly nodeOf: ReadonlyMap<number, number> | undefined };

function readExistingPool(
  config: OpenConfig,
  options: IsolateOptions,
): PoolState {
  const pool = readPool(config, options.pool);
  if (pool === undefined) {
    throw new ConfigError(
      `Requested pool ${oneLine(options.pool)} does not exist`,
    );
  }
  return pool;
}

/**
 * Step 2, under the lock: choose the lists, take a claim for `self` and
 * record it in each.
 */
function claim(
  options: IsolateOptions,
  self: ProcessId,
  count: number,
  chooser: Chooser,
): Claim {
  using config = OpenConfig.open(options.confDir);
  const pool = readExistingPool(config, options);
  let allocation: Allocation;
  if ("placed" in chooser) {
    allocation = chooser.placed.allocateFromPool(pool, chooser.topology, {
      count,
      numaNode: options.numaNode,
      socketId: options.socketId,
    });
  } else {
    const list = chooseCpuList(pool, Math.random);
    if (list === undefined) return { refused: pool };
    allocation = {
      lists: [{ name: list.name, cpus: list.cpus, free: true }],
      cpus: list.cpus,
      numaNodes: nodesOf(list.cpus, chooser.nodeOf),
      warnings: [],
    };
  }
  // The lock is held since readPool: the lists as read are current.
  const read = new Map(pool.cpuLists.map((list) => [list.name, list]));
  const claim = takeLists(
    config,
    options.pool,
    allocation.lists.map((list) => read.get(list.name)!),
    self,
  );
  return { allocation, claim };
}

/** Step 1: what the choice needs, read before the lock. */
async function prepareChooser(
  options: IsolateOptions,
  count: number,
  host: Host,
): Promise<Chooser> {
  if (
    count === 1 && options.numaNode === undefined &&
    options.socketId === undefined
  ) {
    return { nodeOf: readRecordNumaNodes(options.confDir) };
  }
  const placed = await loadPlacement();
  const { topology, fromSysfs } = await placed.loadClaimTopology(
    options.confDir,
    host.sysRoot,
  );
  if (fromSysfs) {
    host.log.debug(
      `No topology record in ${options.confDir}: read ${host.sysRoot}`,
    );
  }
  return { placed, topology };
}

/** Runs `kcm isolate`. */
export async function run(
  options: IsolateOptions,
  host: Host,
): Promise<number> {
  using relay = new SignalRelay();
  const self = readSelfIdentity(host.procRoot);
  checkNamespace(host.procRoot, host.env);
  const count = coreCount(options.cores, host.env.KCM_NUM_CORES);
  const chooser = await prepareChooser(options, count, host);
  let claimed: Claim;
  try {
    claimed = await withConfigLock(
      options.confDir,
      true,
      { timeoutMs: host.lockTimeoutMs, signal: relay.signal },
      () => claim(options, self, count, chooser),
    );
  } catch (error) {
    if (relay.caughtEarly === undefined) throw error;
    host.log.warning(
      `Caught ${relay.caughtEarly} before claiming a cpu list; not starting ${
        oneLine(options.command)
      }`,
    );
    return relay.earlyExitCode();
  }
  if ("refused" in claimed) {
    throw (await loadPlacement()).noFreeListError(claimed.refused);
  }
  try {
    const { allocation } = claimed;
    for (const warning of allocation.warnings) {
      host.log.warning(warning.message);
    }
    if (!options.noAffinity) {
      host.log.debug(`Setting affinity to ${allocation.cpus}`);
      pinProcess(allocation.cpus);
    }
    if (relay.caughtEarly !== undefined) {
      host.log.warning(
        `Caught ${relay.caughtEarly} before starting ${
          oneLine(options.command)
        }; not starting it`,
      );
      return relay.earlyExitCode();
    }
    const child = startChild({
      command: options.command,
      args: options.args,
      env: assignmentEnv(allocation),
      cpus: options.noAffinity ? undefined : allocation.cpus,
    });
    const exitCode = relay.supervise(child);
    recordChild(claimed.claim, child.pid, self, host);
    return await exitCode;
  } finally {
    await giveBackLists(
      options.confDir,
      options.pool,
      claimed.allocation.lists.map((list) => list.name),
      claimed.claim,
      self,
      host,
    );
  }
}
