/**
 * Creating a config directory (`kcm init`), all or nothing: the tree is
 * built beside its final place, fsynced, and renamed into it, so a failed
 * or killed `init` leaves nothing that looks like a configuration.
 *
 * Side effects: creates directories and files at and beside the config
 * directory, fsyncs them, and removes its own staging folder (or the one
 * an interrupted `init` left) on the way.
 */

import { baseName, dirName, joinPath, normalizePath } from "./paths.ts";
import { LOCK_FILE } from "./config_paths.ts";
import { ConfigError, osErrorReason } from "./errors.ts";
import { quote } from "./quote.ts";

/** A pool to create: its flag and cpu-list directory names. */
export interface PoolSpec {
  readonly name: string;
  readonly exclusive: boolean;
  readonly cpuLists: readonly string[];
}

const INIT_MARK = ".kcm-init-";

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
  await Deno.mkdir(poolsDir);
  for (const pool of pools) {
    const dir = joinPath(poolsDir, pool.name);
    await Deno.mkdir(dir);
    await Deno.writeTextFile(
      joinPath(dir, "exclusive"),
      pool.exclusive ? "1" : "0",
    );
    for (const list of pool.cpuLists) {
      await Deno.mkdir(joinPath(dir, list));
      await Deno.writeTextFile(joinPath(dir, list, "tasks"), "");
    }
  }
  await syncTree(poolsDir);
}

/** True for entries a failed or killed `init` may leave behind. */
function isInitLeftover(name: string): boolean {
  return name === LOCK_FILE || name.startsWith(INIT_MARK);
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
): Promise<void> {
  const parent = dirName(normalizePath(confDir));
  const staging = joinPath(
    parent,
    `${INIT_MARK}${baseName(normalizePath(confDir))}.${Deno.pid}`,
  );
  try {
    await Deno.mkdir(parent, { recursive: true });
    await Deno.mkdir(staging);
    await Deno.writeTextFile(joinPath(staging, LOCK_FILE), "");
    await buildPools(joinPath(staging, "pools"), pools);
    await syncTree(staging);
    await Deno.rename(staging, confDir);
    await syncPath(parent);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw createFailure(confDir, error);
  }
}

/** Fills an existing empty directory, renaming `pools/` into it last. */
async function fillExisting(
  confDir: string,
  pools: readonly PoolSpec[],
): Promise<void> {
  const leftovers: string[] = [];
  for await (const entry of Deno.readDir(confDir)) {
    if (!isInitLeftover(entry.name)) {
      throw new ConfigError(
        `Config directory ${confDir} already initialized`,
        1,
        { hint: "remove it first, or point --conf-dir elsewhere" },
      );
    }
    if (entry.name !== LOCK_FILE) leftovers.push(entry.name);
  }
  const staging = joinPath(confDir, `${INIT_MARK}${Deno.pid}`);
  try {
    for (const name of leftovers) {
      await Deno.remove(joinPath(confDir, name), { recursive: true });
    }
    await Deno.mkdir(staging);
    await buildPools(joinPath(staging, "pools"), pools);
    await Deno.writeTextFile(joinPath(confDir, LOCK_FILE), "");
    await syncPath(joinPath(confDir, LOCK_FILE));
    await Deno.rename(joinPath(staging, "pools"), joinPath(confDir, "pools"));
    await Deno.remove(staging);
    await syncPath(confDir);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw createFailure(confDir, error);
  }
}

/**
 * Creates a config directory holding `pools`, all or nothing. An existing
 * directory is accepted only when empty (or holding only what an
 * interrupted `init` left); then `pools/` is built inside it and renamed
 * last, which also works when the directory is a mount point.
 */
export async function createConfigDir(
  confDir: string,
  pools: readonly PoolSpec[],
): Promise<void> {
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
  if (existing === undefined) return await createFresh(confDir, pools);
  if (!existing.isDirectory) {
    throw new ConfigError(
      `Cannot create config directory ${
        quote(confDir)
      }: it exists and is not a directory`,
    );
  }
  await fillExisting(confDir, pools);
}
