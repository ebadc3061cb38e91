/**
 * Changing the `tasks` files of an existing config directory: recording a
 * pid, removing one, and clearing the temporary files a killed writer left.
 * Call every function here under the exclusive config lock.
 *
 * Side effects: replaces `tasks` files atomically (core/atomic_write.ts) and
 * removes stale temporary files, below the directory it is given.
 */

import { joinPath } from "./paths.ts";
import { isTempName, writeFileAtomic } from "./atomic_write.ts";
import { listPath, tasksPath } from "./config_paths.ts";
import { type ConfigState, readTasks } from "./config_read.ts";

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

/** Rewrites a tasks file atomically with `pids`. */
export function writeTasks(
  confDir: string,
  pool: string,
  list: string,
  pids: readonly number[],
): void {
  writeFileAtomic(tasksPath(confDir, pool, list), formatTasks(pids));
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
  const tasks = readTasks(confDir, pool, list);
  const kept = tasks.filter((t) => t !== pid);
  if (kept.length === tasks.length) return false;
  writeTasks(confDir, pool, list, kept);
  return true;
}

/**
 * Deletes the temporary files a killed writer left in the cpu-list
 * directories of `state` (under the exclusive lock no writer is live).
 * Returns the paths removed.
 */
export function removeStaleTemps(
  confDir: string,
  state: ConfigState,
): string[] {
  const removed: string[] = [];
  for (const pool of state.pools) {
    for (const list of pool.cpuLists) {
      const dir = listPath(confDir, pool.name, list.name);
      for (const entry of Deno.readDirSync(dir)) {
        if (!entry.isFile || !isTempName(entry.name)) continue;
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
  return removed;
}
