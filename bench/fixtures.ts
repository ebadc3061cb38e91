/**
 * Builds what the benchmarks run against: config directories in the
 * reference layout (`lock`, `pools/<pool>/exclusive`,
 * `pools/<pool>/<list>/tasks`), written straight to disk without kcm's
 * fsyncs so that big ones build fast, and fake procfs trees of
 * `<pid>/status` files for pids that do not exist on this machine.
 */

import { join } from "node:path";
import { readIsolatedCpus, readTopology } from "../core/sysfs.ts";
import { TOPOLOGY_FILE } from "../core/record_document.ts";
import { formatTopologyRecord } from "../core/topology_record.ts";

/** One cpu list and the pids in its tasks file. */
export interface BenchList {
  readonly name: string;
  readonly tasks: readonly number[];
}

/** One pool. */
export interface BenchPool {
  readonly name: string;
  readonly exclusive: boolean;
  readonly lists: readonly BenchList[];
}

const BATCH = 256;

/** Runs `work` over `items`, `BATCH` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  work: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) {
    await Promise.all(items.slice(i, i + BATCH).map(work));
  }
}

/** Creates `confDir` (which must not exist) holding `pools`. */
export async function writeConfigDir(
  confDir: string,
  pools: readonly BenchPool[],
): Promise<void> {
  await Deno.mkdir(join(confDir, "pools"), { recursive: true });
  await Deno.writeTextFile(join(confDir, "lock"), "");
  for (const pool of pools) {
    const dir = join(confDir, "pools", pool.name);
    await Deno.mkdir(dir);
    await Deno.writeTextFile(
      join(dir, "exclusive"),
      pool.exclusive ? "1" : "0",
    );
    await inBatches(pool.lists, (list) => Deno.mkdir(join(dir, list.name)));
  }
  await writeTasksFiles(confDir, pools);
}

/**
 * Writes `<confDir>/topology.json` for the machine of `sysRoot` (default
 * this one), as `kcm init` would: what `isolate` reads on every run of a
 * directory init made.
 */
export async function writeTopologyRecord(
  confDir: string,
  sysRoot = "/sys",
): Promise<void> {
  const [topology, isolated] = await Promise.all([
    readTopology(sysRoot),
    readIsolatedCpus(sysRoot),
  ]);
  await Deno.writeTextFile(
    join(confDir, TOPOLOGY_FILE),
    formatTopologyRecord({ topology, isolated }),
  );
}

/** Rewrites every tasks file of `pools` (e.g. after reconcile trimmed them). */
export async function writeTasksFiles(
  confDir: string,
  pools: readonly BenchPool[],
): Promise<void> {
  for (const pool of pools) {
    await inBatches(pool.lists, (list) =>
      Deno.writeTextFile(
        join(confDir, "pools", pool.name, list.name, "tasks"),
        list.tasks.join(","),
      ));
  }
}

/** A `/proc/<pid>/status` text shaped like the kernel's, with the given mask. */
export function statusText(pid: number, cpusAllowedList: string): string {
  return [
    "Name:\tsleep",
    "Umask:\t0022",
    "State:\tS (sleeping)",
    `Tgid:\t${pid}`,
    "Ngid:\t0",
    `Pid:\t${pid}`,
    "PPid:\t1",
    "TracerPid:\t0",
    "Uid:\t0\t0\t0\t0",
    "Gid:\t0\t0\t0\t0",
    "FDSize:\t64",
    "Groups:\t0",
    `NStgid:\t${pid}`,
    `NSpid:\t${pid}`,
    `NSpgid:\t${pid}`,
    `NSsid:\t${pid}`,
    "Kthread:\t0",
    "VmPeak:\t    5624 kB",
    "VmSize:\t    5624 kB",
    "VmLck:\t       0 kB",
    "VmPin:\t       0 kB",
    "VmHWM:\t     968 kB",
    "VmRSS:\t     968 kB",
    "RssAnon:\t      88 kB",
    "RssFile:\t     880 kB",
    "RssShmem:\t       0 kB",
    "VmData:\t     360 kB",
    "VmStk:\t     132 kB",
    "VmExe:\t      20 kB",
    "VmLib:\t    1740 kB",
    "VmPTE:\t      48 kB",
    "VmSwap:\t       0 kB",
    "HugetlbPages:\t       0 kB",
    "CoreDumping:\t0",
    "THP_enabled:\t1",
    "untag_mask:\t0xffffffffffffffff",
    "Threads:\t1",
    "SigQ:\t0/95532",
    "SigPnd:\t0000000000000000",
    "ShdPnd:\t0000000000000000",
    "SigBlk:\t0000000000000000",
    "SigIgn:\t0000000000000000",
    "SigCgt:\t0000000000000000",
    "CapInh:\t0000000000000000",
    "CapPrm:\t000001ffffffffff",
    "CapEff:\t000001ffffffffff",
    "CapBnd:\t000001ffffffffff",
    "CapAmb:\t0000000000000000",
    "NoNewPrivs:\t0",
    "Seccomp:\t0",
    "Seccomp_filters:\t0",
    "Speculation_Store_Bypass:\tthread vulnerable",
    "SpeculationIndirectBranch:\tconditional enabled",
    "Cpus_allowed:\tffffffff",
    `Cpus_allowed_list:\t${cpusAllowedList}`,
    "Mems_allowed:\t00000000,00000001",
    "Mems_allowed_list:\t0",
    "voluntary_ctxt_switches:\t1",
    "nonvoluntary_ctxt_switches:\t0",
    "",
  ].join("\n");
}

/**
 * Creates a fake procfs at `procRoot`: a `<pid>/status` per live pid with
 * its `Cpus_allowed_list`. Pids not given have no directory: they are dead.
 */
export async function writeFakeProcfs(
  procRoot: string,
  live: ReadonlyMap<number, string>,
): Promise<void> {
  await Deno.mkdir(procRoot, { recursive: true });
  await inBatches([...live], async ([pid, cpus]) => {
    await Deno.mkdir(join(procRoot, String(pid)));
    await Deno.writeTextFile(
      join(procRoot, String(pid), "status"),
      statusText(pid, cpus),
    );
  });
}

/** A config and the procfs it is checked against. */
export interface ScaleFixture {
  readonly pools: readonly BenchPool[];
  /** Live pids and their `Cpus_allowed_list`. */
  readonly live: ReadonlyMap<number, string>;
  readonly taskCount: number;
}

/**
 * The reconcile fixture: `lists` single-CPU lists (CPU = index) split
 * between an exclusive pool `dataplane` and a shared pool `infra`, with
 * `tasksPerList` pids each, every other pid (by global index) dead; one
 * live pid in 20 has drifted to another CPU.
 */
export function reconcileFixture(
  lists: number,
  tasksPerList: number,
): ScaleFixture {
  const live = new Map<number, string>();
  const dataplane: BenchList[] = [], infra: BenchList[] = [];
  let index = 0;
  for (let k = 0; k < lists; k++) {
    const tasks: number[] = [];
    for (let j = 0; j < tasksPerList; j++, index++) {
      const pid = 100_000 + index;
      tasks.push(pid);
      if (index % 2 === 0) {
        live.set(pid, index % 40 === 0 ? String((k + 1) % lists) : String(k));
      }
    }
    (k < lists / 2 ? dataplane : infra).push({ name: String(k), tasks });
  }
  return {
    pools: [
      { name: "dataplane", exclusive: true, lists: dataplane },
      { name: "infra", exclusive: false, lists: infra },
    ],
    live,
    taskCount: index,
  };
}

/**
 * The node-report fixture, the same shape at every size: list `i` names
 * the single CPU `floor(2i/5)` (so 2 or 3 lists share each CPU: every
 * list overlaps another, and 20,000 lists stay below CPU 8192), spread
 * over five pools so names are unique per pool (pool `p0` exclusive).
 * Each list holds one live pid and one dead one; one live pid in ten has
 * drifted to another CPU.
 */
export function nodeReportFixture(lists: number): ScaleFixture {
  const pools: { name: string; exclusive: boolean; lists: BenchList[] }[] = [];
  for (let p = 0; p < 5; p++) {
    pools.push({ name: `p${p}`, exclusive: p === 0, lists: [] });
  }
  const live = new Map<number, string>();
  for (let i = 0; i < lists; i++) {
    const cpu = Math.floor((2 * i) / 5);
    const alive = 200_000 + 2 * i, dead = alive + 1;
    live.set(alive, i % 10 === 0 ? String(cpu + 1) : String(cpu));
    pools[i % 5]!.lists.push({ name: String(cpu), tasks: [alive, dead] });
  }
  return { pools, live, taskCount: 2 * lists };
}
