/**
 * `isolate`'s signal handling, as a supervisor such as `tini` does it:
 * every signal `tini` forwards that Deno lets a program catch is caught
 * from the moment kcm starts and forwarded to the command once it runs.
 *
 * `tini` forwards every signal but SIGCHLD (which it handles), SIGKILL and
 * SIGSTOP (which no one can catch) and the synchronous ones (SIGFPE,
 * SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS) and SIGTTIN/SIGTTOU.
 * Of what remains, Deno 2.9 refuses to listen for the real-time signals
 * (SIGRTMIN..SIGRTMAX, 34-64): a real-time signal sent to kcm takes its
 * default action and ends kcm without forwarding it, while the command
 * runs on. The cpu list stays taken in that case (the command holds its
 * claim, core/claim_file.ts) until the command ends and `reconcile` runs.
 * Send real-time signals to the command itself.
 *
 * A signal that arrives before the command runs (while kcm waits for the
 * config lock, say) aborts {@linkcode SignalRelay.signal}: the wait ends at
 * once, and kcm exits 128+N without starting the command, unless it is a
 * signal whose default action is not to end a process (SIGCONT, SIGTSTP,
 * SIGURG, SIGWINCH), which is ignored until then.
 *
 * Side effects: listens for signals, signals the child process, and when
 * kcm is pid 1 reaps orphans (core/reaper.ts).
 */

import { type Child, signalNumber } from "./process.ts";
import { reapOrphansAsInit } from "./reaper.ts";

/** Signals forwarded from kcm to its child. */
export const FORWARDED_SIGNALS = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCONT",
  "SIGTSTP",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
] as const satisfies readonly Deno.Signal[];

/** Forwarded signals whose default action does not end a process. */
const HARMLESS: ReadonlySet<Deno.Signal> = new Set<Deno.Signal>([
  "SIGCONT",
  "SIGTSTP",
  "SIGURG",
  "SIGWINCH",
]);

/**
 * Catches {@linkcode FORWARDED_SIGNALS} from the moment it is created, so
 * that a signal arriving before the child exists is not lost (nor kills
 * kcm before it gives its cpu list back), and forwards them to the child
 * once there is one.
 */
export class SignalRelay implements Disposable {
  #child: Child | undefined;
  #first: Deno.Signal | undefined;
  readonly #early = new AbortController();
  readonly #listeners: [Deno.Signal, () => void][];

  constructor() {
    this.#listeners = FORWARDED_SIGNALS.map((signal) => {
      const listener = () => this.#deliver(signal);
      Deno.addSignalListener(signal, listener);
      return [signal, listener];
    });
  }

  /**
   * Aborted by the first signal (that would end a process) caught before
   * a child was attached: hand it to waits that must end then.
   */
  get signal(): AbortSignal {
    return this.#early.signal;
  }

  /** The first such signal caught before a child was attached. */
  get caughtEarly(): Deno.Signal | undefined {
    return this.#child === undefined ? this.#first : undefined;
  }

  /** Exit code for a run cut short by {@linkcode caughtEarly}: 128+N. */
  earlyExitCode(): number {
    return 128 + signalNumber(this.#first ?? "");
  }

  #deliver(signal: Deno.Signal): void {
    if (this.#child === undefined) {
      if (HARMLESS.has(signal) || this.#first !== undefined) return;
      this.#first = signal;
      this.#early.abort(
        new DOMException(`Caught ${signal}`, "AbortError"),
      );
      return;
    }
    try {
      this.#child.kill(signal);
    } catch {
      // The child is already gone; its status is on the way.
    }
  }

  /**
   * Forwards signals to `child` from now on (and reaps orphans when kcm is
   * pid 1) and waits for its exit code: its status, or 128+N when signal
   * N killed it.
   */
  async supervise(child: Child): Promise<number> {
    this.#child = child;
    using _reaper = reapOrphansAsInit(child.pid);
    return await child.exitCode;
  }

  /** Stops listening; the signals get their default actions back. */
  [Symbol.dispose](): void {
    for (const [signal, listener] of this.#listeners) {
      Deno.removeSignalListener(signal, listener);
    }
  }
}
