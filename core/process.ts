/**
 * Running a child command the way `taskset`, `nice` and `timeout` do: as an
 * argv (never through a shell), stdio inherited, and its status turned
 * into an exit code (signals are core/signal_relay.ts's job).
 *
 * The child runs in a session of its own (posix_spawnp(3) with setsid,
 * core/spawn.ts): a signal sent to kcm's process group, such as Ctrl-C in
 * a terminal, reaches kcm alone, and kcm forwards it once. The price: the
 * command has no controlling terminal. It still reads and writes the
 * terminal it inherited on stdin/stdout/stderr, but job control is gone
 * (Ctrl-Z does not stop it; a shell under kcm cannot put jobs in the
 * foreground) and it cannot open `/dev/tty`. If kcm itself is killed by
 * SIGKILL, Ctrl-C no longer reaches the orphaned command.
 *
 * Side effects: spawns a process, reads its mask from kcm's own procfs,
 * and waits for it.
 */

import type { CpuSet } from "./cpuset.ts";
import { AffinityError, SpawnError } from "./errors.ts";
import { ERRNO, errnoName } from "./libc.ts";
import { OWN_PROC_ROOT, readCpusAllowed } from "./procfs.ts";
import { quote } from "./quote.ts";
import { SessionChild, SpawnFailure } from "./spawn.ts";

/** Why posix_spawnp(3) could not start a command, from its errno. */
function spawnFailureReason(errno: number): string {
  switch (errno) {
    case ERRNO.ENOENT:
      return "command not found";
    case ERRNO.EACCES:
      return "permission denied";
    case ERRNO.ENOEXEC:
      return "not an executable (ENOEXEC)";
    default:
      return errnoName(errno);
  }
}

// Linux numbering (x86, arm, arm64, riscv), every signal Deno can report.
const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** The Linux number of a signal Deno names; 0 for an unknown name. */
export function signalNumber(signal: string): number {
  return SIGNAL_NUMBERS[signal] ?? 0;
}

/**
 * A started child as the rest of kcm uses it: its pid, its exit code to
 * come, and a way to signal it.
 */
export type Child = Pick<SessionChild, "pid" | "exitCode" | "kill">;

/** What to run. */
export interface ChildSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** Extra variables on top of kcm's own environment. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The CPUs the child must start on. When given, its mask is read back
   * right after the spawn (see {@linkcode startChild}).
   */
  readonly cpus?: CpuSet | undefined;
}

/**
 * Starts the child with inherited stdio. A command that cannot be started
 * gives a {@linkcode SpawnError}: 127 when not found, 126 when not
 * executable.
 *
 * With `spec.cpus`, the child's `Cpus_allowed_list` is read back from
 * kcm's own procfs before anything else happens (a child that already
 * exited is still a zombie there: core/spawn.ts reaps it only once kcm
 * yields). A child that may run on any CPU outside `spec.cpus` is killed
 * (SIGKILL) and an {@linkcode AffinityError} thrown: kcm promised a mask
 * and did not deliver it. A mask inside `spec.cpus` is accepted, since a
 * workload may narrow its own mask as soon as it starts.
 */
export function startChild(spec: ChildSpec): Child {
  const child = spawn(spec);
  if (spec.cpus !== undefined) checkChildCpus(child, spec.command, spec.cpus);
  return child;
}

function checkChildCpus(
  child: Child,
  command: string,
  cpus: CpuSet,
): void {
  let actual: CpuSet | null;
  try {
    actual = readCpusAllowed(OWN_PROC_ROOT, child.pid);
  } catch (error) {
    killQuietly(child);
    throw error;
  }
  if (actual === null || actual.difference(cpus).isEmpty()) return;
  killQuietly(child);
  throw new AffinityError(
    `Command ${
      quote(command)
    } (pid ${child.pid}) started on CPUs ${actual}, not within ${cpus}; killed it`,
  );
}

function killQuietly(child: Child): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

function spawn(spec: ChildSpec): Child {
  try {
    return new SessionChild(
      spec.command,
      spec.args,
      spec.env,
      OWN_PROC_ROOT,
    );
  } catch (error) {
    if (!(error instanceof SpawnFailure)) throw error;
    throw new SpawnError(
      `Cannot run ${quote(spec.command)}: ${spawnFailureReason(error.errno)}`,
      error.errno === ERRNO.ENOENT ? 127 : 126,
      { cause: error },
    );
  }
}
