/**
 * Reads the topology record of a config directory
 * (`<conf-dir>/topology.json`, see `core/topology_record.ts`), falling
 * back to sysfs for a directory without one (made by the 2017 tool, or by
 * kcm before the record existed). Side effects: reads that one file, and
 * in the fallback the sysfs files `core/sysfs.ts` reads. `isolate` loads
 * this module only for claims placed by topology; its one-list claims read
 * the NUMA map alone (core/record_file.ts).
 */

import type { CpuSet } from "./cpuset.ts";
import { readRecordFile } from "./record_file.ts";
import { readIsolatedCpus, readTopology } from "./sysfs.ts";
import type { Topology } from "./topology.ts";
import { parseTopologyRecord, type TopologyRecord } from "./topology_record.ts";

/**
 * Reads `<confDir>/topology.json`; undefined when there is none.
 * Synchronous, like the other reads `isolate` makes under the lock.
 *
 * @throws {ConfigError} naming the file when it cannot be read or does not
 * parse.
 */
export function readTopologyRecord(
  confDir: string,
): TopologyRecord | undefined {
  return readRecordFile(confDir, parseTopologyRecord);
}

/** A topology and where it came from. */
export interface LoadedTopology {
  readonly topology: Topology;
  readonly isolated: CpuSet;
  /** `record`: the config directory's `topology.json`; `sysfs`: read now. */
  readonly source: "record" | "sysfs";
}

/**
 * The topology of the machine a config directory was made for: its
 * record when it has one, else the topology and isolated CPUs read from
 * sysfs now (once per call). A record is trusted as written: if the
 * machine changed since `init`, cpu lists whose CPUs it does not know
 * come out with `unknown` CPUs in `Topology.placementOf()`.
 *
 * @throws {ConfigError} when the record exists but is unreadable or bad.
 * @throws {SysfsError} when the fallback cannot read sysfs.
 */
export async function loadTopology(
  confDir: string,
  sysRoot: string,
): Promise<LoadedTopology> {
  const record = readTopologyRecord(confDir);
  if (record !== undefined) return { ...record, source: "record" };
  const [topology, isolated] = await Promise.all([
    readTopology(sysRoot),
    readIsolatedCpus(sysRoot),
  ]);
  return { topology, isolated, source: "sysfs" };
}
