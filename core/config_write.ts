/**
 * Changing the `tasks` files of an existing config directory: recording
 * pids, removing one, and clearing the temporary files a killed writer
 * left. Each `tasks` rewrite comes with the list's `owners` file
 * (core/owners.ts) when any of its pids has a record. Call every function
 * here under the exclusive config lock.
 *
 * Side effects: replaces `tasks` and `owners` files atomically
 * (core/atomic_write.ts), each new `tasks` with the owner and mode of the
 * one it replaces, and removes stale temporary files, below the directory
 * it is given, never through a symbolic link (core/confined_dir.ts).
 *
 * Order of a rewrite: the new `tasks` goes to its temporary file first
 * (whose inode and time the `owners` must name), then the new `owners`,
 * valid for the old `tasks` and the new, is renamed into place, and the
 * new `tasks` last. A kcm killed at any point leaves an `owners` that
 * describes the `tasks` in place.
 *
 * Files are replaced by rename but not fsynced, on purpose. A tasks file
 * names live processes. If kcm itself crashes, the rename has either
 * happened or not, and the file is whole either way. If the machine loses
 * power, every process the file names dies with it, and no pid survives a
 * reboot: a tasks file brought back older by the crash names dead pids
 * either way, and `kcm reconcile` frees them. An fsync would buy nothing
 * that the rename does not, and cost `isolate` two disk flushes on its
 * start-up path (measured in bench/README.md). `init`, which writes the
 * pools themselves, does fsync everything.
 */

import {
  commitStaged,
  discardStaged,
  isTempName,
  type StagedFile,
  stageFile,
} from "./atomic_write.ts";
import type { ConfinedDir } from "./confined_dir.ts";
import { OpenConfig } from "./config_open.ts";
import {
  type ConfigState,
  type PoolFlag,
  readOwnersFile,
  readTasksFile,
} from "./config_read.ts";
import {
  formatOwners,
  nextOwners,
  type OwnerRecord,
  OWNERS_FILE,
  type TasksStamp,
} from "./owners.ts";

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Gone already, or the directory cannot be written: a stale `owners`
    // describes no `tasks` in place and is ignored.
  }
}
import { hasRawBytes } from "./file_names.ts";

/**
 * The text of a tasks file: pids joined by `,`, no trailing newline.
 *
 * @example
 * ```ts
 * import { formatTasks } from "./config_write.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatTasks([1000, 1001]), "1000,1001");
 * ```
 */
export function formatTasks(pids: readonly number[]): string {
  return pids.join(",");
}

/**
 * A list's `tasks` as read in the same hold of the lock as its rewrite (a
 * `CpuListState` of core/config_read.ts is one), and its `owners` records
 * when they were read with it.
 */
export interface ListRead {
  readonly tasks: readonly number[];
  /** Undefined: not known, and the file is read again. */
  readonly stamp?: TasksStamp;
  readonly owners?: ReadonlyMap<number, OwnerRecord>;
}

/** One list's new `tasks`, and the records of the pids it adds. */
export interface ListRewrite {
  readonly pool: string;
  readonly list: string;
  readonly tasks: readonly number[];
  /** Records (start time, claim) of pids that `tasks` adds. */
  readonly added?: ReadonlyMap<number, OwnerRecord>;
  /**
   * The list as read in this hold of the lock: its `tasks` (and `owners`,
   * when they came with it) are not read again. Never one read before the
   * lock was taken: the rewrite would be made against a stale file.
   */
  readonly read?: ListRead;
}

/** What a list rewrite stages, in rename order, and what it removes after. */
interface StagedList {
  readonly files: StagedFile[];
  /** The directory whose `owners` goes once the new `tasks` is in place. */
  readonly dropOwners?: ConfinedDir;
}

/** The `tasks` in place and the `owners` valid for them. */
function currentState(
  dir: ConfinedDir,
  read: ListRead | undefined,
): {
  tasks: readonly number[];
  stamp: TasksStamp;
  owners: ReadonlyMap<number, OwnerRecord>;
} {
  const { tasks, stamp, owners }: ListRead & { stamp: TasksStamp } =
    read?.stamp === undefined
      ? readTasksFile(dir)
      : { ...read, stamp: read.stamp };
  if (tasks.length === 0) return { tasks, stamp, owners: new Map() };
  return { tasks, stamp, owners: owners ?? readOwnersFile(dir, stamp) };
}

/**
 * Stages the new `owners` (when a pid of the new `tasks` has a record) and
 * the new `tasks` of an open list directory, in the order they are to be
 * renamed. When no pid of the new `tasks` has a record, no `owners` is
 * written; the old one (valid for the old `tasks` until the rename) is
 * removed afterwards, so a list given back leaves no file behind.
 */
function stageList(dir: ConfinedDir, rewrite: ListRewrite): StagedList {
  const { tasks } = rewrite;
  const added = rewrite.added ?? new Map<number, OwnerRecord>();
  const current = currentState(dir, rewrite.read);
  const previous = current.owners;
  const data = formatTasks(tasks);
  const newTasks = stageFile({
    path: dir.at("tasks"),
    shown: dir.shown("tasks"),
    data,
  }, { keepOwnership: true });
  if (!tasks.some((pid) => added.has(pid) || previous.has(pid))) {
    return {
      files: [newTasks],
      ...(dir.lstat(OWNERS_FILE) === null ? {} : { dropOwners: dir }),
    };
  }
  const owners = nextOwners({
    previous,
    before: current.stamp,
    oldTasks: current.tasks,
    newTasks: tasks,
    added,
    after: {
      ino: newTasks.info.ino ?? 0,
      mtimeMs: newTasks.info.mtime?.getTime() ?? 0,
      tasks: data,
    },
  });
  try {
    const newOwners = stageFile({
      path: dir.at(OWNERS_FILE),
      shown: dir.shown(OWNERS_FILE),
      data: formatOwners(owners),
    }, { keepOwnership: true });
    return { files: [newOwners, newTasks] };
  } catch (error) {
    discardStaged(newTasks);
    throw error;
  }
}

/** A rewrite and its list's directory, open. */
interface OpenRewrite {
  readonly dir: ConfinedDir;
  readonly rewrite: ListRewrite;
}

/**
 * Stages every rewrite, then renames: nothing is renamed until all are
 * written. The directories stay open (the staged files are reached
 * through them) and are the caller's to close.
 */
function commitRewrites(rewrites: readonly OpenRewrite[]): void {
  const staged: StagedFile[] = [];
  const dropOwners: ConfinedDir[] = [];
  try {
    for (const { dir, rewrite } of rewrites) {
      const stagedList = stageList(dir, rewrite);
      staged.push(...stagedList.files);
      if (stagedList.dropOwners) dropOwners.push(stagedList.dropOwners);
    }
    for (const file of staged) commitStaged(file);
    for (const dir of dropOwners) removeQuietly(dir.at(OWNERS_FILE));
  } catch (error) {
    for (const file of staged) discardStaged(file);
    throw error;
  }
}

/**
 * Rewrites the `tasks` (and `owners`) of every list in `rewrites` of the
 * open config directory: all new contents are written first and renamed
 * only when all are written, so a failure to write (a full disk) changes
 * none of them. Throws {@linkcode FileWriteError} naming the file it
 * failed on.
 */
export function writeManyTasks(
  config: OpenConfig,
  rewrites: readonly ListRewrite[],
): void {
  const open: OpenRewrite[] = [];
  try {
    for (const rewrite of rewrites) {
      using pool = config.pools.openDir(rewrite.pool, "pool directory");
      const dir = pool.openDir(rewrite.list, "cpu list directory");
      open.push({ dir, rewrite });
    }
    commitRewrites(open);
  } finally {
    for (const { dir } of open) dir.close();
  }
}

/**
 * Rewrites one list's tasks with `pids`; `added` holds the records of the
 * pids it adds (see {@linkcode writeManyTasks}).
 */
export function writeTasks(
  confDir: string,
  pool: string,
  list: string,
  pids: readonly number[],
  added: ReadonlyMap<number, OwnerRecord> = new Map(),
): void {
  using config = OpenConfig.open(confDir);
  writeManyTasks(config, [{ pool, list, tasks: pids, added }]);
}

/**
 * Removes every occurrence of `pid` from a list's tasks. Returns false when
 * the pid was not there (and writes nothing).
 */
export function removeTask(
  confDir: string,
  pool: string,
  list: string,
  pid: number,
): boolean {
  using config = OpenConfig.open(confDir);
  return removeTaskFromLists(config, pool, [list], pid).length > 0;
}

/**
 * Removes every occurrence of `pid` from the tasks of each of `lists` of
 * `pool` in the open config directory, renaming no file until every new
 * one is written (as {@linkcode writeManyTasks}). Each list is read and
 * rewritten through the same descriptor. Returns the lists that held the
 * pid; the others are not written.
 */
export function removeTaskFromLists(
  config: OpenConfig,
  pool: string,
  lists: readonly string[],
  pid: number,
): string[] {
  const dirs: ConfinedDir[] = [];
  const rewrites: OpenRewrite[] = [];
  try {
    using poolDir = config.pools.openDir(pool, "pool directory");
    for (const list of lists) {
      const dir = poolDir.openDir(list, "cpu list directory");
      dirs.push(dir);
      const read = readTasksFile(dir);
      const tasks = read.tasks.filter((t) => t !== pid);
      if (tasks.length < read.tasks.length) {
        rewrites.push({ dir, rewrite: { pool, list, tasks, read } });
      }
    }
    commitRewrites(rewrites);
  } finally {
    for (const dir of dirs) dir.close();
  }
  return rewrites.map(({ rewrite }) => rewrite.list);
}

/**
 * Deletes the temporary files a killed writer left in the cpu-list
 * directories of `state` (under the exclusive lock no writer is live), never
 * through a link. Returns the paths removed.
 */
export function removeStaleTemps(
  confDir: string,
  state: ConfigState<PoolFlag>,
): string[] {
  const removed: string[] = [];
  using config = OpenConfig.open(confDir);
  for (const pool of state.pools) {
    using poolDir = config.pools.openDir(pool.name, "pool directory");
    for (const list of pool.cpuLists) {
      using dir = poolDir.openDir(list.name, "cpu list directory");
      for (const entry of dir.entries()) {
        // kcm's temporary names are UTF-8: anything else is not kcm's.
        if (entry.kind !== "file" || !isTempName(entry.name)) continue;
        if (hasRawBytes(entry.name)) continue;
        try {
          Deno.removeSync(dir.at(entry.name));
          removed.push(dir.shown(entry.name));
        } catch {
          // Gone already; nothing to clean.
        }
      }
    }
  }
  return removed;
}
