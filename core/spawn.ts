/**
 * Starting a command in a session of its own over libc, and reaping it:
 * `posix_spawnp` with `POSIX_SPAWN_SETSID`, then `waitpid(pid, WNOHANG)`
 * on the event loop's own thread each time a SIGCHLD arrives.
 *
 * Why not `Deno.Command` with `detached`: to call setsid(2) in the child,
 * Rust's standard library gives up `posix_spawn` and forks the whole Deno
 * process, page tables and all, which cost `isolate` about 4 ms on the
 * test machine (bench/README.md). glibc's `posix_spawn` starts the child
 * with `clone(CLONE_VM | CLONE_VFORK)` and reports a failed exec as its
 * result.
 *
 * Why SIGCHLD and not a waiting thread: the wait never blocks, so no call
 * is left running on another thread when kcm exits, and the child is
 * reaped on the same thread that forwards signals to it, so once it is
 * reaped no signal can reach another process that reused its pid.
 *
 * The child gets what Rust's `Command` gives it: kcm's environment (its
 * bytes as the kernel holds them in `/proc/self/environ`, names that are
 * not UTF-8 included) with the extra variables given, stdio, the working
 * directory and every descriptor not marked close-on-exec (a claim's lock,
 * see core/claim_file.ts), an empty signal mask, and SIGPIPE back to its
 * default (Deno ignores it). Handlers kcm installed are reset by exec(2);
 * a signal kcm's parent ignored (`nohup`) stays ignored.
 *
 * Side effects: starts a process; listens for SIGCHLD until it is reaped.
 */

import { cString, ERRNO, lastErrno, libc, WAIT } from "./libc.ts";
import { joinPath } from "./paths.ts";

/** posix_spawnattr_setflags(3) flags (glibc). */
const SPAWN_FLAGS = {
  SETSIGDEF: 0x04,
  SETSIGMASK: 0x08,
  SETSID: 0x80,
} as const;

/**
 * glibc's `posix_spawnattr_t` (<spawn.h>; the same on x86-64 and arm64):
 * `short __flags` at 0, `sigset_t __sd` (signals set to their default) at
 * 8, `sigset_t __ss` (the mask, left empty) at 136, 336 bytes in all.
 */
const ATTR = { BYTES: 336, FLAGS: 0, SIGDEFAULT: 8 } as const;
const SIGPIPE = 13;

/**
 * The attributes posix_spawnattr_init(3), _setflags, _setsigdefault and
 * _setsigmask would leave (init zeroes the struct; the setters store what
 * they are given; destroy does nothing), filled here to spare binding five
 * more libc symbols on isolate's start-up: a new session, an empty mask,
 * SIGPIPE back to its default.
 */
function spawnAttributes(): Uint8Array<ArrayBuffer> {
  const attr = new Uint8Array(ATTR.BYTES);
  new DataView(attr.buffer).setInt16(
    ATTR.FLAGS,
    SPAWN_FLAGS.SETSID | SPAWN_FLAGS.SETSIGDEF | SPAWN_FLAGS.SETSIGMASK,
    true,
  );
  // A sigset_t is an array of unsigned longs, signal n at bit n-1
  // (little-endian on both architectures).
  const bit = SIGPIPE - 1;
  attr[ATTR.SIGDEFAULT + (bit >> 3)] = 1 << (bit & 7);
  return attr;
}

/**
 * A NULL-terminated array of pointers to `strings` (which the caller keeps
 * alive while the array is used).
 */
function pointerArray(
  strings: readonly Uint8Array<ArrayBuffer>[],
): Uint8Array<ArrayBuffer> {
  const pointers = new BigUint64Array(strings.length + 1);
  strings.forEach((bytes, i) => {
    pointers[i] = BigInt(
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)),
    );
  });
  return new Uint8Array(pointers.buffer);
}

const EQUALS = 0x3d;

/**
 * `NAME=value` entries, NUL-terminated: kcm's environment as the kernel
 * holds it, the names in `extra` replaced by their new values.
 */
function environment(
  procRoot: string,
  extra: Readonly<Record<string, string>>,
): Uint8Array<ArrayBuffer>[] {
  const raw = Deno.readFileSync(joinPath(procRoot, "self/environ"));
  const replaced = new Set(Object.keys(extra));
  const decoder = new TextDecoder();
  const entries: Uint8Array<ArrayBuffer>[] = [];
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf(0, start);
    if (end === -1) end = raw.length;
    const entry = raw.subarray(start, end);
    start = end + 1;
    const equals = entry.indexOf(EQUALS);
    const name = decoder.decode(
      equals === -1 ? entry : entry.subarray(0, equals),
    );
    if (entry.length === 0 || replaced.has(name)) continue;
    const copy = new Uint8Array(entry.length + 1);
    copy.set(entry);
    entries.push(copy);
  }
  for (const [name, value] of Object.entries(extra)) {
    entries.push(cString(`${name}=${value}`));
  }
  return entries;
}

/** A command that could not be started, with posix_spawnp's errno. */
export class SpawnFailure extends Error {
  readonly errno: number;
  constructor(command: string, errno: number) {
    super(`posix_spawnp(${command}) failed with errno ${errno}`);
    this.name = "SpawnFailure";
    this.errno = errno;
  }
}

/**
 * A command started in a session of its own. It is reaped when a SIGCHLD
 * says it ended (and once just after it starts, in case it ended before
 * kcm looked); from then on {@linkcode kill} throws instead of signalling
 * a pid that may have been reused.
 */
export class SessionChild {
  readonly pid: number;
  /** The exit code: its status, or 128+N when signal N ended it. */
  readonly exitCode: Promise<number>;
  #code: number | undefined;
  readonly #settle: PromiseWithResolvers<number>;
  readonly #listener = () => this.#reap();
  /** Keeps the event loop alive until the child is reaped (see below). */
  readonly #keepAlive: MessagePort;
  readonly #status = new Int32Array(1);

  /**
   * Starts `command` (looked up in kcm's PATH) with `args`, its
   * environment kcm's (read from `procRoot`, kcm's own procfs) with `env`
   * on top. Throws
   * {@linkcode SpawnFailure} when it cannot be started (ENOENT: not
   * found; EACCES, ENOEXEC: not runnable).
   */
  constructor(
    command: string,
    args: readonly string[],
    env: Readonly<Record<string, string>>,
    procRoot = "/proc",
  ) {
    this.#settle = Promise.withResolvers<number>();
    this.exitCode = this.#settle.promise;
    // Listening first puts a handler on SIGCHLD, so even a SIGCHLD that
    // kcm's parent left ignored (which would make the kernel reap the
    // child itself) is caught once the child ends.
    Deno.addSignalListener("SIGCHLD", this.#listener);
    try {
      this.pid = spawnCommand(command, args, environment(procRoot, env));
    } catch (error) {
      Deno.removeSignalListener("SIGCHLD", this.#listener);
      throw error;
    }
    // A signal listener does not keep Deno's event loop alive everywhere
    // (`deno test` ends it), and a first timer costs ~7 ms of start-up in
    // Deno 2.9; a message port that listens does, for under 1 ms.
    this.#keepAlive = new MessageChannel().port1;
    this.#keepAlive.start();
    // Not now: the caller may read the child's status in /proc first (a
    // child that already exited stays a zombie there until reaped).
    queueMicrotask(this.#listener);
  }

  /** Sends `signal`; throws once the child has been reaped. */
  kill(signal: Deno.Signal): void {
    if (this.#code !== undefined) {
      throw new Deno.errors.NotFound(`pid ${this.pid} already exited`);
    }
    Deno.kill(this.pid, signal);
  }

  #reap(): void {
    if (this.#code !== undefined) return;
    const lib = libc();
    const result = lib.waitpid(
      this.pid,
      new Uint8Array(this.#status.buffer),
      WAIT.WNOHANG,
    );
    if (result === 0) return; // still running
    if (result === this.pid) {
      const raw = this.#status[0]!;
      const signal = raw & 0x7f;
      this.#finish(signal === 0 ? (raw >> 8) & 0xff : 128 + signal);
      return;
    }
    const errno = lastErrno(lib);
    if (errno === ERRNO.EINTR) return; // the next SIGCHLD or call retries
    this.#finish(undefined, errno);
  }

  #finish(code: number | undefined, errno?: number): void {
    Deno.removeSignalListener("SIGCHLD", this.#listener);
    this.#keepAlive.close();
    if (code !== undefined) {
      this.#code = code;
      this.#settle.resolve(code);
      return;
    }
    // ECHILD: no longer kcm's child to wait for (reaped elsewhere).
    this.#code = -1;
    this.#settle.reject(
      new Error(`waitpid(${this.pid}) failed with errno ${errno}`),
    );
  }
}

/**
 * Starts `command` as execvp(3) would, which is what Rust's `Command`
 * does, and `taskset`, `nice` and `env`: an executable file that the
 * kernel cannot run (ENOEXEC: a script without a `#!` line) is run by
 * `/bin/sh`. glibc's posix_spawnp(3) no longer does that itself.
 */
function spawnCommand(
  command: string,
  args: readonly string[],
  envp: readonly Uint8Array<ArrayBuffer>[],
): number {
  try {
    return spawnInSession(command, [command, ...args], envp);
  } catch (error) {
    if (!(error instanceof SpawnFailure) || error.errno !== ERRNO.ENOEXEC) {
      throw error;
    }
    const script = findExecutable(command);
    if (script === undefined) throw error;
    return spawnInSession("/bin/sh", ["/bin/sh", script, ...args], envp);
  }
}

/**
 * The file execvp(3) would run for `command`: itself when it names a
 * path, else the first executable regular file of that name along PATH.
 */
function findExecutable(command: string): string | undefined {
  if (command.includes("/")) return command;
  const path = Deno.env.get("PATH") ?? "/bin:/usr/bin";
  for (const dir of path.split(":")) {
    const candidate = joinPath(dir === "" ? "." : dir, command);
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return candidate;
    } catch {
      // Not there: the next directory.
    }
  }
  return undefined;
}

/** posix_spawnp(3) of `file` with `argv` in a new session; its pid. */
function spawnInSession(
  file: string,
  argv: readonly string[],
  envp: readonly Uint8Array<ArrayBuffer>[],
): number {
  const path = cString(file);
  const strings = argv.map(cString);
  const pid = new Int32Array(1);
  const error = libc().posix_spawnp(
    new Uint8Array(pid.buffer),
    path,
    null,
    spawnAttributes(),
    pointerArray(strings),
    pointerArray(envp),
  );
  // The pointer arrays point into these: keep them alive until here.
  void strings;
  void envp;
  if (error !== 0) throw new SpawnFailure(file, error);
  return pid[0]!;
}
