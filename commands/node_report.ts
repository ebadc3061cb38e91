/**
 * `kcm node-report`: check the node against its config directory and
 * print the result as JSON; with `--publish` also as a NodeReport object.
 *
 * Checks, each with `ok` and `errors`:
 * - `configDirectory`: the directory reads, every entry of it is usable
 *   (an entry that is not, a link or a FIFO where `tasks` should be, is an
 *   error naming its path, and the rest is still checked), and no two cpu
 *   lists share CPUs;
 * - `cpuListsOnline`: every CPU a list names is online;
 * - `exclusiveCores`: exclusive lists hold whole physical cores;
 * - `exclusiveNumaNodes`: each exclusive list lies on one NUMA node;
 * - `taskAffinity`: every live task runs on exactly its list's CPUs (a
 *   reused pid, whose process is not the one recorded, is not checked).
 *
 * Besides `checks` and `description`, the report has a `topology` section
 * (core/topology_report.ts): where each list sits, from the config
 * directory's topology record or, without one, sysfs; null when neither
 * could be read.
 */

import {
  type Invocation,
  type ReportOptions,
  reportOptions,
} from "../core/command.ts";
import { withConfigLock } from "../core/config_lock.ts";
import {
  type ConfigState,
  type PoolFlag,
  type PoolState,
  readPoolFlag,
  surveyConfig,
} from "../core/config_read.ts";
import { describeConfig } from "../core/describe.ts";
import { ConfigError, errorMessage } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import type { JsonValue } from "../core/json.ts";
import { observePids } from "../core/procfs.ts";
import { strangers } from "../core/ownership.ts";
import { readStartTimes } from "../core/proc_identity.ts";
import {
  type CheckResult,
  checkResult,
  findAffinityDrift,
  findOfflineCpus,
  findOverlaps,
  findSplitCores,
  nodeReport,
} from "../core/node_checks.ts";
import { recordedPids } from "../core/task_masks.ts";
import { type RoundResult, runReportLoop } from "../core/report_loop.ts";
import { readOnlineCpus, readTopology } from "../core/sysfs.ts";
import { type LoadedTopology, loadTopology } from "../core/topology_file.ts";
import {
  findSpanningExclusiveLists,
  type PoolCpus,
  topologySection,
} from "../core/topology_report.ts";

/** Options of `kcm node-report`. */
export type NodeReportOptions = ReportOptions;

/** Validates the flags. */
export function parse(
  invocation: Invocation<"node-report">,
): NodeReportOptions {
  return reportOptions(invocation);
}

async function guarded(
  work: () => Promise<string[]> | string[],
): Promise<CheckResult> {
  try {
    return checkResult(await work());
  } catch (error) {
    return checkResult([errorMessage(error)]);
  }
}

/** What a node report needs of the host (a log for notes, if any). */
type NodeReportHost =
  & Pick<Host, "procRoot" | "sysRoot" | "lockTimeoutMs">
  & Partial<Pick<Host, "log">>;

/** A snapshot with the flags that could be read, and why others could not. */
interface NodeConfig {
  readonly state: ConfigState<PoolFlag>;
  /** Every pool's flag was read: the snapshot `describe` prints. */
  readonly described: ConfigState | undefined;
  /**
   * One line per entry set aside (core/config_read.ts) and per pool whose
   * `exclusive` file could not be read.
   */
  readonly errors: readonly string[];
}

/**
 * Reads every entry of the config directory that reads, with its `owners`
 * records, then each pool's flag on its own: a pool
 * without one leaves the description null (there is no `exclusive` to
 * print), as in the original tool, and is an error of the configDirectory
 * check, but every other check still runs.
 */
function readNodeConfig(confDir: string): NodeConfig {
  const { state: { path, pools }, findings } = surveyConfig(confDir);
  const errors = findings.map((finding) => finding.message);
  const flagged = pools.map((pool): PoolState<PoolFlag> => {
    try {
      return { ...pool, exclusive: readPoolFlag(confDir, pool.name) };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      errors.push(error.message);
      return pool;
    }
  });
  const known = flagged.filter((pool): pool is PoolState =>
    pool.exclusive !== undefined
  );
  return {
    state: { path, pools: flagged },
    described: known.length === flagged.length
      ? { path, pools: known }
      : undefined,
    errors,
  };
}

/** Builds one node report; `signal` ends a wait for the lock. */
export async function buildNodeReport(
  confDir: string,
  host: NodeReportHost,
  signal?: AbortSignal,
): Promise<JsonValue> {
  return (await nodeReportRound(confDir, host, signal)).report;
}

/**
 * One node report with what the loop needs besides the document: the
 * pools (for the metrics) and the checks (for Events).
 */
export async function nodeReportRound(
  confDir: string,
  host: NodeReportHost,
  signal?: AbortSignal,
): Promise<RoundResult> {
  // Lock failures (no config dir, timeout) are fatal, as in the reference
  // (a loop publishes them as a failed report); a config that cannot be
  // parsed is a failed check instead.
  const read = await withConfigLock(
    confDir,
    false,
    {
      timeoutMs: host.lockTimeoutMs,
      ...(signal ? { signal } : {}),
      onUnlocked: (why) => host.log?.info(`${why}: reading without the lock`),
    },
    (): NodeConfig | Error => {
      try {
        return readNodeConfig(confDir);
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    },
  );
  if (read instanceof Error) {
    const skipped = checkResult([
      "Skipped: the config directory could not be read",
    ]);
    const checks = {
      configDirectory: checkResult([read.message]),
      cpuListsOnline: skipped,
      exclusiveCores: skipped,
      exclusiveNumaNodes: skipped,
      taskAffinity: skipped,
    };
    return {
      report: nodeReport({ description: null, checks, topology: null }),
      pools: [],
      checks,
    };
  }
  const { state, described, errors } = read;
  const pools: PoolCpus[] = state.pools.map((pool) => ({
    name: pool.name,
    // A pool whose flag cannot be read is not known to be exclusive.
    exclusive: pool.exclusive === true,
    lists: pool.cpuLists,
  }));
  // The record is read after the lock: init writes it with the pools, and
  // nothing changes it afterwards.
  let loaded: LoadedTopology | undefined;
  const [
    configDirectory,
    cpuListsOnline,
    exclusiveCores,
    exclusiveNumaNodes,
    taskAffinity,
  ] = await Promise.all([
    guarded(() => [...errors, ...findOverlaps(state)]),
    guarded(async () =>
      findOfflineCpus(state, await readOnlineCpus(host.sysRoot))
    ),
    guarded(async () => {
      const topology = await readTopology(host.sysRoot);
      return findSplitCores(state, (cpu) => topology.coreOf(cpu)?.cpus);
    }),
    guarded(async () => {
      loaded = await loadTopology(confDir, host.sysRoot);
      return findSpanningExclusiveLists(pools, loaded.topology);
    }),
    guarded(() => {
      const others = strangers(state, {
        starts: readStartTimes(
          host.procRoot,
          state.pools.flatMap((p) =>
            p.cpuLists.flatMap((l) => [...l.owners?.keys() ?? []])
          ),
        ),
        claims: new Map(),
      });
      const observed = observePids(
        host.procRoot,
        recordedPids(state).filter((pid) => !others.has(pid)),
      );
      return findAffinityDrift(state, observed);
    }),
  ]);
  const checks = {
    configDirectory,
    cpuListsOnline,
    exclusiveCores,
    exclusiveNumaNodes,
    taskAffinity,
  };
  return {
    report: nodeReport({
      description: described ? describeConfig(described) : null,
      checks,
      topology: loaded === undefined ? null : topologySection(pools, loaded),
    }),
    pools: state.pools,
    checks,
  };
}

/** Runs `kcm node-report`. */
export function run(options: NodeReportOptions, host: Host): Promise<number> {
  return runReportLoop(
    { ...options, command: "node-report", kind: "NodeReport" },
    host,
    (signal) => nodeReportRound(options.confDir, host, signal),
  );
}
