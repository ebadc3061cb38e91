/**
 * Replacing files atomically: the new content goes to a temporary file
 * beside the target (`.kcm-tmp-<name>.<pid>.<random>`, created exclusively
 * so a planted file or link is never followed), which is then renamed over
 * the target. A reader sees the old content or the new, never a mix, and a
 * failure leaves the old file (or none) and no temporary file.
 *
 * Durability is a choice of the caller: a durable write also fsyncs the
 * temporary file before the rename and the directory after it, so the new
 * content survives a power loss. The config directory's tasks files are
 * written without it (core/config_write.ts says why); installed binaries
 * with it.
 *
 * A rename makes a new file, owned by whoever runs kcm with kcm's mode. With
 * `keepOwnership` the new file gets the replaced file's owner, group and
 * permission bits before the rename (core/raw_fs.ts, by descriptor), so a
 * tool that shares the directory under another user keeps its access.
 *
 * {@linkcode writeFileAtomic} reaches a directory whose path is not UTF-8
 * through `/proc/self/fd` (core/raw_fs.ts); the file's own name must be
 * UTF-8. Staged writes take a path Deno can use.
 *
 * Side effects: creates, writes, renames and removes files in the target's
 * directory; with `keepOwnership`, changes the owner and mode of the new
 * file.
 */

import { baseName, dirName, joinPath } from "./paths.ts";
import { FileWriteError, osErrorCode } from "./errors.ts";
import { matchOwnership, ownershipOf, withUsablePath } from "./raw_fs.ts";

/** How a file is written. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file (default 0o644); the umask applies. */
  readonly mode?: number;
  /** Exact permission bits to set before the rename (the umask ignored). */
  readonly chmod?: number;
  /**
   * Give the new file the owner, group and permission bits of the file it
   * replaces, if there is one (default false). Without the right to give
   * a file away (kcm not root), the owner is kcm's and the rest is kept.
   */
  readonly keepOwnership?: boolean;
  /**
   * Fsync the file before the rename and its directory after it (default
   * true). Without it the rename is still atomic, but a power loss may
   * bring back the old content.
   */
  readonly durable?: boolean;
  /** The path to name in errors, when `path` is not one a user knows. */
  readonly shown?: string;
}

/** A file and its new content. */
export interface FileContent {
  readonly path: string;
  readonly data: string;
  /** The path to name in errors, when `path` is not one a user knows. */
  readonly shown?: string;
}

/**
 * New content written to a temporary file beside its target, not yet
 * renamed into place: {@linkcode commitStaged} or {@linkcode discardStaged}
 * it. `info` is the temporary file's fstat(2) after the write, which the
 * target will have once renamed (same inode, same modification time).
 */
export interface StagedFile {
  readonly path: string;
  readonly shown: string;
  readonly temp: string;
  readonly info: Deno.FileInfo;
}

const TEMP_MARK = ".kcm-tmp-";
const encoder = new TextEncoder();

/** True for the name of a temporary file a writer creates (or left). */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_MARK);
}

/**
 * A fresh temporary name beside `path`. The random part only keeps apart
 * writers that share a pid (one that died, one that reused its pid), and an
 * exclusive create guards against anything planted there, so Math.random
 * serves: the first crypto.randomUUID() of a process costs a tenth of a
 * millisecond of `isolate`'s start-up.
 */
function tempPathFor(path: string): string {
  const suffix = Math.random().toString(36).slice(2, 10).padEnd(8, "0");
  return joinPath(
    dirName(path),
    `${TEMP_MARK}${baseName(path)}.${Deno.pid}.${suffix}`,
  );
}

function createTemp(temp: string, mode: number): Deno.FsFile {
  return Deno.openSync(temp, { write: true, createNew: true, mode });
}

function writeAllSync(file: Deno.FsFile, data: string): void {
  const bytes = encoder.encode(data);
  let written = 0;
  while (written < bytes.length) {
    written += file.writeSync(bytes.subarray(written));
  }
}

function syncDirectorySync(dir: string): void {
  using handle = Deno.openSync(dir, { read: true });
  handle.syncSync();
}

async function syncPath(path: string): Promise<void> {
  using file = await Deno.open(path, { read: true });
  await file.sync();
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Never created, or consumed by the rename.
  }
}

/**
 * Runs `use` with a path to `path` that Deno's API can open: `path`
 * itself, or one through `/proc/self/fd` when its directory's name is not
 * UTF-8.
 */
function inDirectory<T>(path: string, use: (path: string) => T): T {
  return withUsablePath(
    dirName(path),
    (dir) => use(joinPath(dir, baseName(path))),
  );
}

/**
 * Gives `temp` (open as `file`) the owner and mode of `target`, if it is a
 * regular file (a link is not followed: its target's owner is not kcm's
 * to copy).
 */
function keepOwnership(target: string, temp: string, file: Deno.FsFile): void {
  let old: Deno.FileInfo;
  try {
    old = Deno.lstatSync(target);
  } catch (error) {
    if (osErrorCode(error) === "ENOENT") return;
    throw error;
  }
  if (old.isFile) matchOwnership(temp, file, ownershipOf(old));
}

/** Writes `data` to a fresh temporary file beside `path`; returns its path. */
function writeTemp(
  path: string,
  data: string,
  options: AtomicWriteOptions,
  durable: boolean,
): string {
  const temp = tempPathFor(path);
  try {
    using file = createTemp(temp, options.mode ?? 0o644);
    writeAllSync(file, data);
    if (options.chmod !== undefined) Deno.chmodSync(temp, options.chmod);
    if (options.keepOwnership) keepOwnership(path, temp, file);
    if (durable) file.syncSync();
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
  return temp;
}

/**
 * Replaces `path` with `data`, synchronously: kcm calls it under the config
 * lock, where nothing else is waiting. Throws {@linkcode FileWriteError}.
 */
export function writeFileAtomic(
  path: string,
  data: string,
  options: AtomicWriteOptions = {},
): void {
  const durable = options.durable ?? true;
  try {
    inDirectory(path, (target) => {
      const temp = writeTemp(target, data, options, durable);
      try {
        Deno.renameSync(temp, target);
      } catch (error) {
        removeQuietly(temp);
        throw error;
      }
      if (durable) syncDirectorySync(dirName(target));
    });
  } catch (error) {
    throw new FileWriteError(options.shown ?? path, error);
  }
}

/**
 * Writes `file.data` to a fresh temporary file beside `file.path` and
 * returns it staged (not durably); with `keepOwnership`, the temporary
 * file has the owner and mode of the file it is to replace. `file.path`
 * must be a path Deno can use (UTF-8: core/confined_dir.ts reaches a
 * directory whose name is not through `/proc/self/fd`). Throws
 * {@linkcode FileWriteError}.
 */
export function stageFile(
  file: FileContent,
  options: Pick<AtomicWriteOptions, "keepOwnership"> = {},
): StagedFile {
  const temp = tempPathFor(file.path);
  const shown = file.shown ?? file.path;
  try {
    using handle = createTemp(temp, 0o644);
    writeAllSync(handle, file.data);
    if (options.keepOwnership) keepOwnership(file.path, temp, handle);
    return { path: file.path, shown, temp, info: handle.statSync() };
  } catch (error) {
    removeQuietly(temp);
    throw new FileWriteError(shown, error);
  }
}

/** Renames a staged file over its target. Throws {@linkcode FileWriteError}. */
export function commitStaged(staged: StagedFile): void {
  try {
    Deno.renameSync(staged.temp, staged.path);
  } catch (error) {
    removeQuietly(staged.temp);
    throw new FileWriteError(staged.shown, error);
  }
}

/** Removes a staged file's temporary file (after a failure elsewhere). */
export function discardStaged(staged: StagedFile): void {
  removeQuietly(staged.temp);
}

/**
 * Replaces several files, none durably: every new content is written to
 * its temporary file first, and only when all are written are they
 * renamed into place, so a failure to write (a full disk, say) changes no
 * file of the batch. Throws {@linkcode FileWriteError} naming the file it
 * failed on.
 */
export function writeFilesAtomic(
  files: readonly FileContent[],
  options: Pick<AtomicWriteOptions, "keepOwnership"> = {},
): void {
  const staged: StagedFile[] = [];
  try {
    for (const file of files) staged.push(stageFile(file, options));
    for (const file of staged) commitStaged(file);
  } catch (error) {
    for (const file of staged) discardStaged(file);
    throw error;
  }
}

/**
 * Replaces `path` with whatever `fill` writes to the open temporary file
 * (for content too big to hold in memory, such as an executable). Async,
 * for commands with nothing else to do. Throws {@linkcode FileWriteError}.
 */
export async function replaceFileAtomic(
  path: string,
  fill: (file: Deno.FsFile) => Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const temp = tempPathFor(path);
  try {
    {
      using file = await Deno.open(temp, {
        write: true,
        createNew: true,
        mode: options.mode ?? 0o644,
      });
      await fill(file);
      if (options.chmod !== undefined) await Deno.chmod(temp, options.chmod);
      if (durable) await file.sync();
    }
    await Deno.rename(temp, path);
    if (durable) await syncPath(dirName(path));
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new FileWriteError(path, error);
  }
}
