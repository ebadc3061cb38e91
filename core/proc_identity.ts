/**
 * Who a process is, beyond its pid: its start time (clock ticks after
 * boot, field 22 of `/proc/<pid>/stat`), so that a pid that died and was
 * reused by an unrelated process is told apart from the process kcm
 * recorded; and which pid namespace the procfs kcm records pids from
 * belongs to.
 *
 * Side effects: reads below the procfs root it is given, and kcm's own
 * `/proc/self/ns/pid`.
 */

import { joinPath } from "./paths.ts";
import { ProcfsError } from "./errors.ts";
import { OWN_PROC_ROOT, readProcFile } from "./procfs.ts";
import { quote } from "./quote.ts";

/** A process as kcm records it: pid and start time, in one procfs. */
export interface ProcessId {
  readonly pid: number;
  /** Start time in clock ticks after boot (`/proc/<pid>/stat` field 22). */
  readonly start: number;
}

/**
 * The pid (field 1) and start time (field 22) of a `/proc/<pid>/stat`
 * text; undefined when it does not parse. The command name (field 2) may
 * hold spaces and parentheses, so fields are counted after its last `)`.
 *
 * @example
 * ```ts
 * import { parseStat } from "./proc_identity.ts";
 * import assert from "node:assert/strict";
 * const stat = "42 (a) b) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9876 0";
 * assert.deepEqual(parseStat(stat), { pid: 42, start: 9876 });
 * ```
 */
export function parseStat(text: string): ProcessId | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(" ")));
  // Fields from 3 (state) on; field 22 is the 20th of them.
  const start = Number(text.slice(close + 2).split(" ")[19]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (!Number.isSafeInteger(start) || start < 0) return undefined;
  return { pid, start };
}

/**
 * kcm's own pid and start time as the procfs root sees them (the host's
 * when the host's /proc is mounted there), from `<procRoot>/self/stat`.
 */
export function readSelfIdentity(procRoot: string): ProcessId {
  const file = joinPath(procRoot, "self", "stat");
  const text = readProcFile(
    file,
    "set KCM_PROC_FS to a mounted procfs (default /proc)",
  );
  const self = parseStat(text);
  if (self === undefined) {
    throw new ProcfsError(
      `Cannot parse a pid and start time from ${quote(file)}`,
    );
  }
  return self;
}

/**
 * True when a `/proc/<pid>/stat` text shows a process that has exited
 * (state `Z`, a zombie its parent has not reaped, or `X`): it runs on no
 * CPU and holds no descriptor any more.
 */
export function hasExited(text: string): boolean {
  const state = text.charAt(text.lastIndexOf(")") + 2);
  return state === "Z" || state === "X";
}

/**
 * The start time of `pid` in the procfs root, or null when the process is
 * gone or has exited (a zombie), or its stat cannot be read or parsed:
 * then it cannot be shown to be the process recorded either.
 */
export function readStartTime(procRoot: string, pid: number): number | null {
  try {
    const text = Deno.readTextFileSync(joinPath(procRoot, String(pid), "stat"));
    return hasExited(text) ? null : parseStat(text)?.start ?? null;
  } catch {
    return null;
  }
}

/**
 * The `NSpid` line of `<procRoot>/<who>/status`: the process's pid in the
 * procfs's pid namespace first, then in each nested one down to its own;
 * undefined when there is no such file or line.
 */
export function readNsPids(
  procRoot: string,
  who: string,
): number[] | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(joinPath(procRoot, who, "status"));
  } catch {
    return undefined;
  }
  const line = text.split("\n").find((l) => l.startsWith("NSpid:"));
  if (line === undefined) return undefined;
  return line.slice("NSpid:".length).trim().split(/\s+/).map(Number);
}

/** The initial pid namespace's inode number (fixed by the kernel since 3.8). */
const INIT_PID_NAMESPACE = "pid:[4026531836]";

/**
 * Why pids read from `procRoot` cannot be shared with other containers, or
 * undefined when they can: kcm runs in a pid namespace other than the
 * host's, and `procRoot` is that namespace's own procfs (its `self` has
 * one pid only), so two containers would both record, say, pid 1.
 * Unknown answers (no `/proc/self/ns/pid`, no `NSpid` line) are taken as
 * fine: they occur only on kernels older than kcm supports, or fixtures.
 */
export function ownNamespaceProblem(procRoot: string): string | undefined {
  let namespace: string;
  try {
    namespace = Deno.readLinkSync(joinPath(OWN_PROC_ROOT, "self/ns/pid"));
  } catch {
    return undefined;
  }
  if (namespace === INIT_PID_NAMESPACE) return undefined;
  const pids = readNsPids(procRoot, "self");
  if (pids === undefined || pids.length !== 1) return undefined;
  return `KCM_PROC_FS ${
    quote(procRoot)
  } is the procfs of kcm's own pid namespace (${namespace}, where kcm is pid ${
    pids[0]
  }), not the host's: pids recorded from it clash with other containers'`;
}

/**
 * The pid, in the procfs root, of kcm's child whose pid in kcm's own
 * namespace is `nsPid`; `selfPid` is kcm's pid in that procfs. When both
 * namespaces are one (the pids agree, and the procfs does not show a
 * second level), that is `nsPid` itself; otherwise it is looked up
 * among kcm's children (`<procRoot>/<selfPid>/task/<tid>/children`) by
 * the last entry of their `NSpid`. Undefined when it cannot be found (the
 * child is gone, or the procfs has no such files).
 */
export function findChildPid(
  procRoot: string,
  selfPid: number,
  nsPid: number,
): number | undefined {
  if (
    selfPid === Deno.pid && (readNsPids(procRoot, "self")?.length ?? 1) <= 1
  ) {
    return nsPid;
  }
  const tasks = joinPath(procRoot, String(selfPid), "task");
  try {
    for (const task of Deno.readDirSync(tasks)) {
      const text = Deno.readTextFileSync(
        joinPath(tasks, task.name, "children"),
      );
      for (const word of text.split(" ")) {
        if (word.trim() === "") continue;
        const pids = readNsPids(procRoot, word.trim());
        if (pids !== undefined && pids[pids.length - 1] === nsPid) {
          return Number(word);
        }
      }
    }
  } catch {
    // No such procfs files: the child's pid there stays unknown.
  }
  return undefined;
}

/** The start time of each of `pids` (null for the ones that are gone). */
export function readStartTimes(
  procRoot: string,
  pids: readonly number[],
): Map<number, number | null> {
  return new Map(pids.map((pid) => [pid, readStartTime(procRoot, pid)]));
}

/**
 * The pid and start time, in the procfs root, of kcm's child whose pid in
 * kcm's own namespace is `nsPid` (see {@linkcode findChildPid}); undefined
 * when it cannot be found or is gone.
 */
export function findChildIdentity(
  procRoot: string,
  selfPid: number,
  nsPid: number,
): ProcessId | undefined {
  const pid = findChildPid(procRoot, selfPid, nsPid);
  if (pid === undefined) return undefined;
  const start = readStartTime(procRoot, pid);
  return start === null ? undefined : { pid, start };
}
