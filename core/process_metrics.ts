/**
 * What a kcm daemon reports about its own process for the metrics
 * endpoint: resident memory and CPU time from procfs, start time from
 * procfs and the boot time, and V8's heap from the runtime.
 *
 * Side effects: reads `<procRoot>/self/status`, `<procRoot>/self/stat` and
 * `<procRoot>/stat`; calls `Deno.memoryUsage()`. The parsers are pure.
 */

import type { ProcessSample } from "./kcm_metrics.ts";
import { osErrorReason, ProcfsError } from "./errors.ts";
import { quote } from "./quote.ts";

/** `sysconf(_SC_CLK_TCK)`: 100 on every Linux architecture Deno supports. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of `/proc/<pid>/stat` the metrics use, in clock ticks. */
export interface StatTimes {
  readonly userTicks: number;
  readonly systemTicks: number;
  /** Start time after boot. */
  readonly startTicks: number;
}

/**
 * Reads utime (field 14), stime (15) and starttime (22) of a
 * `/proc/<pid>/stat` line (proc(5)); the command name in parentheses may
 * hold spaces and parentheses, so fields are counted after the last `)`.
 *
 * @example
 * ```ts
 * import { parseStatTimes } from "./process_metrics.ts";
 * import assert from "node:assert/strict";
 * const line = "42 (de no) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 4 0 12345 0 0";
 * assert.deepEqual(parseStatTimes(line), { userTicks: 150, systemTicks: 25, startTicks: 12345 });
 * ```
 */
export function parseStatTimes(text: string): StatTimes | undefined {
  const end = text.lastIndexOf(")");
  if (end === -1) return undefined;
  // After ") ": field 3 (state) is index 0, so field n is index n - 3.
  const fields = text.slice(end + 2).trim().split(/\s+/);
  const field = (n: number) => Number(fields[n - 3]);
  const times = {
    userTicks: field(14),
    systemTicks: field(15),
    startTicks: field(22),
  };
  return Object.values(times).every(Number.isFinite) ? times : undefined;
}

/** The `VmRSS` line of `/proc/<pid>/status` in bytes. */
export function parseResidentBytes(status: string): number | undefined {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** The `btime` line of `/proc/stat`: boot time in seconds since the epoch. */
export function parseBootTime(stat: string): number | undefined {
  const match = /^btime (\d+)$/m.exec(stat);
  return match ? Number(match[1]) : undefined;
}

async function read(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    throw new ProcfsError(
      `Cannot read ${quote(path)}: ${osErrorReason(cause)}`,
      1,
      {
        cause,
      },
    );
  }
}

/** Samples this process; throws {@linkcode ProcfsError} naming the file that failed. */
export async function readProcessSample(
  procRoot = "/proc",
): Promise<ProcessSample> {
  const paths = {
    status: `${procRoot}/self/status`,
    stat: `${procRoot}/self/stat`,
    boot: `${procRoot}/stat`,
  };
  // Settle all three, then report the first failure in this order, so the
  // error names the same file whichever read finished first.
  const settled = await Promise.allSettled([
    read(paths.status),
    read(paths.stat),
    read(paths.boot),
  ]);
  const [status, stat, boot] = settled.map((result) => {
    if (result.status === "rejected") throw result.reason;
    return result.value;
  }) as [string, string, string];
  const residentBytes = parseResidentBytes(status);
  const times = parseStatTimes(stat);
  const bootTime = parseBootTime(boot);
  const bad = residentBytes === undefined
    ? paths.status
    : times === undefined
    ? paths.stat
    : bootTime === undefined
    ? paths.boot
    : undefined;
  if (bad !== undefined) {
    throw new ProcfsError(`Cannot parse ${quote(bad)}`);
  }
  const memory = Deno.memoryUsage();
  return {
    residentBytes: residentBytes!,
    cpuSeconds: (times!.userTicks + times!.systemTicks) /
      CLOCK_TICKS_PER_SECOND,
    startTimeSeconds: bootTime! + times!.startTicks / CLOCK_TICKS_PER_SECOND,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
  };
}
