/**
 * Process facts from a procfs root (`KCM_PROC_FS`, default `/proc`; in a
 * pod the host's `/proc` mounted at `/host/proc`, so pids are host pids).
 *
 * Side effects: reads files below the procfs root it is given.
 */

import { joinPath } from "./paths.ts";
import { type CpuSet, parseCpuList } from "./cpuset.ts";
import { ProcfsError } from "./errors.ts";

function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  return error instanceof Error ? error.message : String(error);
}

/**
 * kcm's own pid as the procfs root sees it: the first field of
 * `<procRoot>/self/stat`.
 */
export async function readSelfPid(procRoot: string): Promise<number> {
  const file = joinPath(procRoot, "self", "stat");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new ProcfsError(`Cannot read "${file}": ${reason(error)}`, 1, {
      cause: error,
      hint: "set KCM_PROC_FS to a mounted procfs (default /proc)",
    });
  }
  const pid = Number(text.split(" ", 1)[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new ProcfsError(`Cannot parse a pid from "${file}"`);
  }
  return pid;
}

/** True when `<procRoot>/<pid>` exists. */
export async function isPidAlive(
  procRoot: string,
  pid: number,
): Promise<boolean> {
  try {
    await Deno.lstat(joinPath(procRoot, String(pid)));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new ProcfsError(
      `Cannot check "${joinPath(procRoot, String(pid))}": ${reason(error)}`,
      1,
      { cause: error },
    );
  }
}

/**
 * Parses the `Cpus_allowed_list` line of a `/proc/<pid>/status` text;
 * undefined when the line is absent.
 */
export function parseCpusAllowed(status: string): CpuSet | undefined {
  for (const line of status.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== "Cpus_allowed_list") {
      continue;
    }
    return parseCpuList(line.slice(colon + 1).trim());
  }
  return undefined;
}

/**
 * The CPUs a live process may run on, from `<procRoot>/<pid>/status`;
 * undefined when the process is gone (it may exit while we look).
 */
export async function readCpusAllowed(
  procRoot: string,
  pid: number,
): Promise<CpuSet | undefined> {
  const file = joinPath(procRoot, String(pid), "status");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ProcfsError(`Cannot read "${file}": ${reason(error)}`, 1, {
      cause: error,
    });
  }
  let cpus: CpuSet | undefined;
  try {
    cpus = parseCpusAllowed(text);
  } catch (error) {
    throw new ProcfsError(
      `Cannot parse Cpus_allowed_list in "${file}": ${reason(error)}`,
      1,
      { cause: error },
    );
  }
  if (cpus === undefined) {
    throw new ProcfsError(`No Cpus_allowed_list line in "${file}"`);
  }
  return cpus;
}

/**
 * Looks up every pid: its allowed CPUs when alive, null when gone.
 * Runs the look-ups a batch at a time so that big configs stay fast.
 */
export async function observePids(
  procRoot: string,
  pids: readonly number[],
): Promise<Map<number, CpuSet | null>> {
  const observed = new Map<number, CpuSet | null>();
  const batch = 64;
  for (let i = 0; i < pids.length; i += batch) {
    await Promise.all(
      pids.slice(i, i + batch).map(async (pid) => {
        const alive = await isPidAlive(procRoot, pid);
        observed.set(
          pid,
          alive ? (await readCpusAllowed(procRoot, pid)) ?? null : null,
        );
      }),
    );
  }
  return observed;
}
