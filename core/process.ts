/**
 * Running a child command the way `taskset`, `nice` and `timeout` do: as an
 * argv (never through a shell), stdio inherited, the usual termination and
 * user signals forwarded, and its status turned into an exit code.
 *
 * Side effects: spawns a process, reads its status from kcm's own procfs,
 * and listens for signals while it runs.
 */

import type { CpuSet } from "./cpuset.ts";
import { AffinityError, osErrorReason, SpawnError } from "./errors.ts";
import { OWN_PROC_ROOT, readCpusAllowed } from "./procfs.ts";
import { quote } from "./quote.ts";

/** Signals forwarded from kcm to its child. */
const FORWARDED_SIGNALS = [
  "SIGTERM",
  "SIGINT",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
] as const satisfies readonly Deno.Signal[];

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

/** The shell convention for a status: the code, or 128+N for signal N. */
function exitCodeOf(status: Deno.CommandStatus): number {
  if (status.signal !== null) {
    return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
  }
  return status.code;
}

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
 * exited is still a zombie there: Deno reaps it only once kcm yields). A
 * child that may run on any CPU outside `spec.cpus` is killed (SIGKILL)
 * and an {@linkcode AffinityError} thrown: kcm promised a mask and did not
 * deliver it. A mask inside `spec.cpus` is accepted, since a workload may
 * narrow its own mask as soon as it starts.
 */
export function startChild(spec: ChildSpec): Deno.ChildProcess {
  const child = spawn(spec);
  if (spec.cpus !== undefined) checkChildCpus(child, spec.command, spec.cpus);
  return child;
}

function checkChildCpus(
  child: Deno.ChildProcess,
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

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

function spawn(spec: ChildSpec): Deno.ChildProcess {
  try {
    return new Deno.Command(spec.command, {
      args: [...spec.args],
      env: { ...spec.env },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SpawnError(
        `Cannot run ${quote(spec.command)}: command not found`,
        127,
        {
          cause: error,
        },
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new SpawnError(
        `Cannot run ${quote(spec.command)}: permission denied`,
        126,
        { cause: error },
      );
    }
    throw new SpawnError(
      `Cannot run ${quote(spec.command)}: ${osErrorReason(error)}`,
      126,
      { cause: error },
    );
  }
}

/**
 * Catches {@linkcode FORWARDED_SIGNALS} from the moment it is created, so
 * that a signal arriving before the child exists is not lost (nor kills
 * kcm before it gives its cpu list back), and forwards them to the child
 * once there is one.
 */
export class SignalRelay implements Disposable {
  #child: Deno.ChildProcess | undefined;
  #first: Deno.Signal | undefined;
  readonly #listeners: [Deno.Signal, () => void][];

  constructor() {
    this.#listeners = FORWARDED_SIGNALS.map((signal) => {
      const listener = () => this.#deliver(signal);
      Deno.addSignalListener(signal, listener);
      return [signal, listener];
    });
  }

  /** The first signal caught before a child was attached. */
  get caughtEarly(): Deno.Signal | undefined {
    return this.#child === undefined ? this.#first : undefined;
  }

  /** Exit code for a run cut short by {@linkcode caughtEarly}. */
  earlyExitCode(): number {
    return 128 + (SIGNAL_NUMBERS[this.#first ?? ""] ?? 0);
  }

  #deliver(signal: Deno.Signal): void {
    this.#first ??= signal;
    if (this.#child === undefined) return;
    try {
      this.#child.kill(signal);
    } catch {
      // The child is already gone; its status is on the way.
    }
  }

  /** Forwards signals to `child` from now on and waits for its exit code. */
  async supervise(child: Deno.ChildProcess): Promise<number> {
    this.#child = child;
    return exitCodeOf(await child.status);
  }

  /** Stops listening; the signals get their default actions back. */
  [Symbol.dispose](): void {
    for (const [signal, listener] of this.#listeners) {
      Deno.removeSignalListener(signal, listener);
    }
  }
}
