/**
 * The server processes of the test control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler): started in their own process
 * group with output appended to a log file, killed with the test run if it
 * crashes, stopped by pid, and waited for with backoff.
 *
 * Side effects: spawns `setsid setpriv bash -c exec ...` children; signals
 * their process groups on stop; reads their log files.
 */

/** A child process whose stdout and stderr go straight to `log`. */
export interface Daemon {
  readonly name: string;
  /** Pid of the server itself (`setsid`, `setpriv` and `bash` exec into it). */
  readonly pid: number;
  readonly log: string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Resolves when the process exits. */
  readonly status: Promise<Deno.CommandStatus>;
}

/**
 * Arguments for `setsid` that run `argv` in its own process group (so it
 * can be killed as a whole), killed with its parent (`--pdeathsig`, so
 * nothing outlives a crashed test run), output appended to `log`.
 */
export function detachedArgs(log: string, argv: readonly string[]): string[] {
  return [
    "setpriv",
    "--pdeathsig",
    "KILL",
    "--",
    "bash",
    "-c",
    'exec "$@" >>"$0" 2>&1',
    log,
    ...argv,
  ];
}

/**
 * Starts `binary args...` with stdout and stderr appended to `log`, in its own
 * process group, with SIGKILL as parent-death signal so a crashed test run
 * leaves nothing behind.
 */
export function startDaemon(
  name: string,
  binary: string,
  args: readonly string[],
  log: string,
): Daemon {
  const child = new Deno.Command("setsid", {
    args: detachedArgs(log, [binary, ...args]),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  return {
    name,
    pid: child.pid,
    log,
    get exited() {
      return exited;
    },
    status,
  };
}

/** SIGTERM to the daemon's process group, SIGKILL after 5 s; waits for exit. */
export async function stopDaemon(daemon: Daemon): Promise<void> {
  if (daemon.exited) return;
  const signal = (sig: Deno.Signal) => {
    try {
      Deno.kill(-daemon.pid, sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5000);
  try {
    await daemon.status;
  } finally {
    clearTimeout(timer);
  }
}

/** The last `lines` lines of a text file ("" when unreadable). */
export async function tailFile(path: string, lines = 40): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** Why the first exited daemon of `daemons` ended, with its log's tail. */
export async function exitedReason(
  daemons: readonly Daemon[],
): Promise<string | undefined> {
  for (const daemon of daemons) {
    if (daemon.exited) {
      const status = await daemon.status;
      return `${daemon.name} exited with code ${status.code}; last lines ` +
        `of ${daemon.log}:\n${await tailFile(daemon.log)}`;
    }
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` with backoff (50 ms doubling to 500 ms) until it resolves
 * true; throws when `failed` returns a reason (a process died) or after
 * `timeoutMs`.
 */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  failed: () => Promise<string | undefined>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  while (true) {
    const reason = await failed();
    if (reason !== undefined) throw new Error(`${what}: ${reason}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not ready after ${timeoutMs} ms${(await failed()) ?? ""}`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Resident set size and CPU time (user + system) of a live process, from
 * `/proc/<pid>/status` (VmRSS) and `/proc/<pid>/stat` (utime, stime).
 */
export async function processUsage(
  pid: number,
): Promise<{ rssBytes: number; cpuSeconds: number }> {
  const [status, stat] = await Promise.all([
    Deno.readTextFile(`/proc/${pid}/status`),
    Deno.readTextFile(`/proc/${pid}/stat`),
  ]);
  const rssKib = Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1] ?? NaN);
  // Fields after the command name, which is in parentheses and may hold
  // spaces: state is field 3, utime 14, stime 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssBytes: rssKib * 1024, cpuSeconds: ticks / CLOCK_TICKS };
}

/** `sysconf(_SC_CLK_TCK)`: 100 on every Linux architecture Deno runs on. */
const CLOCK_TICKS = 100;
