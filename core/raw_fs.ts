/**
 * The file operations Deno's API cannot do, over libc (core/libc.ts, each
 * call bound on first need only, never at import):
 * - paths holding bytes that are not UTF-8 (core/file_names.ts carries
 *   them as lone surrogates). Deno takes and gives paths as UTF-8 only: it
 *   lists `caf\xe9` as `caf\ufffd` and cannot open it. Here such a
 *   directory is opened with opendir(3) and reached as `/proc/self/fd/<n>`,
 *   a path Deno can use; a listing that came back with U+FFFD is redone
 *   with readdir(3), which gives the bytes. `node:fs` is no way out: Deno's
 *   implementation of it converts names to UTF-8 the same way.
 * - fchown(2) and fchmod(2): changing the owner of a file by path follows
 *   whatever a writer of the directory put there meanwhile; by descriptor
 *   it cannot.
 * A directory of UTF-8 names never loads libc here.
 *
 * Side effects: calls libc; lists directories; opens files and
 * directories; changes the owner and mode of a file kcm just created.
 * Needs /proc mounted for the non-UTF-8 paths and for a change of owner
 * (the reopened file is checked through `/proc/self/fd`).
 */

import { decodeFileName, hasRawBytes } from "./file_names.ts";
import { errorMessage } from "./errors.ts";
import {
  cString,
  ERRNO,
  errnoName,
  lastErrno,
  type Libc,
  libc as openLibc,
  O_FLAGS,
} from "./libc.ts";

const { O_RDONLY, O_NOFOLLOW, O_CLOEXEC } = O_FLAGS;

/** A failed libc call: `code` is the errno name, as Deno's errors carry. */
export class RawFsError extends Error {
  /** The errno name, e.g. `ENOENT` (`errno <n>` for one kcm does not name). */
  readonly code: string;
  /** The errno number. */
  readonly errno: number;
  /** The path the call was given. */
  readonly path: string;

  constructor(call: string, path: string, errno: number) {
    const code = errnoName(errno);
    super(`${call} failed: ${code}`);
    this.name = "RawFsError";
    this.code = code;
    this.errno = errno;
    this.path = path;
  }
}

function openDirectory(lib: Libc, path: string): Deno.PointerObject {
  const dir = lib.opendir(cString(path));
  if (dir === null) throw new RawFsError("opendir", path, lastErrno(lib));
  return dir;
}

/**
 * Runs `use` with a path Deno's API can open in place of `path`: `path`
 * itself when it is UTF-8, else `/proc/self/fd/<n>/<rest>`, where `<n>` is
 * the deepest directory of `path` whose name is not UTF-8, held open until
 * `use` returns. A path whose last name is not UTF-8 must be a directory.
 */
export function withUsablePath<T>(path: string, use: (path: string) => T): T {
  if (!hasRawBytes(path)) return use(path);
  const parts = path.split("/");
  const last = parts.findLastIndex(hasRawBytes);
  const lib = openLibc();
  const dir = openDirectory(lib, parts.slice(0, last + 1).join("/"));
  try {
    const rest = parts.slice(last + 1);
    return use([`/proc/self/fd/${lib.dirfd(dir)}`, ...rest].join("/"));
  } finally {
    lib.closedir(dir);
  }
}

/** An entry of a directory, as Deno's `readDirSync` gives it. */
export interface DirEntry {
  readonly name: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly isSymlink: boolean;
}

/** `d_type` values of struct dirent. */
const DT_UNKNOWN = 0, DT_DIR = 4, DT_REG = 8, DT_LNK = 10;
/** Offsets in Linux's struct dirent (64-bit): d_reclen, d_type, d_name. */
const D_RECLEN = 16, D_TYPE = 18, D_NAME = 19;

/** Lists `dir` (a UTF-8 path) with readdir(3): names with their bytes. */
function listWithLibc(dir: string): DirEntry[] {
  const lib = openLibc();
  const handle = openDirectory(lib, dir);
  const entries: DirEntry[] = [];
  try {
    for (;;) {
      const entry = lib.readdir(handle);
      if (entry === null) break;
      const view = new Deno.UnsafePointerView(entry);
      const bytes = new Uint8Array(
        Deno.UnsafePointerView.getArrayBuffer(
          entry,
          view.getUint16(D_RECLEN) - D_NAME,
          D_NAME,
        ),
      );
      const name = decodeFileName(bytes.subarray(0, bytes.indexOf(0)));
      if (name === "." || name === "..") continue;
      let type = view.getUint8(D_TYPE);
      if (type === DT_UNKNOWN) {
        // Some file systems do not fill d_type: ask opendir(3).
        try {
          lib.closedir(openDirectory(lib, `${dir}/${name}`));
          type = DT_DIR;
        } catch {
          type = DT_REG;
        }
      }
      entries.push({
        name,
        isFile: type === DT_REG,
        isDirectory: type === DT_DIR,
        isSymlink: type === DT_LNK,
      });
    }
  } finally {
    lib.closedir(handle);
  }
  return entries;
}

/**
 * The entries of directory `dir`, names not UTF-8 included (as
 * core/file_names.ts decodes them). Deno lists the directory; only when a
 * name came back with U+FFFD, the mark of a name that is not UTF-8 (or of
 * a real U+FFFD), is it listed again with readdir(3). Throws what
 * `Deno.readDirSync` throws, or a {@linkcode RawFsError}.
 */
export function readDirectory(dir: string): DirEntry[] {
  return withUsablePath(dir, (usable) => {
    const entries = [...Deno.readDirSync(usable)];
    if (!entries.some((entry) => entry.name.includes("\ufffd"))) {
      return entries;
    }
    return listWithLibc(usable);
  });
}

/** The owner and permission bits a replaced file had. */
export interface Ownership {
  readonly uid: number;
  readonly gid: number;
  /** Permission bits (`st_mode & 0o7777`). */
  readonly mode: number;
}

/** The owner and permission bits of a file's stat. */
export function ownershipOf(info: Deno.FileInfo): Ownership {
  return {
    uid: info.uid ?? 0,
    gid: info.gid ?? 0,
    mode: (info.mode ?? 0) & 0o7777,
  };
}

function sameOwnership(a: Ownership, b: Ownership): boolean {
  return a.uid === b.uid && a.gid === b.gid && a.mode === b.mode;
}

/**
 * Gives the file kcm just created at `path` (open as `file`) the owner and
 * permission bits `wanted`, by descriptor: the file is opened again
 * without following links and checked to be the same inode as `file`, so
 * whatever replaced the name meanwhile is never touched. Nothing happens
 * when the file has them already. Where kcm may not give the file away
 * (not root: EPERM), it keeps what it can (the group, else nothing) and
 * still sets the mode.
 */
export function matchOwnership(
  path: string,
  file: Deno.FsFile,
  wanted: Ownership,
): void {
  const created = file.statSync();
  if (sameOwnership(ownershipOf(created), wanted)) return;
  withUsablePath(path, (usable) => {
    const lib = openLibc();
    const fd = lib.open(cString(usable), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw new RawFsError("open", path, lastErrno(lib));
    try {
      const opened = Deno.statSync(`/proc/self/fd/${fd}`);
      if (opened.dev !== created.dev || opened.ino !== created.ino) {
        throw new Error(`${path} was replaced while kcm wrote it`);
      }
      if (created.uid !== wanted.uid || created.gid !== wanted.gid) {
        chownBestEffort(lib, fd, path, wanted);
      }
      if (lib.fchmod(fd, wanted.mode) !== 0) {
        throw new RawFsError("fchmod", path, lastErrno(lib));
      }
    } catch (error) {
      if (error instanceof RawFsError) throw error;
      throw new Error(
        `Cannot set the owner of ${path}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    } finally {
      lib.close(fd);
    }
  });
}

/** fchown(2) to `wanted`; without the right to, the group alone, else nothing. */
function chownBestEffort(
  lib: Libc,
  fd: number,
  path: string,
  wanted: Ownership,
): void {
  if (lib.fchown(fd, wanted.uid, wanted.gid) === 0) return;
  let errno = lastErrno(lib);
  if (errno === ERRNO.EPERM) {
    if (lib.fchown(fd, 0xffffffff, wanted.gid) === 0) return;
    errno = lastErrno(lib);
    if (errno === ERRNO.EPERM) return;
  }
  throw new RawFsError("fchown", path, errno);
}
