/**
 * The kcm config directory (`<conf-dir>/lock`, `pools/<pool>/exclusive`,
 * `pools/<pool>/<cpulist>/tasks`), read and written exactly as the
 * reference laid it out, so old and new binaries can share a node.
 *
 * Side effects: reads and writes below the directory it is given, takes
 * `flock(2)` locks on `<conf-dir>/lock`, and reads `/proc/locks` (or the
 * file given) to name a lock holder. Every write goes through a temporary
 * file, fsync, rename and an fsync of the directory.
 *
 * Reads and writes are synchronous on purpose: they touch a few small
 * local files while kcm holds the lock with nothing else to do, and a
 * thread-pool round trip per file was most of `isolate`'s and
 * `reconcile`'s own time (bench/README.md). Only the wait for the lock
 * yields to the event loop.
 */

import { baseName, dirName, joinPath, normalizePath } from "./paths.ts";
import { parseCpuList } from "./cpuset.ts";
import { abortReason, ConfigError, LockTimeoutError } from "./errors.ts";

/** One cpu list: its directory name (verbatim) and the pids in `tasks`. */
export interface CpuListState {
  readonly name: string;
  readonly tasks: readonly number[];
}

/** One pool and its cpu lists, in name order. */
export interface PoolState {
  readonly name: string;
  readonly exclusive: boolean;
  readonly cpuLists: readonly CpuListState[];
}

/** A snapshot of a whole config directory. */
export interface ConfigState {
  /** The directory as given, normalised (not made absolute). */
  readonly path: string;
  /** Pools in name order. */
  readonly pools: readonly PoolState[];
}

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

/** Name of the lock file inside the config directory. */
export const LOCK_FILE = "lock";
const TEMP_MARK = ".kcm-tmp-";
const INIT_MARK = ".kcm-init-";

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotADirectory) return "not a directory";
  return error instanceof Error ? error.message : String(error);
}

/** The path of a pool's directory. */
export function poolPath(confDir: string, pool: string): string {
  return joinPath(confDir, "pools", pool);
}

/** The path of a cpu list's `tasks` file. */
export function tasksPath(confDir: string, pool: string, list: string): string {
  return joinPath(confDir, "pools", pool, list, "tasks");
}

/**
 * Parses the text of a `tasks` file: comma-separated pids, empty pieces
 * skipped, white space around pieces and a trailing newline tolerated.
 * `file` is only used in the error message.
 *
 * @example
 * ```ts
 * import { parseTasks } from "./config_dir.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseTasks("1000,1001\n", "tasks"), [1000, 1001]);
 * ```
 */
export function parseTasks(text: string, file: string): number[] {
  const pids: number[] = [];
  for (const piece of text.trimEnd().split(",")) {
    if (piece === "") continue;
    const trimmed = piece.trim();
    if (!/^[0-9]{1,10}$/.test(trimmed) || Number(trimmed) === 0) {
      throw new ConfigError(
        `Cannot parse tasks file "${file}": "${piece}" is not a pid`,
      );
    }
    pids.push(Number(trimmed));
  }
  return pids;
}

/** Lists the sub-directories of `dir`, sorted by name (code point order). */
function listDirectories(dir: string): string[] {
  const names: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) names.push(entry.name);
      else if (entry.isSymlink && isDirectory(joinPath(dir, entry.name))) {
        names.push(entry.name);
      }
    }
  } catch (error) {
    throw new ConfigError(
      `Cannot read config directory "${dir}": ${describeError(error)}`,
      1,
      { cause: error, hint: "run `kcm init` to create the config directory" },
    );
  }
  return names.sort(compareNames);
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function readExclusive(confDir: string, pool: string): boolean {
  const file = joinPath(poolPath(confDir, pool), "exclusive");
  try {
    const text = Deno.readTextFileSync(file);
    return text.startsWith("1");
  } catch (error) {
    throw new ConfigError(
      `Cannot read pool flag "${file}": ${describeError(error)}`,
      1,
      { cause: error },
    );
  }
}

/** Reads one cpu list's tasks. */
export function readTasks(
  confDir: string,
  pool: string,
  list: string,
): number[] {
  const file = tasksPath(confDir, pool, list);
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    throw new ConfigError(
      `Cannot read tasks file "${file}": ${describeError(error)}`,
      1,
      { cause: error },
    );
  }
  return parseTasks(text, file);
}

function checkListName(confDir: string, pool: string, list: string): void {
  try {
    const cpus = parseCpuList(list);
    if (cpus.isEmpty()) throw new SyntaxError("it names no CPU");
  } catch (error) {
    throw new ConfigError(
      `Malformed cpu list directory "${
        joinPath(poolPath(confDir, pool), list)
      }": ${error instanceof Error ? error.message : String(error)}`,
      1,
      { cause: error },
    );
  }
}

/** Reads one pool; a missing pool directory gives undefined. */
export function readPool(
  confDir: string,
  pool: string,
): PoolState | undefined {
  try {
    const info = Deno.statSync(poolPath(confDir, pool));
    if (!info.isDirectory) return undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // Tell a missing pool apart from a missing config directory.
      listDirectories(joinPath(confDir, "pools"));
      return undefined;
    }
    throw new ConfigError(
      `Cannot read pool "${poolPath(confDir, pool)}": ${describeError(error)}`,
      1,
      { cause: error },
    );
  }
  const exclusive = readExclusive(confDir, pool);
  const names = listDirectories(poolPath(confDir, pool));
  for (const list of names) checkListName(confDir, pool, list);
  const cpuLists = names.map((name) => ({
    name,
    tasks: readTasks(confDir, pool, name),
  }));
  return { name: pool, exclusive, cpuLists };
}

/** Reads the whole config directory. Call it under a lock. */
export function readConfig(confDir: string): ConfigState {
  const names = listDirectories(joinPath(confDir, "pools"));
  const pools = names.map((name) => readPool(confDir, name)!);
  return { path: normalizeConfPath(confDir), pools };
}

/** The reference's `os.path.normpath`: collapse `.`, `..`, `//`, trailing `/`. */
export function normalizeConfPath(confDir: string): string {
  return normalizePath(confDir);
}

// ---------------------------------------------------------------------------
// Locking

/** A held lock; release it exactly once. */
export interface HeldLock extends AsyncDisposable {
  release(): Promise<void>;
}

function findLockHolder(
  lockFile: string,
  locksFile: string,
): string | undefined {
  try {
    const { ino } = Deno.statSync(lockFile);
    if (ino === null) return undefined;
    const text = Deno.readTextFileSync(locksFile);
    for (const line of text.split("\n")) {
      const fields = line.trim().split(/\s+/);
      // "1: FLOCK  ADVISORY  WRITE 8538 fe:00:9978067 0 EOF"
      if (fields[1] === "FLOCK" && fields[5]?.endsWith(`:${ino}`)) {
        return fields[4];
      }
    }
  } catch {
    // Best effort: the holder is a hint, not a requirement.
  }
  return undefined;
}

function openLockFile(lockFile: string, exclusive: boolean): Deno.FsFile {
  try {
    return Deno.openSync(lockFile, { read: true, write: exclusive });
  } catch (error) {
    throw new ConfigError(
      `Cannot open lock file "${lockFile}": ${describeError(error)}`,
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

function tryLock(file: Deno.FsFile, exclusive: boolean): boolean {
  return file.tryLockSync(exclusive);
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
  const lockFile = joinPath(confDir, LOCK_FILE);
  const file = openLockFile(lockFile, exclusive);
  if (!tryLock(file, exclusive)) {
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
        `Timed out after ${
          options.timeoutMs / 1000
        } s waiting for lock "${lockFile}"${
          holder ? ` (held by pid ${holder})` : ""
        }`,
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

/** Runs `fn` while holding the config lock. */
export async function withConfigLock<T>(
  confDir: string,
  exclusive: boolean,
  options: LockOptions,
  fn: () => T | Promise<T>,
): Promise<T> {
  await using _lock = await lockConfig(confDir, exclusive, options);
  return await fn();
}

// ---------------------------------------------------------------------------
// Writing

function syncDirectory(dir: string): void {
  const handle = Deno.openSync(dir, { read: true });
  try {
    handle.syncSync();
  } finally {
    handle.close();
  }
}

function tempPathFor(path: string): string {
  const suffix = crypto.randomUUID().slice(0, 8);
  return joinPath(
    dirName(path),
    `${TEMP_MARK}${baseName(path)}.${Deno.pid}.${suffix}`,
  );
}

function writeNewFile(
  path: string,
  data: string,
  options: { mode: number; sync: boolean },
): void {
  const file = Deno.openSync(path, {
    write: true,
    createNew: true,
    mode: options.mode,
  });
  try {
    const bytes = new TextEncoder().encode(data);
    let written = 0;
    while (written < bytes.length) {
      written += file.writeSync(bytes.subarray(written));
    }
    if (options.sync) file.syncSync();
  } finally {
    file.close();
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // It was never created, or the rename consumed it.
  }
}

function writeFailure(path: string, error: unknown): ConfigError {
  return new ConfigError(
    `Cannot write "${path}": ${describeError(error)}`,
    1,
    { cause: error },
  );
}

/**
 * Replaces `path` with `data` atomically: a temporary file beside it,
 * fsync, rename over the target, fsync of the directory.
 */
export function writeFileAtomic(
  path: string,
  data: string,
  mode = 0o644,
): void {
  const temp = tempPathFor(path);
  try {
    writeNewFile(temp, data, { mode, sync: true });
    Deno.renameSync(temp, path);
  } catch (error) {
    removeQuietly(temp);
    throw writeFailure(path, error);
  }
  syncDirectory(dirName(path));
}

function renameAll(moves: readonly { temp: string; path: string }[]): void {
  for (const { temp, path } of moves) Deno.renameSync(temp, path);
}

async function syncPath(path: string): Promise<void> {
  const file = await Deno.open(path, { read: true });
  try {
    await file.sync();
  } finally {
    file.close();
  }
}

async function inBatches<T>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(work));
  }
}

/**
 * {@linkcode writeFileAtomic} for many files at once, with the same
 * guarantees for each (temp file fsynced before its rename, directory
 * fsynced after it), but the fsyncs issued concurrently so the file
 * system can commit them together: one journal commit for a batch
 * instead of one per file, which is what `reconcile` pays when it frees
 * thousands of lists.
 */
export async function writeFilesAtomic(
  files: readonly { readonly path: string; readonly data: string }[],
): Promise<void> {
  const temps = files.map((f) => ({ ...f, temp: tempPathFor(f.path) }));
  try {
    for (const f of temps) {
      writeNewFile(f.temp, f.data, { mode: 0o644, sync: false });
    }
    await inBatches(temps, 64, (f) => syncPath(f.temp));
    renameAll(temps);
  } catch (error) {
    for (const f of temps) removeQuietly(f.temp);
    throw writeFailure(temps[0]?.path ?? "", error);
  }
  const dirs = [...new Set(files.map((f) => dirName(f.path)))];
  await inBatches(dirs, 64, syncPath);
}

/** The text of a tasks file: pids joined by `,`, no trailing newline. */
export function formatTasks(pids: readonly number[]): string {
  return pids.join(",");
}

/** Rewrites a tasks file atomically. */
export function writeTasks(
  confDir: string,
  pool: string,
  list: string,
  pids: readonly number[],
): void {
  writeFileAtomic(tasksPath(confDir, pool, list), formatTasks(pids));
}

/**
 * Removes every occurrence of `pid` from a list's tasks. Call it under the
 * exclusive lock. Returns false when the pid was not there.
 */
export function removeTask(
  confDir: string,
  pool: string,
  list: string,
  pid: number,
): boolean {
  const tasks = readTasks(confDir, pool, list);
  const kept = tasks.filter((t) => t !== pid);
  if (kept.length === tasks.length) return false;
  writeTasks(confDir, pool, list, kept);
  return true;
}

/**
 * Deletes temporary files a killed writer left in the cpu-list
 * directories. Call it under the exclusive lock: then no writer is live.
 * Returns the paths removed.
 */
export function removeStaleTemps(
  confDir: string,
  state: ConfigState,
): string[] {
  const removed: string[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const dir = joinPath(poolPath(confDir, pool.name), list.name);
      for (const entry of Deno.readDirSync(dir)) {
        if (entry.isFile && entry.name.startsWith(TEMP_MARK)) {
          const path = joinPath(dir, entry.name);
          try {
            Deno.removeSync(path);
            removed.push(path);
          } catch {
            // Gone already; nothing to clean.
          }
        }
      }
    }
  }
  return removed;
}

// ---------------------------------------------------------------------------
// Creation (init)

/** A pool to create: its flag and cpu-list directory names. */
export interface PoolSpec {
  readonly name: string;
  readonly exclusive: boolean;
  readonly cpuLists: readonly string[];
}

async function fsyncTree(path: string): Promise<void> {
  const info = await Deno.lstat(path);
  if (info.isDirectory) {
    for await (const entry of Deno.readDir(path)) {
      await fsyncTree(joinPath(path, entry.name));
    }
  }
  const handle = await Deno.open(path, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

async function buildPools(
  poolsDir: string,
  pools: readonly PoolSpec[],
): Promise<void> {
  await Deno.mkdir(poolsDir);
  for (const pool of pools) {
    const dir = joinPath(poolsDir, pool.name);
    await Deno.mkdir(dir);
    await Deno.writeTextFile(
      joinPath(dir, "exclusive"),
      pool.exclusive ? "1" : "0",
    );
    for (const list of pool.cpuLists) {
      await Deno.mkdir(joinPath(dir, list));
      await Deno.writeTextFile(joinPath(dir, list, "tasks"), "");
    }
  }
  await fsyncTree(poolsDir);
}

/** True for entries a failed or killed `init` may leave behind. */
function isInitLeftover(name: string): boolean {
  return name === LOCK_FILE || name.startsWith(INIT_MARK);
}

/**
 * Creates a config directory holding `pools`, all or nothing: the tree is
 * built beside its final place and renamed into it. An existing directory
 * is accepted only when empty (or holding only what an interrupted `init`
 * left); then `pools/` is built inside it and renamed last, which also
 * works when the directory is a mount point.
 */
export async function createConfigDir(
  confDir: string,
  pools: readonly PoolSpec[],
): Promise<void> {
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.stat(confDir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new ConfigError(
        `Cannot use config directory "${confDir}": ${describeError(error)}`,
        1,
        { cause: error },
      );
    }
  }
  const fail = (error: unknown): never => {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(
      `Cannot create config directory "${confDir}": ${describeError(error)}`,
      1,
      { cause: error },
    );
  };

  if (existing === undefined) {
    const parent = dirName(normalizePath(confDir));
    const staging = joinPath(
      parent,
      `${INIT_MARK}${baseName(normalizePath(confDir))}.${Deno.pid}`,
    );
    try {
      await Deno.mkdir(parent, { recursive: true });
      await Deno.mkdir(staging);
      await Deno.writeTextFile(joinPath(staging, LOCK_FILE), "");
      await buildPools(joinPath(staging, "pools"), pools);
      await fsyncTree(staging);
      await Deno.rename(staging, confDir);
      syncDirectory(parent);
    } catch (error) {
      await Deno.remove(staging, { recursive: true }).catch(() => {});
      fail(error);
    }
    return;
  }

  if (!existing.isDirectory) {
    throw new ConfigError(
      `Cannot create config directory "${confDir}": it exists and is not a directory`,
    );
  }
  const leftovers: string[] = [];
  for await (const entry of Deno.readDir(confDir)) {
    if (!isInitLeftover(entry.name)) {
      throw new ConfigError(
        `Config directory ${confDir} already initialized`,
        1,
        { hint: "remove it first, or point --conf-dir elsewhere" },
      );
    }
    if (entry.name !== LOCK_FILE) leftovers.push(entry.name);
  }
  const staging = joinPath(confDir, `${INIT_MARK}${Deno.pid}`);
  try {
    for (const name of leftovers) {
      await Deno.remove(joinPath(confDir, name), { recursive: true });
    }
    await Deno.mkdir(staging);
    await buildPools(joinPath(staging, "pools"), pools);
    await Deno.writeTextFile(joinPath(confDir, LOCK_FILE), "");
    await fsyncTree(joinPath(confDir, LOCK_FILE));
    await Deno.rename(joinPath(staging, "pools"), joinPath(confDir, "pools"));
    await Deno.remove(staging);
    syncDirectory(confDir);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    fail(error);
  }
}
