/**
 * Taking kcm's files off a node: the config directory (refused while a
 * live task holds one of its cpu lists, unless forced) and the installed
 * `kcm` in the install directory.
 *
 * Side effects: takes the config directory's lock exclusively (so no
 * `isolate` claims a list meanwhile), reads its tasks and the procfs root,
 * removes the directory's contents and then the directory itself; removes
 * `<install-dir>/kcm`. A directory that is a mount point (the hostPath
 * volume of an uninstall pod) cannot be removed by a process inside the
 * mount: it is emptied and left in place.
 */

import { withConfigLock } from "./config_lock.ts";
import { readConfig } from "./config_read.ts";
import { ConfigError, KcmError, osErrorCode, osErrorReason } from "./errors.ts";
import { INSTALLED_NAME } from "./install.ts";
import { joinPath } from "./paths.ts";
import { observePids } from "./procfs.ts";
import { recordedPids } from "./task_masks.ts";
import { quote } from "./quote.ts";

/** A task that still holds a cpu list. */
export interface LiveTask {
  readonly pool: string;
  readonly cpuList: string;
  readonly pid: number;
}

/** What {@linkcode removeConfigDir} did. */
export type ConfigRemoval =
  | { readonly kind: "absent" }
  | { readonly kind: "removed"; readonly forcedTasks: readonly LiveTask[] }
  | { readonly kind: "emptied"; readonly forcedTasks: readonly LiveTask[] };

/** Options of {@linkcode removeConfigDir}. */
export interface RemoveConfigOptions {
  readonly procRoot: string;
  readonly lockTimeoutMs: number;
  /** Remove even while tasks hold cpu lists. */
  readonly force: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new ConfigError(
      `Cannot check ${quote(path)}: ${osErrorReason(error)}`,
      1,
      { cause: error },
    );
  }
}

function describeTasks(tasks: readonly LiveTask[]): string {
  return tasks.map((t) => `${t.pool} ${t.cpuList} (pid ${t.pid})`).join(", ");
}

/**
 * Removes the config directory: under its exclusive lock, checks that no
 * recorded task is alive (else throws a `ConfigError` naming them, unless
 * `force`), then deletes it. Resolves to what was done.
 */
export async function removeConfigDir(
  confDir: string,
  options: RemoveConfigOptions,
): Promise<ConfigRemoval> {
  if (!await exists(confDir)) return { kind: "absent" };
  const hasConfig = await exists(joinPath(confDir, "pools"));
  const live: LiveTask[] = [];
  const remove = async (): Promise<ConfigRemoval> => {
    if (hasConfig) {
      const state = readConfig(confDir);
      const observed = observePids(options.procRoot, recordedPids(state));
      for (const pool of state.pools) {
        for (const list of pool.cpuLists) {
          for (const pid of list.tasks) {
            if (observed.get(pid) !== null) {
              live.push({ pool: pool.name, cpuList: list.name, pid });
            }
          }
        }
      }
      if (live.length > 0 && !options.force) {
        throw new ConfigError(
          `${live.length} task${
            live.length === 1 ? "" : "s"
          } still hold cpu lists of ${quote(confDir)}: ${
            describeTasks(live)
          }; nothing was removed`,
          1,
          {
            hint:
              "stop those workloads first, or give --force to remove kcm from under them",
          },
        );
      }
    }
    // The contents first, the lock file last, then the directory itself.
    for await (const entry of Deno.readDir(confDir)) {
      if (entry.name === "lock") continue;
      await Deno.remove(joinPath(confDir, entry.name), { recursive: true });
    }
    await Deno.remove(joinPath(confDir, "lock")).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    try {
      await Deno.remove(confDir);
    } catch (error) {
      if (osErrorCode(error) === "EBUSY") {
        return { kind: "emptied", forcedTasks: live };
      }
      throw error;
    }
    return { kind: "removed", forcedTasks: live };
  };
  try {
    return hasConfig
      ? await withConfigLock(
        confDir,
        true,
        { timeoutMs: options.lockTimeoutMs },
        remove,
      )
      : await remove();
  } catch (error) {
    if (error instanceof KcmError) throw error;
    throw new ConfigError(
      `Cannot remove config directory ${quote(confDir)}: ${
        osErrorReason(error)
      }`,
      1,
      { cause: error },
    );
  }
}

/**
 * Removes `<installDir>/kcm`; resolves to false when there was none.
 */
export async function removeInstalled(installDir: string): Promise<boolean> {
  const path = joinPath(installDir, INSTALLED_NAME);
  try {
    await Deno.remove(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new KcmError(
      `Cannot remove ${quote(path)}: ${osErrorReason(error)}`,
      1,
      { cause: error },
    );
  }
}
