/**
 * The topology record: `<conf-dir>/topology.json`, written by `kcm init`
 * beside `lock` and `pools/`, so that `isolate`, `describe` and
 * `node-report` know each cpu list's NUMA nodes, package and L3 without
 * reading sysfs again. This module formats and parses it (the document
 * level, file name and version are `core/record_document.ts`); reading it
 * is `core/topology_file.ts`.
 *
 * Format (version 1), JSON with one entry per line:
 *
 * ```json
 * {
 *   "version": 1,
 *   "isolated": "2-7,10-15",
 *   "numa_nodes": {
 *     "0": "0-7",
 *     "1": "8-15"
 *   },
 *   "l3_caches": {
 *     "0": "0-15"
 *   },
 *   "cores": [
 *     {"package": 0, "die": 0, "core": 0, "cpus": "0,8"},
 *     ...
 *   ]
 * }
 * ```
 *
 * - `cores`: every online physical core at `init` time, by lowest CPU id:
 *   its `physical_package_id`, `die_id`, `core_id` and threads (a cpuset
 *   list). The CPUs of all cores are the online CPUs.
 * - `numa_nodes` / `l3_caches`: node id / L3 id to its online CPUs, as the
 *   kernel lists them (`node<X>/cpulist`, `index3/shared_cpu_list`); CPUs
 *   without a node or an L3 appear in none.
 * - `isolated`: the kernel's isolated CPUs (`isolcpus=`) at `init` time.
 * - Keys a reader does not know are ignored, so fields can be added
 *   without a new version; a change that old readers would misread bumps
 *   `version`, and a reader refuses a version it does not know.
 */

import { CpuSet } from "./cpuset.ts";
import {
  isJsonObject,
  parseRecordDocument,
  readRecordCpus,
  readRecordMap,
  TOPOLOGY_RECORD_VERSION,
  TopologyRecordError,
} from "./record_document.ts";
import { type LogicalCpu, Topology } from "./topology.ts";

/** What the record holds. */
export interface TopologyRecord {
  /** The online CPUs at `init` time, with package, die, core, node, L3. */
  readonly topology: Topology;
  /** The isolated CPUs at `init` time (may be empty). */
  readonly isolated: CpuSet;
}

/** `cpusOf(id)` for every distinct id that `idOf` gives a CPU, by id. */
function groupCpus(
  topology: Topology,
  idOf: (cpu: LogicalCpu) => number | null,
): [number, CpuSet][] {
  const groups = new Map<number, number[]>();
  for (const cpu of topology.cpus) {
    const id = idOf(cpu);
    if (id === null) continue;
    const cpus = groups.get(id) ?? [];
    cpus.push(cpu.id);
    groups.set(id, cpus);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b)
    .map(([id, cpus]) => [id, CpuSet.of(cpus)]);
}

function formatMap(entries: [number, CpuSet][]): string {
  if (entries.length === 0) return "{}";
  const lines = entries.map(([id, cpus]) =>
    `    ${JSON.stringify(String(id))}: ${JSON.stringify(cpus.toString())}`
  );
  return `{\n${lines.join(",\n")}\n  }`;
}

/**
 * Formats a record as the text of `topology.json`, newline included.
 *
 * @example
 * ```ts
 * import { formatTopologyRecord, parseTopologyRecord } from "./topology_record.ts";
 * import { CpuSet } from "./cpuset.ts";
 * import { Topology } from "./topology.ts";
 * import assert from "node:assert/strict";
 * const cpu = (id: number) => ({
 *   id, packageId: 0, dieId: 0, coreId: id % 2, numaNode: 0, l3Id: null,
 * });
 * const text = formatTopologyRecord({
 *   topology: new Topology([0, 1, 2, 3].map(cpu)),
 *   isolated: CpuSet.of([1, 3]),
 * });
 * assert.equal(text, `{
 *   "version": 1,
 *   "isolated": "1,3",
 *   "numa_nodes": {
 *     "0": "0-3"
 *   },
 *   "l3_caches": {},
 *   "cores": [
 *     {"package": 0, "die": 0, "core": 0, "cpus": "0,2"},
 *     {"package": 0, "die": 0, "core": 1, "cpus": "1,3"}
 *   ]
 * }
 * `);
 * assert.equal(parseTopologyRecord(text).topology.cores.length, 2);
 * ```
 */
export function formatTopologyRecord(record: TopologyRecord): string {
  const { topology } = record;
  const cores = topology.cores.map((core) =>
    `    {"package": ${core.packageId}, "die": ${core.dieId}, ` +
    `"core": ${core.coreId}, "cpus": ${JSON.stringify(core.cpus.toString())}}`
  );
  return [
    "{",
    `  "version": ${TOPOLOGY_RECORD_VERSION},`,
    `  "isolated": ${JSON.stringify(record.isolated.toString())},`,
    `  "numa_nodes": ${formatMap(groupCpus(topology, (c) => c.numaNode))},`,
    `  "l3_caches": ${formatMap(groupCpus(topology, (c) => c.l3Id))},`,
    cores.length === 0
      ? `  "cores": []`
      : `  "cores": [\n${cores.join(",\n")}\n  ]`,
    "}",
    "",
  ].join("\n");
}

function readId(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new TopologyRecordError(
      field,
      `${JSON.stringify(value)} is not a non-negative integer`,
    );
  }
  return value as number;
}

/**
 * Parses the text of `topology.json`.
 *
 * @throws {TopologyRecordError} when the text is not JSON, the version is
 * not {@linkcode TOPOLOGY_RECORD_VERSION}, or a field breaks the format;
 * `field` says where.
 */
export function parseTopologyRecord(text: string): TopologyRecord {
  const document = parseRecordDocument(text);
  const isolated = readRecordCpus(document.isolated ?? "", "isolated", false);
  if (!Array.isArray(document.cores)) {
    throw new TopologyRecordError("cores", "missing, or not an array");
  }
  const cores = document.cores.map((core: unknown, index) => {
    const field = `cores[${index}]`;
    if (!isJsonObject(core)) {
      throw new TopologyRecordError(field, "not an object");
    }
    return {
      packageId: readId(core.package, `${field}.package`),
      dieId: readId(core.die, `${field}.die`),
      coreId: readId(core.core, `${field}.core`),
      cpus: readRecordCpus(core.cpus, `${field}.cpus`, true),
      field,
    };
  });
  const known = new Set<number>();
  const coreKeys = new Set<string>();
  for (const core of cores) {
    const key = `${core.packageId}/${core.dieId}/${core.coreId}`;
    if (coreKeys.has(key)) {
      throw new TopologyRecordError(
        core.field,
        `package ${core.packageId}, die ${core.dieId}, core ` +
          `${core.coreId} appears twice`,
      );
    }
    coreKeys.add(key);
    for (const cpu of core.cpus.toArray()) {
      if (known.has(cpu)) {
        throw new TopologyRecordError(
          `${core.field}.cpus`,
          `CPU ${cpu} is in two cores`,
        );
      }
      known.add(cpu);
    }
  }
  const nodeOf = readRecordMap(document, "numa_nodes", known);
  const l3Of = readRecordMap(document, "l3_caches", known);
  const cpus: LogicalCpu[] = cores.flatMap((core) =>
    core.cpus.toArray().map((id) => ({
      id,
      packageId: core.packageId,
      dieId: core.dieId,
      coreId: core.coreId,
      numaNode: nodeOf.get(id) ?? null,
      l3Id: l3Of.get(id) ?? null,
    }))
  );
  return { topology: new Topology(cpus), isolated };
}
