/**
 * Reads the topology record of a config directory
 * (`<conf-dir>/topology.json`, see `core/topology_record.ts`), falling
 * back to sysfs for a directory without one (made by the 2017 tool, or by
 * kcm before the record existed). Side effects: reads that one file, and
 * in the fallback the sysfs files `core/sysfs.ts` reads (loaded only
 * then, so `isolate`'s start-up does not load it).
 */

import { ConfigError, osErrorReason } from "./errors.ts";
import type { CpuSet } from "./cpuset.ts";
import { joinPath } from "./paths.ts";
import type { Topology } from "./topology.ts";
import {
  parseTopologyRecord,
  TOPOLOGY_FILE,
  type TopologyRecord,
  TopologyRecordError,
} from "./topology_record.ts";
import { quote } from "./quote.ts";

/** The path of the topology record of `confDir`. */
export function topologyRecordPath(confDir: string): string {
  return joinPath(confDir, TOPOLOGY_FILE);
}

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
  const file = topologyRecordPath(confDir);
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError(
      `Cannot read topology record ${quote(file)}: ${osErrorReason(error)}`,
      1,
      { cause: error },
    );
  }
  try {
    return parseTopologyRecord(text);
  } catch (error) {
    if (!(error instanceof TopologyRecordError)) throw error;
    const where = error.field === "" ? "" : `${error.field}: `;
    throw new ConfigError(
      `Cannot parse topology record ${quote(file)}: ${where}${error.reason}`,
      1,
      {
        cause: error,
        hint: `remove ${file} to make kcm read the topology from sysfs`,
      },
    );
  }
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
  const { readIsolatedCpus, readTopology } = await import("./sysfs.ts");
  const [topology, isolated] = await Promise.all([
    readTopology(sysRoot),
    readIsolatedCpus(sysRoot),
  ]);
  return { topology, isolated, source: "sysfs" };
}
