/**
 * The reconcile report (SPEC §5.1) and the node report (SPEC §5.2 plus
 * kcm's own checks), built from a config snapshot and what was observed
 * of the processes and CPUs. Pure: the gathering is the commands' job.
 */

import type { ConfigState } from "./config_read.ts";
import { type CpuSet, parseCpuList } from "./cpuset.ts";
import type { JsonValue } from "./json.ts";

/**
 * What procfs said of a recorded pid: the CPUs it may run on, or null
 * when the process no longer exists.
 */
export type PidObservation = CpuSet | null;

/** One task that is no longer running: its list can be given back. */
export interface ReclaimedTask {
  readonly pool: string;
  readonly cpus: string;
  readonly pid: number;
}

/** The reconcile plan: what to report and which pids to drop from where. */
export interface ReconcilePlan {
  readonly report: JsonValue;
  readonly reclaimed: readonly ReclaimedTask[];
}

/** Every distinct pid recorded anywhere in the config. */
export function recordedPids(state: ConfigState): number[] {
  const pids = new Set<number>();
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      for (const pid of list.tasks) pids.add(pid);
    }
  }
  return [...pids];
}

function byPid<T extends { pid: number }>(entries: T[]): T[] {
  return entries.sort((a, b) => a.pid - b.pid); // stable since ES2019
}

/**
 * Builds the reconcile report: dead pids are reclaimed, live pids whose
 * CPU mask differs from their list are reported as mismatched.
 */
export function planReconcile(
  state: ConfigState,
  observed: ReadonlyMap<number, PidObservation>,
): ReconcilePlan {
  const reclaimed: ReclaimedTask[] = [];
  const mismatched: {
    actualCpus: number[];
    cpus: string;
    pid: number;
    pool: string;
  }[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const cpus = parseCpuList(list.name);
      for (const pid of list.tasks) {
        const actual = observed.get(pid);
        if (actual === undefined) continue;
        if (actual === null) {
          reclaimed.push({ cpus: list.name, pid, pool: pool.name });
        } else if (!actual.equals(cpus)) {
          mismatched.push({
            actualCpus: actual.toArray(),
            cpus: list.name,
            pid,
            pool: pool.name,
          });
        }
      }
    }
  }
  return {
    report: {
      mismatchedCpuMasks: byPid(mismatched),
      reclaimedCpuLists: byPid([...reclaimed]).map((r) => ({ ...r })),
    },
    reclaimed,
  };
}

/** One check of the node report. */
export interface CheckResult {
  readonly ok: boolean;
  readonly errors: readonly string[];
}

function check(errors: string[]): CheckResult {
  return { ok: errors.length === 0, errors };
}

function pythonList(cpus: CpuSet): string {
  return `[${cpus.toArray().join(", ")}]`;
}

/**
 * Finds every pair of distinct cpu lists that share CPUs, in the
 * reference's order (pools and lists by name, first list of the pair
 * first). Linear in the total number of CPUs named plus the number of
 * overlapping pairs: a map from CPU to the lists seen so far.
 *
 * @example
 * ```ts
 * import { findOverlaps } from "./reports.ts";
 * import { parseCpuList } from "./cpuset.ts";
 * import assert from "node:assert/strict";
 * const list = (name: string) => ({ name, cpus: parseCpuList(name), tasks: [] });
 * const state = { path: "x", pools: [
 *   { name: "a", exclusive: false, cpuLists: [list("0-3"), list("2,3")] },
 * ] };
 * assert.deepEqual(findOverlaps(state), [
 *   "CPU list overlap detected in a:0-3 and a:2,3 (in both: [2, 3])",
 * ]);
 * ```
 */
export function findOverlaps(state: ConfigState): string[] {
  const lists: { label: string; cpus: CpuSet }[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      lists.push({
        label: `${pool.name}:${list.name}`,
        cpus: parseCpuList(list.name),
      });
    }
  }
  const owners = new Map<number, number[]>();
  const shared = new Map<number, number[]>(); // first * n + second -> cpus
  const n = lists.length;
  lists.forEach(({ cpus }, second) => {
    for (const cpu of cpus.toArray()) {
      const seen = owners.get(cpu);
      if (seen === undefined) {
        owners.set(cpu, [second]);
        continue;
      }
      for (const first of seen) {
        const key = first * n + second;
        const cpusInBoth = shared.get(key);
        if (cpusInBoth === undefined) shared.set(key, [cpu]);
        else cpusInBoth.push(cpu);
      }
      seen.push(second);
    }
  });
  return [...shared.keys()].sort((a, b) => a - b).map((key) => {
    const first = lists[Math.floor(key / n)]!, second = lists[key % n]!;
    const both = second.cpus.intersection(first.cpus);
    return `CPU list overlap detected in ${first.label} and ${second.label} (in both: ${
      pythonList(both)
    })`;
  });
}

/** Live tasks whose CPU mask is not their list's CPUs. */
export function findAffinityDrift(
  state: ConfigState,
  observed: ReadonlyMap<number, PidObservation>,
): string[] {
  const errors: string[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const cpus = parseCpuList(list.name);
      for (const pid of list.tasks) {
        const actual = observed.get(pid);
        if (actual && !actual.equals(cpus)) {
          errors.push(
            `Task ${pid} in ${pool.name}:${list.name} may run on CPUs ${actual}, not ${cpus}`,
          );
        }
      }
    }
  }
  return errors;
}

/** Lists naming CPUs that are offline or absent. */
export function findOfflineCpus(state: ConfigState, online: CpuSet): string[] {
  const errors: string[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const missing = parseCpuList(list.name).difference(online);
      if (!missing.isEmpty()) {
        errors.push(
          `CPU list ${pool.name}:${list.name} names CPUs ${missing} that are offline or absent`,
        );
      }
    }
  }
  return errors;
}

/**
 * Exclusive lists that hold only part of a physical core: a sibling
 * thread outside the list would share the core's pipeline with whatever
 * runs there. `coreOf` maps a CPU to its core's online CPUs.
 */
export function findSplitCores(
  state: ConfigState,
  coreOf: (cpu: number) => CpuSet | undefined,
): string[] {
  const errors: string[] = [];
  for (const pool of state.pools) {
    if (!pool.exclusive) continue;
    for (const list of pool.cpuLists) {
      const cpus = parseCpuList(list.name);
      const missing = new Set<number>();
      for (const cpu of cpus.toArray()) {
        for (const sibling of coreOf(cpu)?.toArray() ?? []) {
          if (!cpus.has(sibling)) missing.add(sibling);
        }
      }
      if (missing.size > 0) {
        errors.push(
          `Exclusive CPU list ${pool.name}:${list.name} splits physical cores: sibling CPUs ${
            [...missing].sort((a, b) => a - b).join(",")
          } are outside it`,
        );
      }
    }
  }
  return errors;
}

/** The parts a node report is made of. */
export interface NodeReportInput {
  /** The describe document, or null when it could not be read. */
  readonly description: JsonValue;
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/** The node report document. */
export function nodeReport(input: NodeReportInput): JsonValue {
  const checks: Record<string, JsonValue> = {};
  for (const [name, result] of Object.entries(input.checks)) {
    checks[name] = { errors: [...result.errors], ok: result.ok };
  }
  return { checks, description: input.description };
}

export { check as checkResult };
