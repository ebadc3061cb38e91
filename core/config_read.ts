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
 * `node-report`. `reconcile` and `discover` read no pool's `exclusive`
 * flag (the original tool never did there), so a pool without one is no
 * finding for them.
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

import { normalizePath } from "./paths.ts";
import { isPlainName } from "./config_paths.ts";
import { type ConfinedDir, EntryError } from "./confined_dir.ts";
import { OpenConfig } from "./config_open.ts";
import { type CpuSet, parseCpuList } from "./cpuset.ts";
import {
  describesTasks,
  type OwnerRecord,
  OWNERS_FILE,
  parseOwners,
  type TasksStamp,
} from "./owners.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import { compareCodePoints } from "./json.ts";
import { quote } from "./quote.ts";

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

/**
 * A pool's `exclusive` flag: undefined in a snapshot read without the
 * flags ({@linkcode readConfigLists}, {@linkcode surveyConfig}), which
 * `reconcile` and `discover` take, as the original tool never read the
 * flag there.
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

/**
 * A config snapshot (without the pools' flags) of every entry that reads,
 * and the ones that did not.
 */
export interface ConfigSurvey {
  readonly state: ConfigState<undefined>;
  /** One error per entry set aside, in the order met. */
  readonly findings: readonly ConfigError[];
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
        `Cannot parse tasks file ${quote(file)}: ${quote(piece)} is not a pid`,
      );
    }
    pids.push(Number(trimmed));
  }
  return pids;
}

/**
 * The names of the sub-directories of `dir`, sorted by code point (as the
 * original tool, in Python, sorted them). Regular files are skipped (a
 * pool's `exclusive`, a list's `tasks`), as the original tool skips them;
 * links are findings, handed to `onFinding`.
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
  return names.sort(compareCodePoints);
}

function readExclusive(pool: ConfinedDir): boolean {
  return pool.readFile("exclusive", "pool flag").text.startsWith("1");
}

/**
 * Reads a pool's `exclusive` flag: true when the file's first character
 * is `1`. A missing or unusable pool or file is a {@linkcode ConfigError}.
 */
export function readPoolFlag(confDir: string, pool: string): boolean {
  using config = OpenConfig.open(confDir);
  using dir = config.pools.openDir(pool, "pool directory");
  return readExclusive(dir);
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
      `Malformed cpu list directory ${quote(pool.shown(list))}: ${
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
interface ReadOptions<Flag extends PoolFlag> {
  /** Reads the pool's flag (or gives undefined without reading). */
  readonly flag: (pool: ConfinedDir) => Flag;
  /** Read each list's `owners` too. */
  readonly owners?: boolean;
  /** Where findings go; without it the first one is thrown. */
  readonly onFinding?: (error: ConfigError) => void;
}

const WITH_FLAGS: ReadOptions<boolean> = { flag: readExclusive };
const WITHOUT_FLAGS: ReadOptions<undefined> = { flag: () => undefined };

function guard<T>(
  options: ReadOptions<PoolFlag>,
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

function readPoolDir<Flag extends PoolFlag>(
  pools: ConfinedDir,
  name: string,
  options: ReadOptions<Flag>,
): PoolState<Flag> | undefined {
  return guard(options, () => {
    using dir = pools.openDir(name, "pool directory");
    const exclusive = options.flag(dir);
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

function readOnePool<Flag extends PoolFlag>(
  pools: ConfinedDir,
  pool: string,
  options: ReadOptions<Flag>,
): PoolState<Flag> | undefined {
  if (!isPlainName(pool)) return undefined;
  const entry = pools.lstat(pool);
  if (entry === null || entry.isFile) return undefined;
  return readPoolDir(pools, pool, options);
}

/**
 * Reads one pool of an open config directory; a missing pool directory
 * gives undefined. Any finding in it is thrown.
 */
export function readPool(
  config: OpenConfig,
  pool: string,
): PoolState | undefined {
  return readOnePool(config.pools, pool, WITH_FLAGS);
}

/**
 * Reads one pool without its `exclusive` flag, which need not exist; a
 * missing pool directory gives undefined. Any finding in it is thrown.
 */
export function readPoolLists(
  confDir: string,
  pool: string,
): PoolState<undefined> | undefined {
  using config = OpenConfig.open(confDir);
  return readOnePool(config.pools, pool, WITHOUT_FLAGS);
}

function readPools<Flag extends PoolFlag>(
  confDir: string,
  options: ReadOptions<Flag>,
): ConfigState<Flag> {
  using config = OpenConfig.open(confDir);
  const { pools } = config;
  const onFinding = options.onFinding ?? ((error) => {
    throw error;
  });
  const names = listDirectories(pools, "pool directory", onFinding);
  const states = names.flatMap((name) => {
    const pool = readPoolDir(pools, name, options);
    return pool === undefined ? [] : [pool];
  });
  return { path: normalizePath(confDir), pools: states };
}

/** Reads the whole config directory, throwing its first finding. Call it under a lock. */
export function readConfig(confDir: string): ConfigState {
  return readPools(confDir, WITH_FLAGS);
}

/**
 * Reads the whole config directory but the pools' `exclusive` flags, which
 * need not exist, throwing its first finding. Call it under a lock.
 */
export function readConfigLists(confDir: string): ConfigState<undefined> {
  return readPools(confDir, WITHOUT_FLAGS);
}

/**
 * Reads every entry of the config directory that reads (but the pools'
 * flags, {@linkcode readPoolFlag}), with its `owners` records, and returns
 * the rest as findings. Only a missing or unusable directory (or `pools/`)
 * is thrown. Call it under a lock.
 */
export function surveyConfig(confDir: string): ConfigSurvey {
  const findings: ConfigError[] = [];
  const state = readPools(confDir, {
    ...WITHOUT_FLAGS,
    owners: true,
    onFinding: (error) => findings.push(error),
  });
  return { state, findings };
}
