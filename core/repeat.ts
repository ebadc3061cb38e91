/**
 * The `--interval` loop of `reconcile` and `node-report`: run once when
 * the interval is 0; otherwise run, log and survive errors, wait, repeat,
 * until SIGTERM or SIGINT ends it between iterations.
 */

import type { Host } from "./host.ts";

/** Waits `ms`, or less when `signal` aborts first. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) {
      setTimeout(resolve, ms);
      return;
    }
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * Runs `iteration` every `intervalSeconds`. With 0 it runs once and its
 * errors propagate; in a loop they are logged and the loop goes on.
 * Resolves to the exit status.
 */
export async function repeatEvery(
  intervalSeconds: number,
  host: Host,
  what: string,
  iteration: () => Promise<void>,
): Promise<number> {
  if (intervalSeconds === 0) {
    await iteration();
    return 0;
  }
  const stop = host.stopSignal();
  while (!stop.aborted) {
    try {
      await iteration();
    } catch (error) {
      host.log.error(
        `${what} failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
    if (stop.aborted) break;
    host.log.info(`Waiting ${intervalSeconds} seconds until next ${what}...`);
    await pause(intervalSeconds * 1000, stop);
  }
  host.log.info(`Stopping on ${String(stop.reason)}`);
  return 0;
}
