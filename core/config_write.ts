/**
 * Changing the `tasks` files of an existing config directory: recording a
 * pid, removing one, and clearing the temporary files a killed writer left.
 * Call every function here under the exclusive config lock.
 *
 * Side effects: replaces `tasks` files atomically (core/atomic_write.ts),
 * keeping each file's owner and mode, and removes stale temporary files,
 * below the directory it is given.
 *
 * Tasks files are replaced by rename but not fsynced, on purpose. A tasks
 * file names live processes. If kcm itself crashes, the rename has either
 * happened or not, and the file is whole either way. If the machine loses
 * power, every process the file names dies with it, and no pid survives a
 * reboot: a tasks file brought back older by the crash names dead pids
 * either way, and `kcm reconcile` frees them. An fsync would buy nothing
 * that the rename does not, and cost `isolate` two disk flushes on its
 * start-up path (measured in bench/README.md). `init`, which writes the
 * pools themselves, does fsync everything.
 */

import { joinPath } from "./paths.ts";
import {
  isTempName,
  writeFileAtomic,
  writeFilesAtomic,
} from "./atomic_write.ts";
import { listPath, tasksPath } from "./config_paths.ts";
import { type ConfigState, type PoolFlag, readTasks } from "./config_read.ts";
import { hasRawBytes } from "./file_names.ts";
import { readDirectory, withUsablePath } from "./raw_fs.ts";

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
 * Rewrites a tasks file atomically (not durably: see above) with `pids`,
 * keeping its owner, group and permission bits.
 */
export function writeTasks(
  confDir: string,
  pool: string,
  list: string,
  pids: readonly number[],
): void {
  writeFileAtomic(tasksPath(confDir, pool, list), formatTasks(pids), {
    durable: false,
    keepOwnership: true,
  });
}

/**
 * Rewrites many tasks files, as {@linkcode writeTasks} does each, renaming
 * none until all are written.
 */
export function writeManyTasks(
  confDir: string,
  rewrites: readonly {
    readonly pool: string;
    readonly list: string;
    readonly tasks: readonly number[];
  }[],
): void {
  writeFilesAtomic(
    rewrites.map((r) => ({
      path: tasksPath(confDir, r.pool, r.list),
      data: formatTasks(r.tasks),
    })),
    { keepOwnership: true },
  );
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
  return removeTaskFromLists(confDir, pool, [list], pid).length > 0;
}

/**
 * Removes every occurrence of `pid` from the tasks of each of `lists` of
 * `pool`, renaming no file until every new one is written (as
 * {@linkcode writeManyTasks}). Returns the lists that held the pid; the
 * others are not written.
 */
export function removeTaskFromLists(
  confDir: string,
  pool: string,
  lists: readonly string[],
  pid: number,
): string[] {
  const rewrites = lists.flatMap((list) => {
    const tasks = readTasks(confDir, pool, list);
    const kept = tasks.filter((t) => t !== pid);
    return kept.length === tasks.length ? [] : [{ pool, list, tasks: kept }];
  });
  if (rewrites.length > 0) writeManyTasks(confDir, rewrites);
  return rewrites.map((r) => r.list);
}

/**
 * Deletes the temporary files a killed writer left in the cpu-list
 * directories of `state` (under the exclusive lock no writer is live).
 * Returns the paths removed.
 */
export function removeStaleTemps(
  confDir: string,
  state: ConfigState<PoolFlag>,
): string[] {
  const removed: string[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const dir = listPath(confDir, pool.name, list.name);
      for (const entry of readDirectory(dir)) {
        // kcm's temporary names are UTF-8: anything else is not kcm's.
        if (!entry.isFile || !isTempName(entry.name)) continue;
        if (hasRawBytes(entry.name)) continue;
        const path = joinPath(dir, entry.name);
        try {
          withUsablePath(path, (usable) => Deno.removeSync(usable));
          removed.push(path);
        } catch {
          // Gone already; nothing to clean.
        }
      }
    }
  }
  return removed;
}
