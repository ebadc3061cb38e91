/**
 * Where things live inside a kcm config directory:
 *
 * ```
 * <conf-dir>/lock                          the flock(2) target
 * <conf-dir>/pools/<pool>/exclusive        "1" for an exclusive pool
 * <conf-dir>/pools/<pool>/<cpulist>/tasks  pids, comma-separated
 * ```
 *
 * The layout is the original tool's, kept so old and new binaries can share
 * a node. Pure.
 */

import { joinPath } from "./paths.ts";

/**
 * True for a name that stays one entry of its directory: not empty, not
 * `.` or `..`, without `/` or NUL. Pool names must be such names.
 *
 * @example
 * ```ts
 * import { isPlainName } from "./config_paths.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isPlainName("dataplane"), true);
 * assert.equal(isPlainName("../../etc"), false);
 * ```
 */
export function isPlainName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." &&
    !name.includes("/") && !name.includes("\0");
}

/** Name of the lock file inside the config directory. */
export const LOCK_FILE = "lock";

/** The path of the lock file. */
export function lockPath(confDir: string): string {
  return joinPath(confDir, LOCK_FILE);
}

/** The path of the directory holding every pool. */
export function poolsPath(confDir: string): string {
  return joinPath(confDir, "pools");
}

/**
 * The path of a pool's directory.
 *
 * @example
 * ```ts
 * import { poolPath } from "./config_paths.ts";
 * import assert from "node:assert/strict";
 * assert.equal(poolPath("/etc/kcm", "infra"), "/etc/kcm/pools/infra");
 * ```
 */
export function poolPath(confDir: string, pool: string): string {
  return joinPath(confDir, "pools", pool);
}

/** The path of a pool's `exclusive` flag file. */
export function exclusivePath(confDir: string, pool: string): string {
  return joinPath(confDir, "pools", pool, "exclusive");
}

/** The path of a cpu list's directory. */
export function listPath(confDir: string, pool: string, list: string): string {
  return joinPath(confDir, "pools", pool, list);
}

/** The path of a cpu list's `tasks` file. */
export function tasksPath(confDir: string, pool: string, list: string): string {
  return joinPath(confDir, "pools", pool, list, "tasks");
}
