/**
 * Reaping orphans as pid 1. In a container whose first process is kcm,
 * every process the command leaves behind (a daemon it forked, a shell's
 * background job) becomes kcm's child when its parent dies, and stays a
 * zombie unless kcm waits for it, as an init does. core/spawn.ts waits
 * only for the command it started, so kcm waits for the others here: on
 * each SIGCHLD it peeks at the exited children without reaping them
 * (waitid(2) with `WNOWAIT`), reaps each one that is not its own command
 * (waitpid(2) on that pid), and leaves the command's status to
 * core/spawn.ts, whose wait gives kcm its exit code.
 *
 * Side effects: listens for SIGCHLD and reaps child processes through libc
 * (core/libc.ts).
 */

import { libc, WAIT } from "./libc.ts";

/** siginfo_t is 128 bytes; `si_pid` sits at byte 16 (Linux, 64-bit). */
const SIGINFO_BYTES = 128;
const SI_PID_OFFSET = 16;

/**
 * Reaps every exited child except `keep`, until none is left or `keep` is
 * the next one waitid(2) reports (core/spawn.ts reaps it; the others are
 * reaped on the next SIGCHLD). Returns the pids reaped.
 */
export function reapOrphans(keep: number): number[] {
  const lib = libc();
  const info = new Uint8Array(SIGINFO_BYTES);
  const view = new DataView(info.buffer);
  const status = new Uint8Array(4);
  const reaped: number[] = [];
  for (;;) {
    info.fill(0);
    const rc = lib.waitid(
      WAIT.P_ALL,
      0,
      info,
      WAIT.WEXITED | WAIT.WNOHANG | WAIT.WNOWAIT,
    );
    if (rc !== 0) return reaped; // ECHILD: no children left
    const pid = view.getInt32(SI_PID_OFFSET, true);
    if (pid === 0 || pid === keep) return reaped;
    if (lib.waitpid(pid, status, WAIT.WNOHANG) === pid) reaped.push(pid);
    else return reaped;
  }
}

/**
 * Starts reaping orphans on SIGCHLD when this process is pid 1 of its pid
 * namespace (otherwise orphans go to that namespace's init, and nothing
 * is started). Dispose to stop.
 */
export function reapOrphansAsInit(keep: number): Disposable {
  if (Deno.pid !== 1) return { [Symbol.dispose]() {} };
  const listener = () => reapOrphans(keep);
  Deno.addSignalListener("SIGCHLD", listener);
  listener(); // orphans that exited before the listener was added
  return {
    [Symbol.dispose]() {
      Deno.removeSignalListener("SIGCHLD", listener);
    },
  };
}
