/**
 * Claim files: `<conf-dir>/.kcm-claim-<pid>-<start>`, one per running
 * `isolate`, which makes ownership of its cpu lists cover the command it
 * runs, not only kcm itself. The original tool never looks at files in the
 * config directory's root besides `lock`.
 *
 * `isolate` creates its claim file and takes a shared flock(2) on it
 * through a descriptor opened without close-on-exec, so the command (and
 * whatever it starts that keeps the descriptor) shares that open file and
 * its lock. The lock is held exactly as long as one of them lives, even if
 * kcm itself is killed, and a pid reused by an unrelated process cannot
 * hold it. `reconcile` asks "does the workload still run?" with a
 * non-blocking exclusive flock of its own: refused means yes. The file
 * also lists the claim's processes, one `<pid> <start>` line each (kcm,
 * then its command once started), for workloads that close descriptors
 * they did not open.
 *
 * Only the user kcm runs as (root on a node) can open these files (mode
 * 0600, in a directory only root may write), so no one else can hold a
 * claim's lock and make a list look taken forever.
 *
 * Side effects: creates, locks, appends to and removes claim files in the
 * config directory, through libc (core/libc.ts).
 */

import { ConfinedDir, EntryError } from "./confined_dir.ts";
import { ConfigError, errnoReason } from "./errors.ts";
import {
  AT_FDCWD,
  cString,
  ERRNO,
  errnoName,
  lastErrno,
  libc,
  LOCK,
  O_FLAGS,
} from "./libc.ts";
import { isClaimId } from "./owners.ts";
import type { ProcessId } from "./proc_identity.ts";
import { quote } from "./quote.ts";

/** Claim files are named this, then the claim id (core/owners.ts). */
const CLAIM_PREFIX = ".kcm-claim-";

/** Permission bits of a claim file (the umask can only narrow them). */
const CLAIM_FILE_MODE = 0o600;

/** The file name of claim `id`. */
function claimFile(id: string): string {
  return CLAIM_PREFIX + id;
}

const encoder = new TextEncoder();

function line(process: ProcessId): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${process.pid} ${process.start}\n`);
}

function failure(action: string, path: string): ConfigError {
  const lib = libc();
  const errno = lastErrno(lib);
  return new ConfigError(
    `Cannot ${action} claim file ${quote(path)}: ${
      errnoReason(errnoName(errno))
    }`,
  );
}

/**
 * This process's claim: the file created, its shared lock held, and the
 * descriptor left open across exec so that the command `isolate` starts
 * holds the lock too.
 */
export class HeldClaim implements Disposable {
  /** The claim's id, which is also its file name. */
  readonly id: string;
  /** The file's path as shown in messages. */
  readonly path: string;
  readonly #fd: number;
  #closed = false;

  private constructor(id: string, path: string, fd: number) {
    this.id = id;
    this.path = path;
    this.#fd = fd;
  }

  /**
   * Creates claim file `id` (it must not exist: an exclusive create, never
   * through a link), takes the shared lock and records `self` in it.
   */
  static create(root: ConfinedDir, id: string, self: ProcessId): HeldClaim {
    const lib = libc();
    const path = root.shown(claimFile(id));
    const open = () =>
      lib.openat(
        AT_FDCWD,
        cString(root.at(claimFile(id))),
        O_FLAGS.O_RDWR | O_FLAGS.O_CREAT | O_FLAGS.O_EXCL | O_FLAGS.O_NOFOLLOW,
        CLAIM_FILE_MODE,
      );
    let fd = open();
    if (fd < 0 && lastErrno(lib) === ERRNO.EEXIST) {
      // Left from before a reboot by a process with the same pid and start
      // time (nothing else can have this name): no one holds it.
      if (inspectClaim(root, id)?.held === false) removeClaim(root, id);
      fd = open();
    }
    if (fd < 0) throw failure("create", path);
    const claim = new HeldClaim(id, path, fd);
    if (lib.flock(fd, LOCK.SH) !== 0) {
      const error = failure("lock", path);
      claim.close();
      throw error;
    }
    claim.addProcess(self);
    return claim;
  }

  /** Appends `process` to the claim's processes. */
  addProcess(process: ProcessId): void {
    const bytes = line(process);
    const written = Number(
      libc().write(this.#fd, bytes, BigInt(bytes.length)),
    );
    if (written !== bytes.length) throw failure("write", this.path);
  }

  /** Closes kcm's descriptor (the command's copy, if any, keeps the lock). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().close(this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** What a claim file says, and whether some process still holds it. */
export interface ClaimState {
  /** True while any process shares the claiming `isolate`'s descriptor. */
  readonly held: boolean;
  /** The processes the file lists (complete lines only). */
  readonly processes: readonly ProcessId[];
}

function parseProcesses(text: string): ProcessId[] {
  const processes: ProcessId[] = [];
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  for (const entry of complete.split("\n")) {
    const match = /^([1-9][0-9]{0,9}) ([0-9]{1,20})$/.exec(entry);
    if (match) {
      processes.push({ pid: Number(match[1]), start: Number(match[2]) });
    }
  }
  return processes;
}

/**
 * Reads claim `id` of the config directory `root` and tests its lock;
 * undefined when there is no such file. An entry that is not a regular
 * file is an {@linkcode EntryError}.
 */
export function inspectClaim(
  root: ConfinedDir,
  id: string,
): ClaimState | undefined {
  const name = claimFile(id);
  let text: string;
  try {
    text = root.readFile(name, "claim file", 4096).text;
  } catch (error) {
    if (error instanceof EntryError && error.problem === "missing") {
      return undefined;
    }
    throw error;
  }
  const lib = libc();
  const fd = lib.openat(
    AT_FDCWD,
    cString(root.at(name)),
    O_FLAGS.O_RDONLY | O_FLAGS.O_NOFOLLOW | O_FLAGS.O_NONBLOCK |
      O_FLAGS.O_CLOEXEC,
    0,
  );
  if (fd < 0) throw failure("open", root.shown(name));
  try {
    const held = lib.flock(fd, LOCK.EX | LOCK.NB) !== 0;
    return { held, processes: parseProcesses(text) };
  } finally {
    lib.close(fd); // also drops the exclusive lock, if it was taken
  }
}

/** The ids of every claim file of the config directory `root`, unsorted. */
export function listClaimIds(root: ConfinedDir): string[] {
  return root.entries().flatMap((e) => {
    const id = e.name.slice(CLAIM_PREFIX.length);
    return e.name.startsWith(CLAIM_PREFIX) && isClaimId(id) ? [id] : [];
  });
}

/** Removes claim file `id` of `root`; a file already gone is fine. */
export function removeClaim(root: ConfinedDir, id: string): void {
  try {
    Deno.removeSync(root.at(claimFile(id)));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
