/**
 * A {@linkcode Clock} for tests of anything that waits: `sleep()` records
 * the wait, moves time forward by it and returns at once, so a test sees
 * every delay and never waits for real.
 */

import type { Clock } from "../../core/poll.ts";

/** A clock whose time moves only when something sleeps on it. */
export class FakeClock implements Clock {
  #now: number;
  /** Every wait asked for, in order (ms). */
  readonly sleeps: number[] = [];
  /** Called at the start of each sleep (a test may abort a signal here). */
  onSleep: ((ms: number) => void) | undefined;

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward without a sleep (work that took `ms`). */
  advance(ms: number): void {
    this.#now += ms;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    this.onSleep?.(ms);
    // An abort ends a real sleep at once: time moves only if it did not.
    if (!signal?.aborted) this.#now += ms;
    return Promise.resolve();
  }
}
