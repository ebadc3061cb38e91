/**
 * CPU affinity through libc's sched_setaffinity(2) over Deno FFI. The
 * library is opened on first use, never at import, so only commands that
 * pin pay for it.
 *
 * Side effects: opens libc (core/libc.ts), changes the CPU mask of this process's threads,
 * reads `/proc/self/task` (the real procfs: thread ids live in our own pid
 * namespace).
 */

import { type CpuSet, MAX_CPU_ID } from "./cpuset.ts";
import { AffinityError, errorMessage } from "./errors.ts";
import { ERRNO, errnoName, lastErrno, type Libc, libc } from "./libc.ts";

function openLibc(): Libc {
  try {
    return libc();
  } catch (error) {
    throw new AffinityError(
      `Cannot open libc.so.6 for sched_setaffinity: ${errorMessage(error)}`,
      undefined,
      { cause: error, hint: "run with --no-affinity to skip pinning" },
    );
  }
}

/** errno values sched_setaffinity(2) documents. */
const { EPERM, ESRCH, EINVAL } = ERRNO;

function check(lib: Libc, rc: number, action: string): void {
  if (rc === 0) return;
  const errno = lastErrno(lib);
  const name = errnoName(errno);
  const why = errno === EINVAL
    ? " (no CPU of the set is online and allowed for kcm)"
    : errno === EPERM
    ? " (not permitted)"
    : "";
  throw new AffinityError(`${action} failed: ${name}${why}`, errno);
}

const MASK_BYTES = (MAX_CPU_ID + 1) / 8;

/** Sets the CPU mask of one thread (`tid` 0 = the calling thread). */
export function setThreadAffinity(tid: number, cpus: CpuSet): void {
  const lib = openLibc();
  const mask = new Uint8Array(MASK_BYTES);
  for (const cpu of cpus.toArray()) mask[cpu >> 3]! |= 1 << (cpu & 7);
  check(
    lib,
    lib.sched_setaffinity(tid, BigInt(MASK_BYTES), mask),
    `sched_setaffinity(${tid}, ${cpus})`,
  );
}

function listThreads(): number[] {
  const tids: number[] = [];
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    tids.push(Number(entry.name));
  }
  return tids.sort((a, b) => a - b);
}

/**
 * Pins every thread of this process to `cpus`.
 *
 * sched_setaffinity(0) changes one thread only, and Deno starts children
 * from whichever thread runs the spawn, so every thread must carry the
 * mask a child is to inherit. Threads started later inherit it from their
 * (pinned) creator; the loop repeats until no new thread shows up. A
 * thread that exits while we walk the list is skipped.
 */
export function pinProcess(cpus: CpuSet): void {
  const done = new Set<number>();
  for (let round = 0; round < 10; round++) {
    const fresh = listThreads().filter((tid) => !done.has(tid));
    if (fresh.length === 0) return;
    for (const tid of fresh) {
      try {
        setThreadAffinity(tid, cpus);
      } catch (error) {
        if (error instanceof AffinityError && error.errno === ESRCH) continue;
        throw error;
      }
      done.add(tid);
    }
  }
}
