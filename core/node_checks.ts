/**
 * The node report's checks, each a list of error lines from a config
 * snapshot and what was observed of the CPUs and processes, and the
 * report document they make. The original tool's report had the overlap
 * check; the others are kcm's. Pure: the gathering is the command's job.
 */

import type { ConfigState, PoolFlag } from "./config_read.ts";
import type { CpuSet } from "./cpuset.ts";
import type { JsonValue } from "./json.ts";
import { findMaskMismatches, type PidObservation } from "./task_masks.ts";

/** One check of the node report. */
export interface CheckResult {
  readonly ok: boolean;
  readonly errors: readonly string[];
}

/** A check with these errors: ok when there are none. */
export function checkResult(errors: readonly string[]): CheckResult {
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
 * import { findOverlaps } from "./node_checks.ts";
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
export function findOverlaps(state: ConfigState<PoolFlag>): string[] {
  const lists: { label: string; cpus: CpuSet }[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      lists.push({ label: `${pool.name}:${list.name}`, cpus: list.cpus });
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

/** Live tasks whose CPU mask is not their list's CPUs, as error lines. */
export function findAffinityDrift(
  state: ConfigState<PoolFlag>,
  observed: ReadonlyMap<number, PidObservation>,
): string[] {
  return findMaskMismatches(state, observed).map((m) =>
    `Task ${m.pid} in ${m.pool}:${m.list.name} may run on CPUs ${m.actual}, not ${m.list.cpus}`
  );
}

/** Lists naming CPUs that are offline or absent. */
export function findOfflineCpus(
  state: ConfigState<PoolFlag>,
  online: CpuSet,
): string[] {
  const errors: string[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const missing = list.cpus.difference(online);
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
  state: ConfigState<PoolFlag>,
  coreOf: (cpu: number) => CpuSet | undefined,
): string[] {
  const errors: string[] = [];
  for (const pool of state.pools) {
    if (!pool.exclusive) continue;
    for (const list of pool.cpuLists) {
      const cpus = list.cpus;
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
  /**
   * Where each list sits (`topologySection()`), or null when the topology
   * could not be read.
   */
  readonly topology: JsonValue;
}

/** The node report document. */
export function nodeReport(input: NodeReportInput): JsonValue {
  const checks: Record<string, JsonValue> = {};
  for (const [name, result] of Object.entries(input.checks)) {
    checks[name] = { errors: [...result.errors], ok: result.ok };
  }
  return {
    checks,
    description: input.description,
    topology: input.topology,
  };
}
