/**
 * Reads the CPU topology from a sysfs tree. Side effects: reads files below
 * the `sysRoot` it is given, and nothing else (the caller resolves
 * `KCM_SYS_FS`). Files read, per the kernel's cputopology.rst, sysfs-devices-
 * system-cpu and sysfs-devices-node ABI documents:
 *
 * - `devices/system/cpu/online`: the online CPUs (only those count);
 * - `devices/system/cpu/isolated`: the CPUs the kernel keeps out of load
 *   balancing (`isolcpus=`), read by {@linkcode readIsolatedCpus} only;
 * - `devices/system/cpu/cpu<N>/topology/{physical_package_id,die_id,core_id}`
 *   (`die_id` is missing before Linux 5.2: taken as 0);
 * - `devices/system/node/node<X>/cpulist` (no `node` directory: no NUMA);
 * - `devices/system/cpu/cpu<N>/cache/index3/id`, or when that is missing
 *   (before Linux 4.11) the lowest CPU of `index3/shared_cpu_list`; no
 *   `index3` means the CPU has no L3. Like lscpu on x86, `index3` is taken
 *   to be the L3 without reading its `level`.
 *
 * Every error is a {@linkcode SysfsError} naming the file and quoting what
 * it held.
 */

import { joinPath } from "./paths.ts";
import { CpuListSyntaxError, CpuSet, parseCpuList } from "./cpuset.ts";
import { SysfsError } from "./errors.ts";
import { type LogicalCpu, Topology } from "./topology.ts";

const INTEGER = /^(0|[1-9][0-9]*)$/;

function cpuDir(sysRoot: string): string {
  return joinPath(sysRoot, "devices", "system", "cpu");
}

interface ReadOptions {
  /** Return undefined instead of failing when the file does not exist. */
  optional?: boolean;
  /** Hint for the error when the file cannot be read. */
  hint?: string;
}

/** Reads a sysfs file. */
async function readSysfsFile(
  file: string,
  options: ReadOptions = {},
): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (options.optional && error instanceof Deno.errors.NotFound) {
      return undefined;
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new SysfsError(`Cannot read ${file}: ${reason}`, 1, {
      cause: error,
      ...(options.hint === undefined ? {} : { hint: options.hint }),
    });
  }
}

/** Parses a sysfs integer; -1 ("unknown", older non-x86 kernels) is allowed. */
function parseId(file: string, text: string, allowUnknown: boolean): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  const valid = INTEGER.test(trimmed) || (allowUnknown && trimmed === "-1");
  if (!valid || !Number.isSafeInteger(value)) {
    throw new SysfsError(
      `Cannot parse ${file}: ${JSON.stringify(text)} is not ` +
        (allowUnknown ? "an id" : "a non-negative integer"),
    );
  }
  return value;
}

function parseSysfsCpuList(file: string, text: string): CpuSet {
  try {
    return parseCpuList(text.trim());
  } catch (error) {
    if (
      !(error instanceof CpuListSyntaxError) && !(error instanceof RangeError)
    ) {
      throw error;
    }
    throw new SysfsError(
      `Cannot parse ${file}: ${JSON.stringify(text)} is not a CPU list`,
      1,
      { cause: error },
    );
  }
}

/**
 * The online logical CPUs, from `<sysRoot>/devices/system/cpu/online`.
 *
 * @throws {SysfsError} when the file is missing, unreadable, not a CPU list
 * or empty.
 */
export async function readOnlineCpus(sysRoot: string): Promise<CpuSet> {
  const file = joinPath(cpuDir(sysRoot), "online");
  const text = await readSysfsFile(file, {
    hint: `Check that sysfs is mounted at ${sysRoot} ` +
      "(KCM_SYS_FS selects another root)",
  });
  const cpus = parseSysfsCpuList(file, text ?? "");
  if (cpus.isEmpty()) {
    throw new SysfsError(
      `Cannot use ${file}: ${JSON.stringify(text)} lists no CPU`,
    );
  }
  return cpus;
}

/**
 * The CPUs the kernel isolates from the scheduler's load balancing (the
 * `isolcpus=` boot parameter), from `<sysRoot>/devices/system/cpu/isolated`
 * (Linux 4.2 and later). A missing file and an empty one (the kernel
 * writes a lone newline) both mean none. The list may name offline CPUs;
 * callers intersect it with the topology.
 *
 * @throws {SysfsError} when the file cannot be read or is not a CPU list;
 * the message names the file and quotes what it held.
 */
export async function readIsolatedCpus(sysRoot: string): Promise<CpuSet> {
  const file = joinPath(cpuDir(sysRoot), "isolated");
  const text = await readSysfsFile(file, { optional: true });
  return text === undefined ? CpuSet.EMPTY : parseSysfsCpuList(file, text);
}

/** Maps each CPU listed by a `node<X>/cpulist` to X; empty without NUMA. */
async function readNumaNodes(sysRoot: string): Promise<Map<number, number>> {
  const nodeDir = joinPath(sysRoot, "devices", "system", "node");
  const nodes: number[] = [];
  try {
    for await (const entry of Deno.readDir(nodeDir)) {
      const match = /^node(0|[1-9][0-9]*)$/.exec(entry.name);
      if (match !== null && !entry.isFile) nodes.push(Number(match[1]));
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Map();
    const reason = error instanceof Error ? error.message : String(error);
    throw new SysfsError(`Cannot list ${nodeDir}: ${reason}`, 1, {
      cause: error,
    });
  }
  nodes.sort((a, b) => a - b);
  const lists = await Promise.all(nodes.map(async (node) => {
    const file = joinPath(nodeDir, `node${node}`, "cpulist");
    const text = await readSysfsFile(file);
    return { node, file, cpus: parseSysfsCpuList(file, text ?? "") };
  }));
  const nodeOf = new Map<number, number>();
  const fileOf = new Map<number, string>();
  for (const { node, file, cpus } of lists) {
    for (const cpu of cpus.toArray()) {
      const other = fileOf.get(cpu);
      if (other !== undefined) {
        throw new SysfsError(
          `CPU ${cpu} is listed by both ${other} and ${file}`,
        );
      }
      nodeOf.set(cpu, node);
      fileOf.set(cpu, file);
    }
  }
  return nodeOf;
}

/** The L3 id of CPU `cpu`, or null when it has no `cache/index3`. */
async function readL3Id(sysRoot: string, cpu: number): Promise<number | null> {
  const index3 = joinPath(cpuDir(sysRoot), `cpu${cpu}`, "cache", "index3");
  const idFile = joinPath(index3, "id");
  const id = await readSysfsFile(idFile, { optional: true });
  if (id !== undefined) return parseId(idFile, id, false);
  const sharedFile = joinPath(index3, "shared_cpu_list");
  const shared = await readSysfsFile(sharedFile, { optional: true });
  if (shared === undefined) return null;
  const lowest = parseSysfsCpuList(sharedFile, shared).toArray()[0];
  if (lowest === undefined) {
    throw new SysfsError(
      `Cannot use ${sharedFile}: ${JSON.stringify(shared)} lists no CPU`,
    );
  }
  return lowest;
}

async function readLogicalCpu(
  sysRoot: string,
  cpu: number,
  numaNodes: ReadonlyMap<number, number>,
): Promise<LogicalCpu> {
  const topologyDir = joinPath(cpuDir(sysRoot), `cpu${cpu}`, "topology");
  const readId = async (name: string, optional: boolean, unknown: boolean) => {
    const file = joinPath(topologyDir, name);
    const text = await readSysfsFile(file, { optional });
    if (text === undefined) return 0;
    // -1 means "not reported" (older arm64 and s390 kernels): one package
    // or one die, as when the file is missing.
    return Math.max(0, parseId(file, text, unknown));
  };
  const [packageId, dieId, coreId, l3Id] = await Promise.all([
    readId("physical_package_id", false, true),
    readId("die_id", true, true),
    readId("core_id", false, false),
    readL3Id(sysRoot, cpu),
  ]);
  return {
    id: cpu,
    packageId,
    dieId,
    coreId,
    numaNode: numaNodes.get(cpu) ?? null,
    l3Id,
  };
}

/**
 * Reads the topology of the online CPUs below `sysRoot` (normally `/sys`).
 *
 * @throws {SysfsError} naming the file that is missing or malformed.
 */
export async function readTopology(sysRoot: string): Promise<Topology> {
  const [online, numaNodes] = await Promise.all([
    readOnlineCpus(sysRoot),
    readNumaNodes(sysRoot),
  ]);
  const cpus = await Promise.all(
    online.toArray().map((cpu) => readLogicalCpu(sysRoot, cpu, numaNodes)),
  );
  return new Topology(cpus);
}
