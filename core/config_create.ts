/**
 * Creating a config directory (`kcm init`), all or nothing: the tree is
 * built beside its final place, fsynced, and renamed into it, so a failed
 * or killed `init` leaves nothing that looks like a configuration.
 *
 * Modes are set explicitly, whatever the umask: directories 0755, `exclusive`,
 * `tasks` and root files (`topology.json`) 0644, and `lock` 0600, so that a user who cannot write the
 * directory cannot open the lock either, and so cannot hold it (flock(2)
 * needs only an open descriptor) and stall every `isolate` and `reconcile`.
 *
 * A killed `init` leaves its staging folder (`.kcm-init-*`, named after its
 * pid and start time); the next `init` or `reconcile` of that directory
 * removes the ones whose process is gone ({@linkcode removeStaleStaging}).
 *
 * Side effects: creates directories and files at and beside the config
 * directory, sets their modes, fsyncs them, and removes its own staging
 * folder (or ones a killed `init` left) on the way.
 */

import { baseName, dirName, joinPath, normalizePath } from "./paths.ts";
import { LOCK_FILE } from "./config_paths.ts";
import { ConfigError, osErrorReason } from "./errors.ts";
import { parseStat } from "./proc_identity.ts";
import { OWN_PROC_ROOT } from "./procfs.ts";
import { quote } from "./quote.ts";

/** A pool to create: its flag and cpu-list directory names. */
export interface PoolSpec {
  readonly name: string;
  readonly exclusive: boolean;
  readonly cpuLists: readonly string[];
}

/** A file at the root of the config directory, beside `lock` and `pools/`. */
export interface RootFile {
  /** A plain file name, not `lock` or `pools`. */
  readonly name: string;
  readonly text: string;
}

/** What {@linkcode createConfigDir} writes besides the pools. */
export interface CreateOptions {
  /**
   * Files written inside the tree that is renamed into place (the topology
   * record), so they appear together with the pools or not at all.
   */
  readonly rootFiles?: readonly RootFile[];
}

const INIT_MARK = ".kcm-init-";

/** Permission bits of what `init` creates. */
export const TREE_MODES = {
  directory: 0o755,
  file: 0o644,
  lock: 0o600,
} as const;

async function makeDir(path: string): Promise<void> {
  await Deno.mkdir(path, { mode: TREE_MODES.directory });
  await Deno.chmod(path, TREE_MODES.directory);
}

async function makeFile(path: string, data: string, mode: number) {
  await Deno.writeTextFile(path, data, { mode });
  await Deno.chmod(path, mode);
}

/**
 * This process's staging suffix: its pid and start time in its own
 * procfs, so a later `init` can tell a live one from one a killed process
 * left, even when both ran as pid 1 of a container.
 */
function ownStamp(): string {
  try {
    const self = parseStat(
      Deno.readTextFileSync(joinPath(OWN_PROC_ROOT, "self", "stat")),
    );
    if (self !== undefined) return `${Deno.pid}-${self.start}`;
  } catch {
    // No procfs: the pid alone.
  }
  return String(Deno.pid);
}

/** True when the process a staging suffix names (`<pid>[-<start>]`) still runs. */
function stampLives(stamp: string): boolean {
  const match = /^([1-9][0-9]*)(?:-([0-9]+))?$/.exec(stamp);
  if (match === null) return true; // not ours to judge
  const pid = Number(match[1]);
  if (pid === Deno.pid) return true;
  let text: string;
  try {
    text = Deno.readTextFileSync(joinPath(OWN_PROC_ROOT, String(pid), "stat"));
  } catch {
    return false;
  }
  return match[2] === undefined || parseStat(text)?.start === Number(match[2]);
}

/**
 * Removes the staging folders a killed `init` of `confDir` left (beside
 * it, and inside it when it already existed), when their process is gone.
 * Only directories named as kcm names them are touched, never through a
 * link. Returns the paths removed.
 */
export function removeStaleStaging(confDir: string): string[] {
  const normal = normalizePath(confDir);
  const places = [
    { dir: dirName(normal), prefix: `${INIT_MARK}${baseName(normal)}.` },
    { dir: normal, prefix: INIT_MARK },
  ];
  const removed: string[] = [];
  for (const { dir, prefix } of places) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isDirectory || !entry.name.startsWith(prefix)) continue;
      if (stampLives(entry.name.slice(prefix.length))) continue;
      const path = joinPath(dir, entry.name);
      try {
        Deno.removeSync(path, { recursive: true });
        removed.push(path);
      } catch {
        // Removed by someone else meanwhile, or not ours to remove.
      }
    }
  }
  return removed;
}

async function syncPath(path: string): Promise<void> {
  using handle = await Deno.open(path, { read: true });
  await handle.sync();
}

/** Fsyncs `path` and, for a directory, everything below it first. */
async function syncTree(path: string): Promise<void> {
  const info = await Deno.lstat(path);
  if (info.isDirectory) {
    for await (const entry of Deno.readDir(path)) {
      await syncTree(joinPath(path, entry.name));
    }
  }
  await syncPath(path);
}

async function buildPools(
  poolsDir: string,
  pools: readonly PoolSpec[],
): Promise<void> {
  await makeDir(poolsDir);
  for (const pool of pools) {
    const dir = joinPath(poolsDir, pool.name);
    await makeDir(dir);
    await makeFile(
      joinPath(dir, "exclusive"),
      pool.exclusive ? "1" : "0",
      TREE_MODES.file,
    );
    for (const list of pool.cpuLists) {
      await makeDir(joinPath(dir, list));
      await makeFile(joinPath(dir, list, "tasks"), "", TREE_MODES.file);
    }
  }
  await syncTree(poolsDir);
}

async function writeRootFiles(
  dir: string,
  files: readonly RootFile[],
): Promise<void> {
  for (const file of files) {
    await makeFile(joinPath(dir, file.name), file.text, TREE_MODES.file);
  }
}

/** True for entries a failed or killed `init` may leave behind. */
function isInitLeftover(name: string, files: readonly RootFile[]): boolean {
  return name === LOCK_FILE || name.startsWith(INIT_MARK) ||
    files.some((file) => file.name === name);
}

function checkRootFiles(files: readonly RootFile[]): void {
  for (const { name } of files) {
    if (
      name === LOCK_FILE || name === "pools" || name === "" ||
      name.includes("/") || name === "." || name === ".." ||
      name.startsWith(INIT_MARK)
    ) {
      throw new RangeError(`Cannot write ${quote(name)} at the config root`);
    }
  }
}

function createFailure(confDir: string, error: unknown): ConfigError {
  return error instanceof ConfigError ? error : new ConfigError(
    `Cannot create config directory ${quote(confDir)}: ${osErrorReason(error)}`,
    1,
    { cause: error },
  );
}

/** Builds a new directory at `confDir` (which does not exist) by rename. */
async function createFresh(
  confDir: string,
  pools: readonly PoolSpec[],
  files: readonly RootFile[],
): Promise<void> {
  const parent = dirName(normalizePath(confDir));
  const staging = joinPath(
    parent,
    `${INIT_MARK}${baseName(normalizePath(confDir))}.${ownStamp()}`,
  );
  try {
    await Deno.mkdir(parent, {
      recursive: true,
      mode: TREE_MODES.directory,
    });
    await makeDir(staging);
    await makeFile(joinPath(staging, LOCK_FILE), "", TREE_MODES.lock);
    await writeRootFiles(staging, files);
    await buildPools(joinPath(staging, "pools"), pools);
    await syncTree(staging);
    await Deno.rename(staging, confDir);
    await syncPath(parent);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw createFailure(confDir, error);
  }
}

/**
 * Fills an existing empty directory: the root files are renamed into it
 * first, `pools/` last, so a directory without `pools/` is not a
 * configuration yet (and a later `init` may replace what it holds).
 */
async function fillExisting(
  confDir: string,
  pools: readonly PoolSpec[],
  files: readonly RootFile[],
): Promise<void> {
  const leftovers: string[] = [];
  for await (const entry of Deno.readDir(confDir)) {
    if (!isInitLeftover(entry.name, files)) {
      throw new ConfigError(
        `Config directory ${confDir} already initialized`,
        1,
        { hint: "remove it first, or point --conf-dir elsewhere" },
      );
    }
    if (entry.name !== LOCK_FILE) leftovers.push(entry.name);
  }
  const staging = joinPath(confDir, `${INIT_MARK}${ownStamp()}`);
  const moved: string[] = [];
  let complete = false;
  try {
    for (const name of leftovers) {
      await Deno.remove(joinPath(confDir, name), { recursive: true });
    }
    await makeDir(staging);
    await writeRootFiles(staging, files);
    await buildPools(joinPath(staging, "pools"), pools);
    for (const file of files) await syncPath(joinPath(staging, file.name));
    await makeFile(joinPath(confDir, LOCK_FILE), "", TREE_MODES.lock);
    await syncPath(joinPath(confDir, LOCK_FILE));
    for (const file of files) {
      const target = joinPath(confDir, file.name);
      await Deno.rename(joinPath(staging, file.name), target);
      moved.push(target);
    }
    await Deno.rename(joinPath(staging, "pools"), joinPath(confDir, "pools"));
    complete = true;
    await Deno.remove(staging);
    await syncPath(confDir);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    // Without pools/ the root files describe nothing: take them back.
    if (!complete) {
      for (const path of moved) await Deno.remove(path).catch(() => {});
    }
    throw createFailure(confDir, error);
  }
}

/**
 * Creates a config directory holding `pools` and `options.rootFiles`, all
 * or nothing. An existing directory is accepted only when empty (or
 * holding only what an interrupted `init` left: `lock`, staging folders,
 * root files of the same names); then `pools/` is built inside it and
 * renamed last, which also works when the directory is a mount point.
 *
 * @throws {RangeError} when a root file is named `lock`, `pools` or is
 * not a plain file name.
 * @throws {ConfigError} when the directory exists and is not empty, or
 * cannot be created.
 */
export async function createConfigDir(
  confDir: string,
  pools: readonly PoolSpec[],
  options: CreateOptions = {},
): Promise<void> {
  const files = options.rootFiles ?? [];
  checkRootFiles(files);
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.stat(confDir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new ConfigError(
        `Cannot use config directory ${quote(confDir)}: ${
          osErrorReason(error)
        }`,
        1,
        { cause: error },
      );
    }
  }
  removeStaleStaging(confDir);
  if (existing === undefined) return await createFresh(confDir, pools, files);
  if (!existing.isDirectory) {
    throw new ConfigError(
      `Cannot create config directory ${
        quote(confDir)
      }: it exists and is not a directory`,
    );
  }
  await fillExisting(confDir, pools, files);
}
