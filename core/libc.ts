/**
 * The C library calls kcm makes over Deno FFI, in one table whose symbols
 * are bound one by one on first use (never at import), and the errno they
 * leave behind. Each symbol is its own `Deno.dlopen` of libc.so.6 (the
 * library itself is loaded once; further opens only count references):
 * Deno compiles a call trampoline for every symbol of a table it opens,
 * so a command pays only for the calls it makes.
 *
 * Side effects: opens libc.so.6 when a call is first made.
 *
 * Why each call is here and not a Deno API:
 * - `sched_setaffinity`: Deno has no affinity API (core/affinity.ts).
 * - `openat` without `O_CLOEXEC`: every descriptor Deno opens is
 *   close-on-exec; a claim's lock descriptor must be inherited by the
 *   command `isolate` runs (core/claim_file.ts).
 * - `flock`, `write`, `close` on such a descriptor, which Deno's file API
 *   does not know.
 * - `posix_spawnp` with `POSIX_SPAWN_SETSID`, and `waitpid(pid, WNOHANG)`
 *   for the child it started (core/spawn.ts): Deno's `detached` gets the
 *   same session by forking the whole runtime, about 4 ms per isolate.
 * - `waitid(WNOWAIT)` and `waitpid(pid, WNOHANG)`: reaping orphans when
 *   kcm is pid 1 of a container (core/reaper.ts); a process adopts its
 *   orphans there, and nothing else waits for them.
 * - `opendir`, `dirfd`, `readdir`, `closedir`, `open`: names that are not
 *   UTF-8, which Deno's API cannot pass or list (core/raw_fs.ts).
 * - `fchown`, `fchmod`: changing a file's owner and mode by descriptor
 *   (core/raw_fs.ts).
 */

import { encodeFileName } from "./file_names.ts";

/** errno values kcm tells apart (Linux, every architecture kcm runs on). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EAGAIN: 11, // also EWOULDBLOCK
  EACCES: 13,
  EFAULT: 14,
  EEXIST: 17,
  ENOTDIR: 20,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ECHILD: 10,
  EIO: 5,
  ENOEXEC: 8,
  ENOMEM: 12,
  ENFILE: 23,
  EMFILE: 24,
  ENAMETOOLONG: 36,
  ELOOP: 40,
} as const;

/** Symbolic names of {@linkcode ERRNO}, for messages. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(ERRNO)) {
    if (value === errno) return name;
  }
  return `errno ${errno}`;
}

/** openat(2)'s "relative to the working directory". */
export const AT_FDCWD = -100;

const ARM64 = Deno.build.arch === "aarch64";

/**
 * open(2) flags. `O_DIRECTORY` and `O_NOFOLLOW` differ between x86-64 and
 * arm64; the others are the same.
 */
export const O_FLAGS = {
  O_RDONLY: 0,
  O_RDWR: 2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NONBLOCK: 0o4000,
  O_DIRECTORY: ARM64 ? 0o40000 : 0o200000,
  O_NOFOLLOW: ARM64 ? 0o100000 : 0o400000,
  O_CLOEXEC: 0o2000000,
  O_PATH: 0o10000000,
} as const;

/** flock(2) operations. */
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

/** waitpid(2)/waitid(2) options and waitid's "any child". */
export const WAIT = {
  WNOHANG: 1,
  WEXITED: 4,
  WNOWAIT: 0x01000000,
  P_ALL: 0,
} as const;

const SYMBOLS = {
  sched_setaffinity: {
    // int sched_setaffinity(pid_t pid, size_t cpusetsize, const cpu_set_t *mask)
    parameters: ["i32", "usize", "buffer"],
    result: "i32",
  },
  openat: {
    // int openat(int dirfd, const char *pathname, int flags, mode_t mode)
    parameters: ["i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  flock: {
    // int flock(int fd, int operation)
    parameters: ["i32", "i32"],
    result: "i32",
  },
  write: {
    // ssize_t write(int fd, const void *buf, size_t count)
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
  },
  close: {
    // int close(int fd)
    parameters: ["i32"],
    result: "i32",
  },
  waitpid: {
    // pid_t waitpid(pid_t pid, int *wstatus, int options)
    parameters: ["i32", "buffer", "i32"],
    result: "i32",
  },
  waitid: {
    // int waitid(idtype_t idtype, id_t id, siginfo_t *infop, int options)
    parameters: ["i32", "u32", "buffer", "i32"],
    result: "i32",
  },
  opendir: {
    // DIR *opendir(const char *name)
    parameters: ["buffer"],
    result: "pointer",
  },
  dirfd: {
    // int dirfd(DIR *dirp)
    parameters: ["pointer"],
    result: "i32",
  },
  readdir: {
    // struct dirent *readdir(DIR *dirp)
    parameters: ["pointer"],
    result: "pointer",
  },
  closedir: {
    // int closedir(DIR *dirp)
    parameters: ["pointer"],
    result: "i32",
  },
  open: {
    // int open(const char *pathname, int flags), no O_CREAT: no mode
    parameters: ["buffer", "i32"],
    result: "i32",
  },
  fchown: {
    // int fchown(int fd, uid_t owner, gid_t group)
    parameters: ["i32", "u32", "u32"],
    result: "i32",
  },
  fchmod: {
    // int fchmod(int fd, mode_t mode)
    parameters: ["i32", "u32"],
    result: "i32",
  },
  posix_spawnp: {
    // int posix_spawnp(pid_t *pid, const char *file,
    //   const posix_spawn_file_actions_t *file_actions,
    //   const posix_spawnattr_t *attrp, char *const argv[], char *const envp[])
    parameters: ["buffer", "buffer", "pointer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  __errno_location: {
    // int *__errno_location(void)
    parameters: [],
    result: "pointer",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = typeof SYMBOLS;

/** The libc calls, typed. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Thrown when libc.so.6 cannot be opened (no glibc, FFI denied). */
export class LibcUnavailableError extends Error {
  constructor(cause: unknown) {
    super(
      `Cannot open libc.so.6: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "LibcUnavailableError";
  }
}

/** Opens libc.so.6 with the one symbol `name`. */
function bind<K extends keyof Symbols>(name: K): Libc[K] {
  const one = { [name]: SYMBOLS[name] } as Pick<Symbols, K>;
  try {
    return Deno.dlopen("libc.so.6", one).symbols[name] as Libc[K];
  } catch (error) {
    throw new LibcUnavailableError(error);
  }
}

/**
 * The table: each property binds its symbol when first read, then holds
 * the bound function.
 */
const table = {} as Libc;
for (const name of Object.keys(SYMBOLS) as (keyof Symbols)[]) {
  Object.defineProperty(table, name, {
    configurable: true,
    enumerable: true,
    get() {
      const bound = bind(name);
      Object.defineProperty(table, name, { value: bound, enumerable: true });
      return bound;
    },
  });
}

/**
 * The libc symbols, each bound on first use; reading one that cannot be
 * bound throws {@linkcode LibcUnavailableError}.
 */
export function libc(): Libc {
  return table;
}

/** The calling thread's errno, as the last failed call left it. */
export function lastErrno(lib: Libc): number {
  const pointer = lib.__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/**
 * A NUL-terminated copy of `text` for a `const char *` parameter: a path
 * or name, its bytes as core/file_names.ts encodes them (a name that is
 * not UTF-8 passes its own bytes).
 */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = encodeFileName(text);
  const c = new Uint8Array(bytes.length + 1);
  c.set(bytes);
  return c;
}
