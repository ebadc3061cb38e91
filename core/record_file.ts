/**
 * Reading the topology record file of a config directory
 * (`<conf-dir>/topology.json`) with a parser of the caller's choice, and
 * its NUMA map alone for `isolate`'s start-up path (the whole record is
 * `readTopologyRecord()` in core/topology_file.ts). The file is read as
 * every file of the config directory is (core/confined_dir.ts): a link,
 * FIFO, device or file over 1 MiB in its place is an error naming it,
 * never followed, opened or read. Side effects: reads that one file.
 */

import { ConfinedDir, EntryError } from "./confined_dir.ts";
import { ConfigError } from "./errors.ts";
import { joinPath } from "./paths.ts";
import {
  parseRecordNumaNodes,
  TOPOLOGY_FILE,
  TopologyRecordError,
} from "./record_document.ts";
import { quote } from "./quote.ts";

/** The path of the topology record of `confDir`. */
export function topologyRecordPath(confDir: string): string {
  return joinPath(confDir, TOPOLOGY_FILE);
}

/**
 * Reads and parses `<confDir>/topology.json` with `parse`; undefined when
 * there is none.
 *
 * @throws {ConfigError} naming the file when it cannot be read, or when
 * `parse` throws a `TopologyRecordError` (with a hint to remove the file).
 */
export function readRecordFile<T>(
  confDir: string,
  parse: (text: string) => T,
): T | undefined {
  const file = topologyRecordPath(confDir);
  let text: string;
  try {
    using root = ConfinedDir.openRoot(confDir);
    text = root.readFile(TOPOLOGY_FILE, "topology record").text;
  } catch (error) {
    if (!(error instanceof EntryError)) throw error;
    // A config directory that cannot be opened is the lock's to report.
    if (error.problem === "missing" || error.path !== file) return undefined;
    throw error;
  }
  try {
    return parse(text);
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

/**
 * The NUMA node of each CPU, from `<confDir>/topology.json`
 * (`parseRecordNumaNodes()`: the version and `numa_nodes` only);
 * undefined when there is no record.
 *
 * @throws {ConfigError} as {@linkcode readRecordFile}.
 */
export function readRecordNumaNodes(
  confDir: string,
): ReadonlyMap<number, number> | undefined {
  return readRecordFile(confDir, parseRecordNumaNodes);
}
