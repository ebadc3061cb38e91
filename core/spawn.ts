/**
 * Starting a command in a session of its own, and waiting for it, over
 * libc: `posix_spawnp` with `POSIX_SPAWN_SETSID`, then `waitpid` on a
 * thread of Deno's blocking pool.
 *
 * Why not `Deno.Command` with `detached`: to call setsid(2) in the child,
 * Rust's standard library gives up `posix_spawn` and forks the whole Deno
 * process, page tables and all; that cost `isolate` about 4 ms on the test
 * machine (bench/README.md). glibc's `posix_spawn` starts the child with
 * `clone(CLONE_VM | CLONE_VFORK)` and reports a failed exec as its result.
 *
 * The child gets kcm's environment and the extra variables given, stdio
 * and every descriptor not marked close-on-exec (a claim's lock, see
 * core/claim_file.ts), an empty signal mask, and the default action for
 * every signal kcm's runtime handles or ignores (Rust ignores SIGPIPE).
 *
 * Side effects: starts a process; waits for it on another thread.
 */

import { cString, libc } from "./libc.ts";

/** posix_spawnattr_setflags(3) flags (glibc). */
const SPAWN_FLAGS = {
  SETSIGDEF: 0x04,
  SETSIGMASK: 0x08,
  SETSID: 0x80,
} as const;

/** Bytes of glibc's `posix_spawnattr_t` (336 on 64-bit), rounded up. */
const ATTR_BYTES = 512;
/** Bytes of glibc's `sigset_t`. */
const SIGSET_BYTES = 128;

/** Signals 1-31 but SIGKILL and SIGSTOP, whose actions cannot be set. */
function defaultedSignals(): Uint8Array<ArrayBuffer> {
  const set = new Uint8Array(SIGSET_BYTES);
  for (let signal = 1; signal <= 31; signal++) {
    if (signal === 9 || signal === 19) continue;
    const bit = signal - 1;
    set[bit >> 3]! |= 1 << (bit & 7);
  }
  return set;
}

/** A NULL-terminated array of pointers to C strings, and what it points at. */
function cStringArray(
  items: readonly string[],
): { array: Uint8Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = items.map(cString);
  const pointers = new BigUint64Array(items.length + 1);
  keep.forEach((bytes, i) => {
    pointers[i] = BigInt(
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)),
    );
  });
  return { array: new Uint8Array(pointers.buffer), keep };
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
 * Starts `command` (looked up in kcm's PATH) with `args` in a new session;
 * resolves to its pid. Throws {@linkcode SpawnFailure} when it cannot be
 * started (ENOENT: not found; EACCES, ENOEXEC: not runnable).
 */
export function spawnInSession(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): number {
  const lib = libc();
  const attr = new Uint8Array(ATTR_BYTES);
  lib.posix_spawnattr_init(attr);
  try {
    lib.posix_spawnattr_setsigmask(attr, new Uint8Array(SIGSET_BYTES));
    lib.posix_spawnattr_setsigdefault(attr, defaultedSignals());
    lib.posix_spawnattr_setflags(
      attr,
      SPAWN_FLAGS.SETSID | SPAWN_FLAGS.SETSIGDEF | SPAWN_FLAGS.SETSIGMASK,
    );
    const argv = cStringArray([command, ...args]);
    const environment = { ...Deno.env.toObject(), ...env };
    const envp = cStringArray(
      Object.entries(environment).map(([key, value]) => `${key}=${value}`),
    );
    const pid = new Int32Array(1);
    const error = lib.posix_spawnp(
      new Uint8Array(pid.buffer),
      cString(command),
      null,
      attr,
      argv.array,
      envp.array,
    );
    // The pointer arrays point into these: keep them alive until here.
    void argv.keep;
    void envp.keep;
    if (error !== 0) throw new SpawnFailure(command, error);
    return pid[0]!;
  } finally {
    lib.posix_spawnattr_destroy(attr);
  }
}

/**
 * Waits for child `pid` of kcm and resolves to its exit code: its status,
 * or 128+N when signal N (real-time ones included) ended it.
 */
export async function waitForExit(pid: number): Promise<number> {
  const lib = libc();
  const status = new Int32Array(1);
  for (let attempt = 0;; attempt++) {
    const result = await lib.waitpidOnThread(
      pid,
      new Uint8Array(status.buffer),
      0,
    );
    if (result === pid) break;
    // -1: interrupted (EINTR) on the waiting thread, whose errno is not
    // this thread's to read; anything but a restartable wait ends soon.
    if (attempt >= 100) {
      throw new Error(`waitpid(${pid}) failed 100 times: not a child of kcm`);
    }
  }
  const raw = status[0]!;
  const signal = raw & 0x7f;
  return signal === 0 ? (raw >> 8) & 0xff : 128 + signal;
}
