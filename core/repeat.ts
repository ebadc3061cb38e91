/**
 * The `--interval` loop of `reconcile` and `node-report`: run once when
 * the interval is 0; otherwise run, log and survive errors, wait, repeat,
 * until SIGTERM or SIGINT ends it (at once when it is waiting, after the
 * current iteration otherwise). The waiting is {@linkcode poll}'s, on the
 * host's clock.
 */

import { errorMessage } from "./errors.ts";
import type { Host } from "./host.ts";
import { poll } from "./poll.ts";

/**
 * Runs `iteration` every `intervalSeconds`. With 0 it runs once and its
 * errors propagate; in a loop they are logged and the loop goes on.
 * Resolves to the exit status.
 */
export async function repeatEvery(
  intervalSeconds: number,
  host: Pick<Host, "log" | "clock" | "stopSignal">,
  what: string,
  iteration: () => Promise<void>,
): Promise<number> {
  if (intervalSeconds === 0) {
    await iteration();
    return 0;
  }
  const stop = host.stopSignal();
  const intervalMs = intervalSeconds * 1000;
  await poll(async () => {
    try {
      await iteration();
    } catch (error) {
      host.log.error(`${what} failed: ${errorMessage(error)}`);
    }
    if (!stop.aborted) {
      host.log.info(`Waiting ${intervalSeconds} seconds until next ${what}...`);
    }
    return undefined;
  }, {
    clock: host.clock,
    backoff: { initialMs: intervalMs, factor: 1, maxMs: intervalMs, jitter: 0 },
    signal: stop,
  });
  host.log.info(`Stopping on ${String(stop.reason)}`);
  return 0;
}
