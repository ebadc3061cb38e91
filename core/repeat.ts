/**
 * The `--interval` loop of `reconcile` and `node-report`: run once when
 * the interval is 0; otherwise run, survive errors, wait, repeat, until
 * SIGTERM or SIGINT ends it. The waiting is {@linkcode poll}'s, on the
 * host's clock.
 *
 * Errors of an iteration are logged once per change of state
 * (outage_log.ts): the first failure as an ERROR, further failures of the
 * same kind at DEBUG, another kind of failure as an ERROR again, and the
 * first iteration that works after failures as an INFO line.
 *
 * Shutdown: the stop signal is handed to the iteration, which aborts what
 * it waits for (the config lock, an API request); a wait between
 * iterations ends at once. An iteration that does not end within
 * {@linkcode STOP_GRACE_MS} of the signal is left behind (the process is
 * about to exit), so a loop always ends within about a second in any
 * state.
 */

import { errorMessage } from "./errors.ts";
import type { Host } from "./host.ts";
import { OutageLog } from "./outage_log.ts";
import { formatAge } from "./format_age.ts";
import { poll } from "./poll.ts";

/** How long a stopped loop waits for the iteration in flight. */
export const STOP_GRACE_MS = 1000;

/** One loop iteration; `signal` aborts on SIGTERM/SIGINT. */
export type Iteration = (signal: AbortSignal | undefined) => Promise<void>;

/**
 * What tells two failures apart: the error's class and, when it has one,
 * its errno code or HTTP status (messages may hold changing details).
 */
function causeKey(error: unknown): string {
  if (!(error instanceof Error)) return "unknown";
  const data = error as Error & { code?: unknown; status?: unknown };
  const detail = typeof data.code === "string"
    ? data.code
    : typeof data.status === "number"
    ? String(data.status)
    : "";
  return `${error.name} ${detail}`;
}

/**
 * Runs `iteration` every `intervalSeconds`. With 0 it runs once (without a
 * stop signal) and its errors propagate; in a loop they are logged and the
 * loop goes on. Resolves to the exit status.
 */
export async function repeatEvery(
  intervalSeconds: number,
  host: Pick<Host, "log" | "clock" | "stopSignal">,
  what: string,
  iteration: Iteration,
): Promise<number> {
  if (intervalSeconds === 0) {
    await iteration(undefined);
    return 0;
  }
  const stop = host.stopSignal();
  const stopped = new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener("abort", () => resolve(), { once: true });
  });
  const outage = new OutageLog();
  const intervalMs = intervalSeconds * 1000;
  await poll(async () => {
    try {
      let settled = false;
      const run = iteration(stop).finally(() => (settled = true));
      await Promise.race([
        run,
        stopped.then(() =>
          settled ? undefined : host.clock.sleep(STOP_GRACE_MS)
        ),
      ]);
      run.catch(() => {}); // left behind on stop: its failure is moot
      if (stop.aborted) {
        if (!settled) {
          host.log.warning(
            `The ${what} in progress did not end within ${STOP_GRACE_MS} ms of ${
              String(stop.reason)
            }: leaving it behind`,
          );
        }
        return undefined;
      }
      const change = outage.succeeded(host.clock.now());
      if (change?.state === "recovered") {
        host.log.info(
          `${what} works again after ${change.failures} failed ${
            change.failures === 1 ? "round" : "rounds"
          } in ${formatAge(change.durationMs / 1000)}`,
        );
      }
    } catch (error) {
      if (stop.aborted) return undefined;
      const change = outage.failed(causeKey(error), host.clock.now());
      if (change?.state !== "failing") {
        host.log.debug(`${what} failed again: ${errorMessage(error)}`);
      } else if (change.first) {
        host.log.error(`${what} failed: ${errorMessage(error)}`);
      } else {
        host.log.error(`${what} still failing, now: ${errorMessage(error)}`);
      }
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
