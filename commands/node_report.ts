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
 * - `taskAffinity`: every live task runs on exactly its list's CPUs (a
 *   reused pid, whose process is not the one recorded, is not checked).
 */

import {
  type Invocation,
  type ReportOptions,
  reportOptions,
} from "../core/command.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { type ConfigSurvey, surveyConfig } from "../core/config_read.ts";
import { describeConfig } from "../core/describe.ts";
import { errorMessage } from "../core/errors.ts";
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
    (): ConfigSurvey | Error => {
      try {
        return surveyConfig(confDir);
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
      taskAffinity: skipped,
    };
    return {
      report: nodeReport({ description: null, checks }),
      pools: [],
      checks,
    };
  }
  const { state, findings } = read;
  const [configDirectory, cpuListsOnline, exclusiveCores, taskAffinity] =
    await Promise.all([
      guarded(() => [
        ...findings.map((finding) => finding.message),
        ...findOverlaps(state),
      ]),
      guarded(async () =>
        findOfflineCpus(state, await readOnlineCpus(host.sysRoot))
      ),
      guarded(async () => {
        const topology = await readTopology(host.sysRoot);
        return findSplitCores(state, (cpu) => topology.coreOf(cpu)?.cpus);
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
    taskAffinity,
  };
  return {
    report: nodeReport({ description: describeConfig(state), checks }),
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
