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
 *
 * Names are ordered by code point, as the original tool (Python) sorted
 * them, and a name that is not UTF-8 is read, listed and written through
 * its bytes (core/file_names.ts, core/raw_fs.ts).
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
import {
  ConfigError,
  errorMessage,
  osErrorCode,
  osErrorReason,
} from "./errors.ts";
import { compareCodePoints } from "./json.ts";
import { quote } from "./quote.ts";
import { readDirectory, withUsablePath } from "./raw_fs.ts";

/** One cpu list: its directory name (verbatim), its CPUs and its pids. */
export interface CpuListState {
  /** The directory name as found, e.g. `0,8,1,9` (printed as is). */
  readonly name: string;
  /** `name` parsed; never empty. */
  readonly cpus: CpuSet;
  /** The pids of `tasks`, in file order. */
  readonly tasks: readonly number[];
}

/**
 * A pool's `exclusive` flag: undefined in a snapshot read without the
 * flags ({@linkcode readConfigLists}), which `reconcile` and `discover`
 * take, as the original tool never read the flag there.
 */
export type PoolFlag = boolean | undefined;

/** One pool and its cpu lists, in name order. */
export interface PoolState<Flag extends PoolFlag = boolean> {
  readonly name: string;
  readonly exclusive: Flag;
  readonly cpuLists: readonly CpuListState[];
}

/**
 * A snapshot of a whole config directory. Code that does not look at the
 * flags takes `ConfigState<PoolFlag>`, which both kinds of snapshot are.
 */
export interface ConfigState<Flag extends PoolFlag = boolean> {
  /** The directory as given, normalised (not made absolute). */
  readonly path: string;
  /** Pools in name order. */
  readonly pools: readonly PoolState<Flag>[];
}

const INIT_HINT = "run `kcm init` to create the config directory";

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
        `Cannot parse tasks file ${quote(file)}: ${quote(piece)} is not a pid`,
      );
    }
    pids.push(Number(trimmed));
  }
  return pids;
}

function isDirectory(path: string): boolean {
  try {
    return withUsablePath(path, (usable) => Deno.statSync(usable).isDirectory);
  } catch {
    return false;
  }
}

/** Lists the sub-directories of `dir`, sorted by name (code point order). */
function listDirectories(dir: string): string[] {
  const names: string[] = [];
  try {
    for (const entry of readDirectory(dir)) {
      if (entry.isDirectory) names.push(entry.name);
      else if (entry.isSymlink && isDirectory(joinPath(dir, entry.name))) {
        names.push(entry.name);
      }
    }
  } catch (error) {
    throw new ConfigError(
      `Cannot read config directory ${quote(dir)}: ${osErrorReason(error)}`,
      1,
      { cause: error, hint: INIT_HINT },
    );
  }
  return names.sort(compareCodePoints);
}

function readText(file: string): string {
  return withUsablePath(file, (usable) => Deno.readTextFileSync(usable));
}

/**
 * Reads a pool's `exclusive` flag: true when the file's first character
 * is `1`. A missing or unreadable file is a {@linkcode ConfigError}.
 */
export function readPoolFlag(confDir: string, pool: string): boolean {
  const file = exclusivePath(confDir, pool);
  try {
    return readText(file).startsWith("1");
  } catch (error) {
    throw new ConfigError(
      `Cannot read pool flag ${quote(file)}: ${osErrorReason(error)}`,
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
    text = readText(file);
  } catch (error) {
    throw new ConfigError(
      `Cannot read tasks file ${quote(file)}: ${osErrorReason(error)}`,
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
      `Malformed cpu list directory ${quote(listPath(confDir, pool, list))}: ${
        errorMessage(error)
      }`,
      1,
      { cause: error },
    );
  }
}

/** The cpu lists of an existing pool directory, names checked first. */
function readLists(confDir: string, pool: string): CpuListState[] {
  // Every name is checked before any tasks file is read, so a malformed
  // directory is reported whichever list comes first.
  const lists = listDirectories(poolPath(confDir, pool)).map((name) => ({
    name,
    cpus: parseListName(confDir, pool, name),
  }));
  return lists.map(({ name, cpus }) => ({
    name,
    cpus,
    tasks: readTasks(confDir, pool, name),
  }));
}

/** True when the pool's directory exists; false when it does not. */
function poolExists(confDir: string, pool: string): boolean {
  const dir = poolPath(confDir, pool);
  try {
    return withUsablePath(dir, (usable) => Deno.statSync(usable).isDirectory);
  } catch (error) {
    if (osErrorCode(error) === "ENOENT") {
      // Tell a missing pool apart from a missing config directory.
      listDirectories(poolsPath(confDir));
      return false;
    }
    throw new ConfigError(
      `Cannot read pool ${quote(dir)}: ${osErrorReason(error)}`,
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
  if (!poolExists(confDir, pool)) return undefined;
  const exclusive = readPoolFlag(confDir, pool);
  return { name: pool, exclusive, cpuLists: readLists(confDir, pool) };
}

/**
 * Reads one pool without its `exclusive` flag, which need not exist; a
 * missing pool directory gives undefined.
 */
export function readPoolLists(
  confDir: string,
  pool: string,
): PoolState<undefined> | undefined {
  if (!poolExists(confDir, pool)) return undefined;
  return {
    name: pool,
    exclusive: undefined,
    cpuLists: readLists(confDir, pool),
  };
}

function readPools<Flag extends PoolFlag>(
  confDir: string,
  readFlag: (pool: string) => Flag,
): ConfigState<Flag> {
  const pools = listDirectories(poolsPath(confDir)).map((name) => {
    const exclusive = readFlag(name);
    return { name, exclusive, cpuLists: readLists(confDir, name) };
  });
  return { path: normalizePath(confDir), pools };
}

/** Reads the whole config directory. Call it under a lock. */
export function readConfig(confDir: string): ConfigState {
  return readPools(confDir, (pool) => readPoolFlag(confDir, pool));
}

/**
 * Reads the whole config directory but the pools' `exclusive` flags, which
 * need not exist. Call it under a lock.
 */
export function readConfigLists(confDir: string): ConfigState<undefined> {
  return readPools(confDir, () => undefined);
}
