/**
 * The config directory's lock: flock(2) on `<conf-dir>/lock`, exclusive for
 * writers, shared for readers, with a timeout that names the holder.
 *
 * flock(2) needs only an open descriptor, of any access mode: whoever can
 * open the lock file can hold it and stall every writer. So `init` makes it
 * 0600 (core/config_create.ts), a writer narrows a looser one it owns to
 * 0600 (directories made before, or by hand), and a reader that may not open it (a user
 * other than root) reads without it: every kcm write is an atomic rename,
 * so each file it reads is whole; only a set of files changed by one
 * writer may be seen half way (a claim's `tasks` without its `owners`).
 * The reader is told, through `onUnlocked`. Writers never go without.
 *
 * The lock file must be a regular file: a link is never followed, and a
 * FIFO (whose open would block) is refused.
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
  /**
   * Readers only: called, with the reason, when the lock file may not be
   * opened (permission denied) and the reader goes on without the lock.
   * Without it, that is an error as for writers.
   */
  readonly onUnlocked?: (reason: string) => void;
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

/**
 * A writer narrows a lock file others may open (one made by an older
 * `init`, or by hand) to 0600, so that from now on no one else can open
 * it to hold it. Best effort: a file kcm does not own is left as it is.
 */
function narrowLockMode(lockFile: string, info: Deno.FileInfo): void {
  if (info.mode === null || (info.mode & 0o077) === 0) return;
  if (info.uid !== Deno.uid()) return;
  try {
    Deno.chmodSync(lockFile, 0o600);
  } catch {
    // A read-only mount: nothing kcm can do about the mode there.
  }
}

function openLockFile(lockFile: string, exclusive: boolean): Deno.FsFile {
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.lstatSync(lockFile);
  } catch {
    // Missing: the open below says so.
  }
  if (info !== undefined && !info.isFile) {
    throw new ConfigError(
      `Cannot open lock file ${quote(lockFile)}: ${
        info.isSymlink
          ? "it is a symbolic link, and kcm follows none inside the config directory"
          : "it is not a regular file"
      }`,
    );
  }
  try {
    const file = Deno.openSync(lockFile, { read: true, write: exclusive });
    if (exclusive && info !== undefined) narrowLockMode(lockFile, info);
    return file;
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
  let file: Deno.FsFile;
  try {
    file = openLockFile(lockFile, exclusive);
  } catch (error) {
    const denied = error instanceof ConfigError &&
      error.cause instanceof Deno.errors.PermissionDenied;
    if (exclusive || !denied || options.onUnlocked === undefined) throw error;
    options.onUnlocked(error.message);
    const nothing = () => Promise.resolve();
    return { release: nothing, [Symbol.asyncDispose]: nothing };
  }
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
