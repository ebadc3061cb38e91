/**
 * Reading a kcm config directory into a snapshot: pools in name order, each
 * cpu list with its parsed CPUs and the pids of its `tasks` file (and, when
 * asked, the `owners` records that describe them, core/owners.ts).
 *
 * Everything is reached through core/confined_dir.ts: no symbolic link
 * inside the directory is followed, and only directories and regular files
 * of bounded size are opened. An entry that breaks a rule (a link, a FIFO
 * where `tasks` should be, a malformed name or `tasks`) is a finding that
 * names its path. {@linkcode readConfig} and {@linkcode readPool} stop at
 * the first; {@linkcode surveyConfig} sets the entry aside and goes on, so
 * one bad entry does not hide the rest of the node from `reconcile` and
 * `node-report`.
 *
 * Side effects: reads below the directory it is given, nothing else.
 *
 * Reads are synchronous on purpose: they touch a few small local files
 * while kcm holds the lock with nothing else to do, and a thread-pool round
 * trip per file was most of `isolate`'s and `reconcile`'s own time (see
 * bench/README.md).
 */

import { normalizePath } from "./paths.ts";
import { isPlainName } from "./config_paths.ts";
import { ConfinedDir, EntryError } from "./confined_dir.ts";
import { type CpuSet, parseCpuList } from "./cpuset.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import {
  describesTasks,
  type OwnerRecord,
  OWNERS_FILE,
  parseOwners,
  type TasksStamp,
} from "./owners.ts";

/** One cpu list: its directory name (verbatim), its CPUs and its pids. */
export interface CpuListState {
  /** The directory name as found, e.g. `0,8,1,9` (printed as is). */
  readonly name: string;
  /** `name` parsed; never empty. */
  readonly cpus: CpuSet;
  /** The pids of `tasks`, in file order. */
  readonly tasks: readonly number[];
  /** Which `tasks` file was read (for the `owners` written with a rewrite). */
  readonly stamp?: TasksStamp;
  /**
   * The `owners` records valid for `tasks`, when they were read (an
   * `owners` file that is missing, damaged or stale gives none).
   */
  readonly owners?: ReadonlyMap<number, OwnerRecord>;
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

/** A config snapshot of every entry that reads, and the ones that did not. */
export interface ConfigSurvey {
  readonly state: ConfigState;
  /** One error per entry set aside, in the order met. */
  readonly findings: readonly ConfigError[];
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

/**
 * Opens the config directory and its `pools/`; a missing or unusable one
 * is an error with a hint to run `init`.
 */
export function openPools(confDir: string): ConfinedDir {
  let root: ConfinedDir | undefined;
  try {
    root = ConfinedDir.openRoot(confDir);
    return root.openDir("pools", "config directory");
  } catch (error) {
    if (!(error instanceof EntryError)) throw error;
    throw new ConfigError(error.message, 1, { cause: error, hint: INIT_HINT });
  } finally {
    root?.close();
  }
}

/**
 * The names of the sub-directories of `dir`, sorted by name (code point
 * order). Regular files are skipped (a pool's `exclusive`, a list's
 * `tasks`), as the original tool skips them; links and other entries are
 * findings, handed to `onFinding`.
 */
function listDirectories(
  dir: ConfinedDir,
  what: string,
  onFinding: (error: ConfigError) => void,
): string[] {
  const names: string[] = [];
  for (const entry of dir.entries()) {
    if (entry.kind === "directory") names.push(entry.name);
    else if (entry.kind === "symlink") {
      onFinding(
        new EntryError(
          what,
          dir.shown(entry.name),
          "symlink",
          "it is a symbolic link, and kcm follows none inside the config directory",
        ),
      );
    }
  }
  return names.sort(compareNames);
}

function readExclusive(pool: ConfinedDir): boolean {
  return pool.readFile("exclusive", "pool flag").text.startsWith("1");
}

/** The pids and stamp of the `tasks` file of an open cpu-list directory. */
export function readTasksFile(
  list: ConfinedDir,
): { tasks: number[]; stamp: TasksStamp } {
  const { text, info } = list.readFile("tasks", "tasks file");
  return {
    tasks: parseTasks(text, list.shown("tasks")),
    stamp: {
      ino: info.ino ?? 0,
      mtimeMs: info.mtime?.getTime() ?? 0,
      tasks: text,
    },
  };
}

/**
 * The `owners` records of an open cpu-list directory that are valid for
 * the `tasks` file `stamp` was taken of; none when the file is missing,
 * damaged or describes another `tasks`.
 */
export function readOwnersFile(
  list: ConfinedDir,
  stamp: TasksStamp,
): ReadonlyMap<number, OwnerRecord> {
  let text: string;
  try {
    text = list.readFile(OWNERS_FILE, "owners file").text;
  } catch (error) {
    if (error instanceof EntryError) return new Map();
    throw error;
  }
  const owners = parseOwners(text);
  if (owners === undefined || !describesTasks(owners, stamp)) return new Map();
  return owners.pids;
}

/** The CPUs a cpu list directory names; a bad or empty name is an error. */
function parseListName(pool: ConfinedDir, list: string): CpuSet {
  try {
    const cpus = parseCpuList(list);
    if (cpus.isEmpty()) throw new SyntaxError("it names no CPU");
    return cpus;
  } catch (error) {
    throw new ConfigError(
      `Malformed cpu list directory "${pool.shown(list)}": ${
        errorMessage(error)
      }`,
      1,
      { cause: error },
    );
  }
}

function readList(
  pool: ConfinedDir,
  name: string,
  cpus: CpuSet,
  withOwners: boolean,
): CpuListState {
  using dir = pool.openDir(name, "cpu list directory");
  const { tasks, stamp } = readTasksFile(dir);
  if (!withOwners || tasks.length === 0) return { name, cpus, tasks, stamp };
  return { name, cpus, tasks, stamp, owners: readOwnersFile(dir, stamp) };
}

/** How a pool or the whole directory is read. */
interface ReadOptions {
  /** Read each list's `owners` too. */
  readonly owners?: boolean;
  /** Where findings go; without it the first one is thrown. */
  readonly onFinding?: (error: ConfigError) => void;
}

function guard<T>(
  options: ReadOptions,
  read: () => T,
): T | undefined {
  if (options.onFinding === undefined) return read();
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    options.onFinding(error);
    return undefined;
  }
}

function readPoolDir(
  pools: ConfinedDir,
  name: string,
  options: ReadOptions,
): PoolState | undefined {
  return guard(options, () => {
    using dir = pools.openDir(name, "pool directory");
    const exclusive = readExclusive(dir);
    const onFinding = options.onFinding ?? ((error) => {
      throw error;
    });
    // Every name is checked before any tasks file is read, so a malformed
    // directory is reported whichever list comes first.
    const lists = listDirectories(dir, "cpu list directory", onFinding)
      .flatMap((list) => {
        const cpus = guard(options, () => parseListName(dir, list));
        return cpus === undefined ? [] : [{ list, cpus }];
      });
    const cpuLists = lists.flatMap(({ list, cpus }) => {
      const state = guard(
        options,
        () => readList(dir, list, cpus, options.owners ?? false),
      );
      return state === undefined ? [] : [state];
    });
    return { name, exclusive, cpuLists };
  });
}

/**
 * Reads one pool; a missing pool directory gives undefined. Any finding
 * in it is thrown.
 */
export function readPool(
  confDir: string,
  pool: string,
): PoolState | undefined {
  using pools = openPools(confDir);
  if (!isPlainName(pool)) return undefined;
  const entry = pools.lstat(pool);
  if (entry === null || entry.isFile) return undefined;
  return readPoolDir(pools, pool, {});
}

/** Reads the whole config directory, throwing its first finding. Call it under a lock. */
export function readConfig(confDir: string): ConfigState {
  using pools = openPools(confDir);
  const names = listDirectories(pools, "pool directory", (error) => {
    throw error;
  });
  const states = names.map((name) => readPoolDir(pools, name, {})!);
  return { path: normalizePath(confDir), pools: states };
}

/**
 * Reads every entry of the config directory that reads, with its `owners`
 * records, and returns the rest as findings. Only a missing or unusable
 * directory (or `pools/`) is thrown. Call it under a lock.
 */
export function surveyConfig(confDir: string): ConfigSurvey {
  const findings: ConfigError[] = [];
  const options = {
    owners: true,
    onFinding: (e: ConfigError) => findings.push(e),
  };
  using pools = openPools(confDir);
  const names = listDirectories(pools, "pool directory", options.onFinding);
  const states = names.flatMap((name) => {
    const pool = readPoolDir(pools, name, options);
    return pool === undefined ? [] : [pool];
  });
  return { state: { path: normalizePath(confDir), pools: states }, findings };
}
