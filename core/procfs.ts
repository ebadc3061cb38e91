/**
 * Process facts from a procfs root (`KCM_PROC_FS`, default `/proc`; in a
 * pod the host's `/proc` mounted at `/host/proc`, so pids are host pids).
 *
 * Side effects: reads files below the procfs root it is given.
 */

import { joinPath } from "./paths.ts";
import { type CpuSet, parseCpuList } from "./cpuset.ts";
import { osErrorCode, osErrorReason, ProcfsError } from "./errors.ts";
import { quote } from "./quote.ts";

/**
 * kcm's own procfs, whatever `KCM_PROC_FS` says: the pids of kcm's children
 * and thread ids of kcm's threads belong to kcm's pid namespace, which in a
 * pod is not the host's.
 */
export const OWN_PROC_ROOT = "/proc";

/**
 * The text of a procfs file, or a `ProcfsError` naming it (with `hint`,
 * when given). Synchronous: procfs answers from kernel memory.
 */
export function readProcFile(file: string, hint?: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (error) {
    throw new ProcfsError(
      `Cannot read ${quote(file)}: ${osErrorReason(error)}`,
      1,
      { cause: error, ...(hint === undefined ? {} : { hint }) },
    );
  }
}

/**
 * Parses the `Cpus_allowed_list` line of a `/proc/<pid>/status` text;
 * undefined when the line is absent.
 */
function parseCpusAllowed(status: string): CpuSet | undefined {
  const key = "Cpus_allowed_list";
  for (
    let at = status.indexOf(key);
    at >= 0;
    at = status.indexOf(key, at + 1)
  ) {
    if (at > 0 && status[at - 1] !== "\n") continue;
    const end = status.indexOf("\n", at);
    const line = status.slice(at + key.length, end < 0 ? undefined : end);
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== "") continue;
    return parseCpuList(line.slice(colon + 1).trim());
  }
  return undefined;
}

/**
 * The CPUs a process may run on, from `<procRoot>/<pid>/status`, or null
 * when `<procRoot>/<pid>` does not exist: the process is gone (it may also
 * exit while we look).
 *
 * Synchronous: procfs answers from kernel memory, and one thread-pool round
 * trip per pid dominated reconcile's time on big configs.
 */
export function readCpusAllowed(procRoot: string, pid: number): CpuSet | null {
  const dir = joinPath(procRoot, String(pid));
  const file = joinPath(dir, "status");
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    // ESRCH: the process ended between the open and the read. Deno gives
    // that errno no class nor code, only its number in the message.
    if (
      osErrorCode(error) === "ESRCH" ||
      (error instanceof Error && error.message.includes("(os error 3)"))
    ) return null;
    if (error instanceof Deno.errors.NotFound && !exists(dir)) return null;
    throw new ProcfsError(
      `Cannot read ${quote(file)}: ${osErrorReason(error)}`,
      1,
      {
        cause: error,
      },
    );
  }
  let cpus: CpuSet | undefined;
  try {
    cpus = parseCpusAllowed(text);
  } catch (error) {
    throw new ProcfsError(
      `Cannot parse Cpus_allowed_list in ${quote(file)}: ${
        osErrorReason(error)
      }`,
      1,
      { cause: error },
    );
  }
  if (cpus === undefined) {
    throw new ProcfsError(`No Cpus_allowed_list line in ${quote(file)}`);
  }
  return cpus;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new ProcfsError(
      `Cannot check ${quote(path)}: ${osErrorReason(error)}`,
      1,
      {
        cause: error,
      },
    );
  }
}

/** The pids that have an entry in the procfs root. */
function listPids(procRoot: string): Set<number> {
  const pids = new Set<number>();
  try {
    for (const entry of Deno.readDirSync(procRoot)) {
      if (/^[1-9][0-9]*$/.test(entry.name)) pids.add(Number(entry.name));
    }
  } catch (error) {
    throw new ProcfsError(
      `Cannot list ${quote(procRoot)}: ${osErrorReason(error)}`,
      1,
      {
        cause: error,
        hint: "set KCM_PROC_FS to a mounted procfs (default /proc)",
      },
    );
  }
  return pids;
}

/**
 * Looks up every pid: its allowed CPUs when alive, null when gone. One
 * listing of the procfs root tells the dead apart, so a dead pid costs no
 * failed system call (and no thrown error, which is what made thousands
 * of dead pids slow).
 */
export function observePids(
  procRoot: string,
  pids: readonly number[],
): Map<number, CpuSet | null> {
  const observed = new Map<number, CpuSet | null>();
  if (pids.length === 0) return observed;
  const present = listPids(procRoot);
  for (const pid of pids) {
    observed.set(pid, present.has(pid) ? readCpusAllowed(procRoot, pid) : null);
  }
  return observed;
}

/**
 * `HugePages_Free` from `<procRoot>/meminfo`; undefined when the line is
 * absent (a kernel without hugetlbfs).
 */
export function readHugePagesFree(procRoot: string): number | undefined {
  const text = readProcFile(joinPath(procRoot, "meminfo"));
  const line = text.split("\n").find((l) => l.startsWith("HugePages_Free"));
  return line === undefined ? undefined : Number(line.split(":")[1]?.trim());
}
