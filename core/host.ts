/**
 * The one place that wires kcm to the real machine: environment, stdout,
 * stderr, the procfs and sysfs roots, the clock and the termination signal.
 * Commands receive a {@linkcode Host} and never reach for globals, so tests
 * can point every root at fixtures.
 */

import { UsageError } from "./errors.ts";
import { createLogger, type Logger, parseLevel } from "./log.ts";
import { type Clock, MAX_TIMER_MS } from "./poll.ts";
import { quote } from "./quote.ts";

/** Everything a command may touch outside its own arguments. */
export interface Host {
  /** The process environment, read once at start-up. */
  readonly env: Readonly<Record<string, string>>;
  /** `KCM_PROC_FS`, default `/proc`. */
  readonly procRoot: string;
  /** `KCM_SYS_FS`, default `/sys`. */
  readonly sysRoot: string;
  /** `KCM_LOCK_TIMEOUT` in milliseconds, default 30 s. */
  readonly lockTimeoutMs: number;
  /** Leveled logging to stderr. */
  readonly log: Logger;
  /** Writes machine-readable output to stdout, completely. */
  write(text: string): Promise<void>;
  /** The current time. */
  now(): Date;
  /**
   * Monotonic time and sleeping, for every retry, poll and `--interval`
   * wait (see core/poll.ts); tests give a fake one.
   */
  readonly clock: Clock;
  /** This machine's host name. */
  hostname(): string;
  /**
   * Starts listening for SIGTERM and SIGINT and returns a signal aborted
   * when one arrives, so a loop (`--interval`) can end between iterations.
   * Until this is called those signals keep their default action.
   */
  stopSignal(): AbortSignal;
}

const encoder = new TextEncoder();

/** Writes all of `text` to a Deno writer, looping over short writes. */
export async function writeAll(
  writer: { write(p: Uint8Array): Promise<number> },
  text: string,
): Promise<void> {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) {
    const n = await writer.write(bytes);
    bytes = bytes.subarray(n);
  }
}

/**
 * The real {@linkcode Clock}: `performance.now()` and `setTimeout`. A
 * sleep cut short by its signal resolves early and clears its timer.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done);
    });
  },
};

/**
 * Parses `KCM_LOCK_TIMEOUT` (seconds, may be fractional) to milliseconds,
 * at most what a timer can wait.
 */
export function parseLockTimeout(text: string | undefined): number {
  if (text === undefined || text === "") return 30_000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0 || text.trim() !== text) {
    throw new UsageError(
      `KCM_LOCK_TIMEOUT must be a number of seconds, got ${quote(text)}`,
    );
  }
  if (seconds * 1000 > MAX_TIMER_MS) {
    throw new UsageError(
      `KCM_LOCK_TIMEOUT must be at most ${
        MAX_TIMER_MS / 1000
      } seconds (the longest a timer waits), got ${quote(text)}`,
    );
  }
  return seconds * 1000;
}

/** Builds the real host from an environment snapshot. */
export function createHost(env: Readonly<Record<string, string>>): Host {
  const levelText = env.KCM_LOG_LEVEL ?? "INFO";
  const level = parseLevel(levelText);
  if (level === undefined) {
    throw new UsageError(
      `KCM_LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, got ${
        quote(levelText)
      }`,
    );
  }
  const log = createLogger(level, (line) => {
    let bytes = encoder.encode(line);
    while (bytes.length > 0) {
      bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
    }
  });
  let stop: AbortController | undefined;
  return {
    env,
    procRoot: env.KCM_PROC_FS || "/proc",
    sysRoot: env.KCM_SYS_FS || "/sys",
    lockTimeoutMs: parseLockTimeout(env.KCM_LOCK_TIMEOUT),
    log,
    write: (text) => writeAll(Deno.stdout, text),
    now: () => new Date(),
    clock: systemClock,
    hostname: () => Deno.hostname(),
    stopSignal() {
      if (stop === undefined) {
        const controller = stop = new AbortController();
        for (const signal of ["SIGTERM", "SIGINT"] as const) {
          Deno.addSignalListener(signal, () => controller.abort(signal));
        }
      }
      return stop.signal;
    },
  };
}
