/**
 * Directories and files inside the config directory, reached without ever
 * following a symbolic link and without ever opening anything but a
 * directory or a regular file of bounded size.
 *
 * Each directory is held open (an `O_PATH` descriptor from openat(2) with
 * `O_NOFOLLOW`, taken relative to its parent's descriptor), and everything
 * inside it is reached through the kernel's `/proc/self/fd/<fd>/<name>`,
 * which resolves to that very directory whatever happens to the path above
 * it. So a pool or cpu-list directory swapped for a link to `/etc` between
 * two steps still cannot make kcm read, write or delete there. A file is
 * first opened `O_PATH | O_NOFOLLOW` (which never runs a device's open
 * routine nor blocks on a FIFO), checked with fstat to be a regular file
 * of at most {@linkcode MAX_FILE_BYTES}, and only then opened for reading
 * through its own descriptor, so it is the same inode that was checked.
 *
 * The config directory's own path (`--conf-dir`) is the operator's and may
 * pass through links (`/etc/kcm -> /data/kcm`); only what is inside it is
 * held to these rules. An entry that breaks them is an
 * {@linkcode EntryError}: a finding that names the path and what it is,
 * never what it points to or holds.
 *
 * A name that is not UTF-8 (core/file_names.ts) is opened through its
 * bytes and listed with readdir(3) (core/raw_fs.ts); below an open
 * directory every path Deno sees is `/proc/self/fd/<fd>/...`, so only the
 * files kcm names itself (`tasks`, `owners`, temporary files) must be
 * UTF-8.
 *
 * Side effects: opens and closes descriptors through libc (core/libc.ts),
 * reads directories and files, and removes, renames and creates entries
 * when asked, all below the directory it is given. Needs kcm's own procfs
 * at `/proc`.
 */

import { joinPath } from "./paths.ts";
import { ConfigError, errnoReason, osErrorReason } from "./errors.ts";
import {
  AT_FDCWD,
  cString,
  ERRNO,
  errnoName,
  lastErrno,
  libc,
  O_FLAGS,
} from "./libc.ts";
import { OWN_PROC_ROOT } from "./procfs.ts";
import { quote } from "./quote.ts";
import { readDirectory } from "./raw_fs.ts";
import { hasRawBytes } from "./file_names.ts";

/** The most a file of the config directory may hold: 1 MiB. */
export const MAX_FILE_BYTES = 1 << 20;

/** Why an entry of the config directory is not used. */
export type EntryProblem =
  | "symlink"
  | "not a directory"
  | "not a regular file"
  | "too large"
  | "missing"
  | "unreadable";

/**
 * An entry kcm does not use: a symbolic link, a FIFO or device where a
 * file should be, a file that is too large, or one that cannot be opened.
 * It names the entry's path (as under `--conf-dir`) and the problem, as
 * `Cannot read <what> "<path>": <reason>` (the path quoted by
 * core/quote.ts).
 */
export class EntryError extends ConfigError {
  /** The entry, under the config directory as given. */
  readonly path: string;
  readonly problem: EntryProblem;
  /** The errno of the failed call, for "missing" and "unreadable". */
  readonly errno: number | undefined;

  constructor(
    what: string,
    path: string,
    problem: EntryProblem,
    reason: string,
    errno?: number,
  ) {
    super(`Cannot read ${what} ${quote(path)}: ${reason}`);
    this.path = path;
    this.problem = problem;
    this.errno = errno;
  }
}

/** What a directory entry is, from the directory listing (not followed). */
export type EntryKind = "directory" | "file" | "symlink" | "other";

/** One entry of a {@linkcode ConfinedDir}. */
export interface ConfinedEntry {
  readonly name: string;
  readonly kind: EntryKind;
}

/** A regular file's content and the fstat(2) of what was read. */
export interface FileRead {
  readonly text: string;
  readonly info: Deno.FileInfo;
}

const LINK_REASON =
  "it is a symbolic link, and kcm follows none inside the config directory";

function kindName(info: Deno.FileInfo): string {
  if (info.isSymlink) return "a symbolic link";
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** The path through which the kernel reaches the object of `fd`. */
function fdPath(fd: number): string {
  return `${OWN_PROC_ROOT}/self/fd/${fd}`;
}

function openPath(
  dirFd: number,
  name: string,
  where: { what: string; shown: string },
  follow = false,
): number {
  const lib = libc();
  const fd = lib.openat(
    dirFd,
    cString(name),
    O_FLAGS.O_PATH | O_FLAGS.O_CLOEXEC | (follow ? 0 : O_FLAGS.O_NOFOLLOW),
    0,
  );
  if (fd >= 0) return fd;
  const errno = lastErrno(lib);
  const code = errnoName(errno);
  throw new EntryError(
    where.what,
    where.shown,
    errno === ERRNO.ENOENT ? "missing" : "unreadable",
    errnoReason(code),
    errno,
  );
}

function closeFd(fd: number): void {
  libc().close(fd);
}

/** An open directory inside (or at) the config directory; see the module doc. */
export class ConfinedDir implements Disposable {
  /** The directory's path as shown in messages. */
  readonly path: string;
  readonly #fd: number;
  #closed = false;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /**
   * Opens the config directory itself (links in `path` are followed: the
   * path is the operator's).
   */
  static openRoot(path: string, what = "config directory"): ConfinedDir {
    const where = { what, shown: path };
    const fd = openPath(AT_FDCWD, path, where, true);
    return new ConfinedDir(path, ConfinedDir.#checkDirectory(fd, where));
  }

  static #checkDirectory(
    fd: number,
    where: { what: string; shown: string },
  ): number {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(fdPath(fd));
    } catch (error) {
      closeFd(fd);
      throw new EntryError(
        where.what,
        where.shown,
        "unreadable",
        osErrorReason(error),
      );
    }
    if (info.isDirectory) return fd;
    closeFd(fd);
    throw info.isSymlink
      ? new EntryError(where.what, where.shown, "symlink", LINK_REASON)
      : new EntryError(
        where.what,
        where.shown,
        "not a directory",
        `it is ${kindName(info)}, not a directory`,
      );
  }

  /**
   * Opens sub-directory `name` (`what` names it in messages); a link or
   * anything else is an {@linkcode EntryError}.
   */
  openDir(name: string, what = "directory"): ConfinedDir {
    const where = { what, shown: this.shown(name) };
    const fd = openPath(this.#fd, name, where);
    return new ConfinedDir(where.shown, ConfinedDir.#checkDirectory(fd, where));
  }

  /**
   * The kernel path of entry `name` of this very directory (never
   * re-resolved above it), for Deno's API: `name` must be UTF-8.
   */
  at(name: string): string {
    return `${fdPath(this.#fd)}/${name}`;
  }

  /** The path of entry `name` as shown in messages. */
  shown(name: string): string {
    return joinPath(this.path, name);
  }

  /** The entries, as the directory lists them (links not followed), unsorted. */
  entries(): ConfinedEntry[] {
    const found: ConfinedEntry[] = [];
    try {
      for (const entry of readDirectory(fdPath(this.#fd))) {
        found.push({
          name: entry.name,
          kind: entry.isSymlink
            ? "symlink"
            : entry.isDirectory
            ? "directory"
            : entry.isFile
            ? "file"
            : "other",
        });
      }
    } catch (error) {
      throw new EntryError(
        "directory",
        this.path,
        "unreadable",
        osErrorReason(error),
      );
    }
    return found;
  }

  /**
   * Reads regular file `name` (`what` names it in messages), at most
   * `limit` bytes. A link, FIFO, device, socket or directory, a larger
   * file, or one that cannot be opened is an {@linkcode EntryError}.
   */
  readFile(
    name: string,
    what = "file",
    limit: number = MAX_FILE_BYTES,
  ): FileRead {
    const where = { what, shown: this.shown(name) };
    const fd = openPath(this.#fd, name, where);
    try {
      const info = Deno.statSync(fdPath(fd));
      if (info.isSymlink) {
        throw new EntryError(what, where.shown, "symlink", LINK_REASON);
      }
      if (!info.isFile) {
        throw new EntryError(
          what,
          where.shown,
          "not a regular file",
          `it is ${kindName(info)}, not a regular file`,
        );
      }
      if (info.size > limit) throw tooLarge(where, limit);
      const bytes = readBounded(fdPath(fd), info.size, limit, where);
      return { text: new TextDecoder().decode(bytes), info };
    } catch (error) {
      if (error instanceof EntryError) throw error;
      throw new EntryError(
        what,
        where.shown,
        "unreadable",
        osErrorReason(error),
      );
    } finally {
      closeFd(fd);
    }
  }

  /** lstat(2) of entry `name`; null when it does not exist. */
  lstat(name: string): Deno.FileInfo | null {
    if (hasRawBytes(name)) return this.#lstatRaw(name);
    try {
      return Deno.lstatSync(this.at(name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /** lstat(2) of a name Deno cannot pass: through its own descriptor. */
  #lstatRaw(name: string): Deno.FileInfo | null {
    let fd: number;
    try {
      fd = openPath(this.#fd, name, { what: "entry", shown: this.shown(name) });
    } catch (error) {
      if (error instanceof EntryError && error.problem === "missing") {
        return null;
      }
      throw error;
    }
    try {
      return Deno.statSync(fdPath(fd));
    } finally {
      closeFd(fd);
    }
  }

  /** Closes the directory's descriptor; a second call does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function tooLarge(
  where: { what: string; shown: string },
  limit: number,
): EntryError {
  return new EntryError(
    where.what,
    where.shown,
    "too large",
    `it holds more than ${limit} bytes, the most kcm reads from one file`,
  );
}

/**
 * Reads `path` to its end, expecting about `size` bytes (it may have
 * changed since the fstat); more than `limit` is an {@linkcode EntryError}.
 */
function readBounded(
  path: string,
  size: number,
  limit: number,
  where: { what: string; shown: string },
): Uint8Array {
  using file = Deno.openSync(path, { read: true });
  let buffer = new Uint8Array(Math.min(limit + 1, size + 64));
  let filled = 0;
  for (;;) {
    if (filled === buffer.length) {
      if (buffer.length > limit) throw tooLarge(where, limit);
      const bigger = new Uint8Array(Math.min(limit + 1, buffer.length * 2));
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = file.readSync(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}
