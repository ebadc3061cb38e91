/**
 * When a loop logs the failures of a step it repeats (publishing a report,
 * writing Events): once when the step starts failing, once more when the
 * cause changes (an outage that turns into a 403), once when it works
 * again, never per retry. Pure: the caller passes the time and a key that
 * tells causes apart (an HTTP status, an error class), and logs the lines.
 */

/** A line the caller should log, or nothing. */
export type OutageChange =
  | {
    /** The step started failing (`first`) or fails for another cause. */
    readonly state: "failing";
    readonly first: boolean;
  }
  | {
    /** The step worked after failing. */
    readonly state: "recovered";
    /** Failed attempts in a row before this success. */
    readonly failures: number;
    /** From the first failure to this success, ms. */
    readonly durationMs: number;
  };

/**
 * Tracks one repeated step.
 *
 * @example
 * ```ts
 * import { OutageLog } from "./outage_log.ts";
 * import assert from "node:assert/strict";
 * const log = new OutageLog();
 * assert.deepEqual(log.failed("503", 0), { state: "failing", first: true });
 * assert.equal(log.failed("503", 10_000), undefined);
 * assert.deepEqual(log.failed("403", 20_000), { state: "failing", first: false });
 * assert.deepEqual(log.succeeded(30_000), { state: "recovered", failures: 3, durationMs: 30_000 });
 * assert.equal(log.succeeded(40_000), undefined);
 * ```
 */
export class OutageLog {
  #failing: { sinceMs: number; failures: number; key: string } | undefined;

  /** True while the step is failing. */
  get failing(): boolean {
    return this.#failing !== undefined;
  }

  /** Records a failure whose cause is `key` at `nowMs`. */
  failed(key: string, nowMs: number): OutageChange | undefined {
    const failing = this.#failing;
    if (failing === undefined) {
      this.#failing = { sinceMs: nowMs, failures: 1, key };
      return { state: "failing", first: true };
    }
    failing.failures++;
    if (failing.key === key) return undefined;
    failing.key = key;
    return { state: "failing", first: false };
  }

  /** Records a success at `nowMs`. */
  succeeded(nowMs: number): OutageChange | undefined {
    const failing = this.#failing;
    if (failing === undefined) return undefined;
    this.#failing = undefined;
    return {
      state: "recovered",
      failures: failing.failures,
      durationMs: nowMs - failing.sinceMs,
    };
  }
}
