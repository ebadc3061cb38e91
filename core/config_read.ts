/**
 * Reading a kcm config directory into a snapshot: pools in name order, each
 * cpu list with its parsed CPUs and the pids of its `tasks` file.
 *
 * Side effects: reads below the directory it is given, nothing else.
 *
 * Reads are synchronous on purpose: they touch a few small local files
 * while kcm holds the lock with nothing else to do, and a thread-pool round
 * trip per file was most of `isolate`'s and `reconcile`'s own time (see
 * bench/README.md).
 */

import { joinPath, normalizePath } from "./paths.ts";
import {
  exclusivePath,
  listPath,
  poolPath,
  poolsPath,
  tasksPath,
} from "./config_paths.ts";
import { type CpuSet, parseCpuList } from "./cpuset.ts";
import { ConfigError, errorMessage, osErrorReason } from "./errors.ts";

/** One cpu list: its directory name (verbatim), its CPUs and its pids. */
export interface CpuListState {
  /** The directory name as found, e.g. `0,8,1,9` (printed as is). */
  readonly name: string;
  /** `name` parsed; never empty. */
  readonly cpus: CpuSet;
  /** The pids of `tasks`, in file order. */
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

const INIT_HINT = "run `kcm init` to create the config directory";

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Parses the text of a `tasks` file: comma-separated pids, empty pieces
 * skipped, white space around pieces and a trailing newline tolerated.
 * `file` is only used in the error message.
 *
 * @example
 * ```ts
 * import { parseTasks } from "./config_read.ts";
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

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
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
      `Cannot read config directory "${dir}": ${osErrorReason(error)}`,
      1,
      { cause: error, hint: INIT_HINT },
    );
  }
  return names.sort(compareNames);
}

function readExclusive(confDir: string, pool: string): boolean {
  const file = exclusivePath(confDir, pool);
  try {
    return Deno.readTextFileSync(file).startsWith("1");
  } catch (error) {
    throw new ConfigError(
      `Cannot read pool flag "${file}": ${osErrorReason(error)}`,
      1,
      { cause: error },
    );
  }
}

/** Reads one cpu list's pids. */
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
      `Cannot read tasks file "${file}": ${osErrorReason(error)}`,
      1,
      { cause: error },
    );
  }
  return parseTasks(text, file);
}

/** The CPUs a cpu list directory names; a bad or empty name is an error. */
function parseListName(confDir: string, pool: string, list: string): CpuSet {
  try {
    const cpus = parseCpuList(list);
    if (cpus.isEmpty()) throw new SyntaxError("it names no CPU");
    return cpus;
  } catch (error) {
    throw new ConfigError(
      `Malformed cpu list directory "${listPath(confDir, pool, list)}": ${
        errorMessage(error)
      }`,
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
  const dir = poolPath(confDir, pool);
  try {
    if (!Deno.statSync(dir).isDirectory) return undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // Tell a missing pool apart from a missing config directory.
      listDirectories(poolsPath(confDir));
      return undefined;
    }
    throw new ConfigError(
      `Cannot read pool "${dir}": ${osErrorReason(error)}`,
      1,
      { cause: error },
    );
  }
  const exclusive = readExclusive(confDir, pool);
  // Every name is checked before any tasks file is read, so a malformed
  // directory is reported whichever list comes first.
  const lists = listDirectories(dir).map((name) => ({
    name,
    cpus: parseListName(confDir, pool, name),
  }));
  const cpuLists = lists.map(({ name, cpus }) => ({
    name,
    cpus,
    tasks: readTasks(confDir, pool, name),
  }));
  return { name: pool, exclusive, cpuLists };
}

/** Reads the whole config directory. Call it under a lock. */
export function readConfig(confDir: string): ConfigState {
  const names = listDirectories(poolsPath(confDir));
  const pools = names.map((name) => readPool(confDir, name)!);
  return { path: normalizePath(confDir), pools };
}
