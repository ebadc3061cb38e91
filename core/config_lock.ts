/**
 * The config directory's lock: flock(2) on `<conf-dir>/lock`, exclusive for
 * writers, shared for readers, with a timeout that names the holder.
 *
 * Side effects: opens the lock file (read-write for writers, read-only for
 * readers, so readers work on a read-only mount), takes and drops flock(2)
 * locks on it, and reads `/proc/locks` (or the file given) to name the
 * holder of a lock it timed out on.
 */

import { lockPath } from "./config_paths.ts";
import {
  abortReason,
  ConfigError,
  LockTimeoutError,
  osErrorReason,
} from "./errors.ts";
import { quote } from "./quote.ts";

/** How the lock is taken. */
export interface LockOptions {
  /** Give up after this many milliseconds of waiting. */
  readonly timeoutMs: number;
  /** Where to look up the holder's pid; default `/proc/locks`. */
  readonly locksFile?: string;
  /**
   * Ends a wait for a busy lock at once when it aborts (the call rejects
   * with its reason); see {@linkcode lockConfig} for the thread left behind.
   */
  readonly signal?: AbortSignal;
}

/** A held lock; releasing it twice is harmless. */
export interface HeldLock extends AsyncDisposable {
  release(): Promise<void>;
}

/**
 * The pid holding a flock on `lockFile`, from the `/proc/locks` format
 * (`1: FLOCK  ADVISORY  WRITE 8538 fe:00:9978067 0 EOF`); undefined when it
 * cannot be told. Best effort: the holder is a hint, not a requirement.
 */
function findLockHolder(
  lockFile: string,
  locksFile: string,
): string | undefined {
  try {
    const { ino } = Deno.statSync(lockFile);
    if (ino === null) return undefined;
    for (const line of Deno.readTextFileSync(locksFile).split("\n")) {
      const fields = line.trim().split(/\s+/);
      if (fields[1] === "FLOCK" && fields[5]?.endsWith(`:${ino}`)) {
        return fields[4];
      }
    }
  } catch {
    // No /proc/locks, or the lock file vanished: no holder to name.
  }
  return undefined;
}

function openLockFile(lockFile: string, exclusive: boolean): Deno.FsFile {
  try {
    return Deno.openSync(lockFile, { read: true, write: exclusive });
  } catch (error) {
    throw new ConfigError(
      `Cannot open lock file ${quote(lockFile)}: ${osErrorReason(error)}`,
      1,
      {
        cause: error,
        hint: error instanceof Deno.errors.NotFound
          ? "run `kcm init` to create the config directory"
          : undefined,
      },
    );
  }
}

/**
 * Takes the config lock: `exclusive` on a read-write descriptor for
 * writers, shared on a read-only one for readers (so a read-only mount
 * works). Waits at most `timeoutMs`.
 *
 * A free lock is taken without leaving the thread (`LOCK_NB`). A busy one
 * is waited for with a blocking flock(2) on Deno's thread pool, so the
 * kernel wakes kcm the moment the holder lets go; polling instead cost a
 * third of the throughput of 20 concurrent isolates (bench/README.md). A
 * wait that times out or is aborted by `signal` (SIGTERM in a loop) cannot
 * be cancelled: the blocking flock(2) stays on its thread, its descriptor
 * is closed when it returns, and a kcm that gives up exits long before
 * that (exiting drops the descriptor, so the lock is never held on).
 */
export async function lockConfig(
  confDir: string,
  exclusive: boolean,
  options: LockOptions,
): Promise<HeldLock> {
  const lockFile = lockPath(confDir);
  const file = openLockFile(lockFile, exclusive);
  if (!file.tryLockSync(exclusive)) {
    const { signal } = options;
    if (signal?.aborted) {
      file.close();
      throw abortReason(signal);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const timedOut = new Promise<"timeout" | "aborted">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
      onAbort = () => resolve("aborted");
      signal?.addEventListener("abort", onAbort);
    });
    const locked = file.lock(exclusive).then(() => true, () => false);
    const ok = await Promise.race([locked, timedOut]);
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort!);
    if (ok !== true) {
      locked.finally(() => file.close());
      if (ok === "aborted") throw abortReason(signal);
      const holder = findLockHolder(
        lockFile,
        options.locksFile ?? "/proc/locks",
      );
      throw new LockTimeoutError(
        `Timed out after ${options.timeoutMs / 1000} s waiting for lock ${
          quote(lockFile)
        }${holder ? ` (held by pid ${holder})` : ""}`,
        1,
        { hint: "raise KCM_LOCK_TIMEOUT or find the process holding it" },
      );
    }
  }
  let released = false;
  const release = () => {
    if (!released) {
      released = true;
      file.close(); // closing the last descriptor drops the flock
    }
    return Promise.resolve();
  };
  return { release, [Symbol.asyncDispose]: release };
}

/** Runs `fn` while holding the config lock, and drops the lock after. */
export async function withConfigLock<T>(
  confDir: string,
  exclusive: boolean,
  options: LockOptions,
  fn: () => T | Promise<T>,
): Promise<T> {
  await using _lock = await lockConfig(confDir, exclusive, options);
  return await fn();
}
