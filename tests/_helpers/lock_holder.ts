/**
 * Another process holding the config lock: util-linux flock(1), run with
 * `--no-fork` so the holder is the process spawned, until it is disposed;
 * and whether a process has the lock file open (waits for it).
 */

import { waitFor } from "./wait.ts";

/** A flock(1) process holding a lock; disposing it kills it. */
export interface LockHolder extends AsyncDisposable {
  readonly pid: number;
}

/**
 * Starts flock(1) on `file` (exclusive, or shared) and resolves once
 * /proc/locks shows its lock.
 */
export async function holdLock(
  file: string,
  mode: "exclusive" | "shared" = "exclusive",
): Promise<LockHolder> {
  const { ino } = await Deno.stat(file);
  const holder = new Deno.Command("flock", {
    args: [`--${mode}`, "--no-fork", file, "sleep", "30"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const kind = mode === "exclusive" ? "WRITE" : "READ";
  await waitFor("flock to take the lock", async () => {
    const locks = await Deno.readTextFile("/proc/locks");
    return locks.split("\n").some((line) =>
        line.includes(` FLOCK `) && line.includes(` ${kind} `) &&
        line.includes(`:${ino} `)
      )
      ? true
      : undefined;
  });
  return {
    pid: holder.pid,
    async [Symbol.asyncDispose]() {
      holder.kill("SIGKILL");
      await holder.status;
    },
  };
}

/**
 * True when process `pid` has `file` open: a kcm that waits for the lock
 * holds the lock file open. False once the process is gone.
 */
export async function hasOpen(pid: number, file: string): Promise<boolean> {
  try {
    for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
      const target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`)
        .catch(() => "");
      if (target === file) return true;
    }
  } catch {
    // Gone.
  }
  return false;
}
