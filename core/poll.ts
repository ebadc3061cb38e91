/**
 * kcm's one waiting policy: every loop that tries again later (the API
 * client's retries, conflict retries, waiting for pods or a CRD, the
 * `--interval` loop) goes through {@linkcode poll} or {@linkcode retry}.
 * Pure apart from the {@linkcode Clock} it is given: tests drive it with a
 * fake clock and never wait for real.
 *
 * The policy: at most `attempts` tries; between two tries a delay that
 * starts at `initialMs` and grows by `factor` up to `maxMs`, of which the
 * `jitter` fraction is random (so many clients retrying at once spread
 * out); no wait runs past the `deadline`, and the try that follows the
 * deadline is the last; an aborted `signal` ends the wait at once and
 * stops before the next try; a server's own wait (`Retry-After`) replaces
 * the computed delay, capped at `maxMs`.
 */

import { abortReason } from "./errors.ts";

/**
 * The longest wait a timer can hold: setTimeout takes a signed 32-bit
 * count of milliseconds (2^31 - 1, about 24.8 days) and fires at once for
 * anything longer. Every wait a user sets (`--interval`,
 * `KCM_LOCK_TIMEOUT`) is checked against it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The most whole seconds a timer can wait ({@linkcode MAX_TIMER_MS}). */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/**
 * Time as the waiting policy sees it. `now()` is milliseconds on a
 * monotonic scale (only differences matter, it is not wall time);
 * `sleep()` resolves after `ms`, or as soon as `signal` aborts (it never
 * rejects).
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** How long to wait between tries. */
export interface Backoff {
  /** The wait after the first try, in ms. */
  readonly initialMs: number;
  /** Each wait is the previous one times this (1 for a fixed interval). */
  readonly factor: number;
  /** Cap of one wait, in ms; also caps a server's Retry-After. */
  readonly maxMs: number;
  /**
   * Random share of each wait, 0 to 1: a wait `w` becomes a uniform pick
   * in `[w * (1 - jitter), w]`.
   */
  readonly jitter: number;
}

/** A backoff with a bound on the number of tries. */
export interface RetryPolicy extends Backoff {
  /** Total tries, the first included. */
  readonly attempts: number;
}

/**
 * The wait after try number `attempt` (1-based). `random` returns a value
 * in `[0, 1)`.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./poll.ts";
 * import assert from "node:assert/strict";
 * const backoff = { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0.5 };
 * assert.equal(backoffDelay(backoff, 1, () => 0), 100);
 * assert.equal(backoffDelay(backoff, 3, () => 0), 400);
 * assert.equal(backoffDelay(backoff, 3, () => 0.5), 300);
 * assert.equal(backoffDelay(backoff, 9, () => 0), 1000);
 * ```
 */
export function backoffDelay(
  backoff: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const full = Math.min(
    backoff.initialMs * backoff.factor ** (attempt - 1),
    backoff.maxMs,
  );
  return full * (1 - backoff.jitter * random());
}

/** Options shared by {@linkcode poll} and {@linkcode retry}. */
export interface PollOptions {
  /** Where time comes from: the host's clock, or a test's fake one. */
  readonly clock: Clock;
  /** The waits between tries. */
  readonly backoff: Backoff;
  /** Total tries, the first included; default unbounded. */
  readonly attempts?: number;
  /**
   * A `clock.now()` value: no wait runs past it, and the try after it is
   * the last. Default none.
   */
  readonly deadline?: number;
  /** Ends a wait at once and stops before the next try. */
  readonly signal?: AbortSignal;
  /** Random source for the jitter, `[0, 1)`; default `Math.random`. */
  readonly random?: () => number;
}

/** Why {@linkcode poll} stopped without a value. */
export type PollStop = "attempts" | "deadline" | "aborted";

/** What {@linkcode poll} ended with. */
export type PollOutcome<T> =
  | { readonly done: true; readonly value: T; readonly attempts: number }
  | {
    readonly done: false;
    readonly stop: PollStop;
    readonly attempts: number;
  };

/** What one try tells the loop: a value ends it; otherwise wait and retry. */
type PollStep<T> =
  | { readonly done: true; readonly value: T }
  | {
    readonly done: false;
    /** The server's own wait in ms (Retry-After); replaces the backoff. */
    readonly afterMs?: number | undefined;
  };

/**
 * The loop under {@linkcode poll} and {@linkcode retry}: runs `step` until
 * it is done, the tries run out, the deadline passes or `signal` aborts.
 */
async function loop<T>(
  step: (attempt: number) => Promise<PollStep<T>>,
  options: PollOptions,
  beforeWait?: (attempt: number, waitMs: number) => void,
): Promise<PollOutcome<T>> {
  const { clock, backoff, signal } = options;
  const attempts = options.attempts ?? Infinity;
  for (let attempt = 1;; attempt++) {
    if (signal?.aborted) {
      return { done: false, stop: "aborted", attempts: attempt - 1 };
    }
    const result = await step(attempt);
    if (result.done) {
      return { done: true, value: result.value, attempts: attempt };
    }
    if (attempt >= attempts) {
      return { done: false, stop: "attempts", attempts: attempt };
    }
    let wait = result.afterMs !== undefined
      ? Math.min(result.afterMs, backoff.maxMs)
      : backoffDelay(backoff, attempt, options.random);
    if (options.deadline !== undefined) {
      const left = options.deadline - clock.now();
      if (left <= 0) {
        return { done: false, stop: "deadline", attempts: attempt };
      }
      wait = Math.min(wait, left);
    }
    if (signal?.aborted) {
      return { done: false, stop: "aborted", attempts: attempt };
    }
    beforeWait?.(attempt, wait);
    await clock.sleep(wait, signal);
  }
}

/**
 * Calls `probe` until it returns something other than `undefined`,
 * waiting between calls as `options` say. Resolves to the value, or to
 * why it stopped; errors of `probe` propagate at once.
 *
 * @example
 * ```ts
 * import { poll } from "./poll.ts";
 * import assert from "node:assert/strict";
 * const slept: number[] = [];
 * let t = 0;
 * const clock = {
 *   now: () => t,
 *   sleep: (ms: number) => (slept.push(ms), t += ms, Promise.resolve()),
 * };
 * const outcome = await poll((n) => Promise.resolve(n === 3 ? "ready" : undefined), {
 *   clock,
 *   backoff: { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0 },
 * });
 * assert.deepEqual(outcome, { done: true, value: "ready", attempts: 3 });
 * assert.deepEqual(slept, [100, 200]);
 * ```
 */
export function poll<T>(
  probe: (attempt: number) => Promise<T | undefined>,
  options: PollOptions,
): Promise<PollOutcome<T>> {
  return loop(async (attempt) => {
    const value = await probe(attempt);
    return value === undefined ? { done: false } : { done: true, value };
  }, options);
}

/**
 * Whether a failure is worth another try: `false` (give up now), `true`
 * (wait as the backoff says) or `{ afterMs }`, the server's own wait
 * (Retry-After), capped at the backoff's `maxMs`.
 */
export type RetryDecision = boolean | { readonly afterMs: number };

/** Options of {@linkcode retry}. */
export interface RetryOptions extends PollOptions {
  /** Decides, per failure, whether to try again. */
  readonly retryIf: (error: unknown) => RetryDecision;
  /** Told of each failure that will be retried, before the wait. */
  readonly onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
}

/**
 * Runs `operation` until it succeeds; a failure that `retryIf` accepts is
 * retried as `options` say. When the tries run out, the deadline passes
 * or `signal` aborts, the last failure is thrown (the abort reason when
 * the signal was aborted before the first try).
 *
 * @example
 * ```ts
 * import { retry } from "./poll.ts";
 * import assert from "node:assert/strict";
 * const clock = { now: () => 0, sleep: () => Promise.resolve() };
 * let calls = 0;
 * const answer = await retry(() => {
 *   calls++;
 *   return calls < 3 ? Promise.reject(new Error("busy")) : Promise.resolve(42);
 * }, {
 *   clock,
 *   backoff: { initialMs: 10, factor: 2, maxMs: 100, jitter: 0 },
 *   attempts: 5,
 *   retryIf: (e) => e instanceof Error && e.message === "busy",
 * });
 * assert.equal(answer, 42);
 * assert.equal(calls, 3);
 * ```
 */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  let failed = false;
  let last: unknown;
  const outcome = await loop<T>(
    async (attempt) => {
      try {
        return { done: true, value: await operation(attempt) };
      } catch (error) {
        const decision = options.retryIf(error);
        if (decision === false) throw error;
        failed = true;
        last = error;
        const afterMs = decision === true ? undefined : decision.afterMs;
        return { done: false, afterMs };
      }
    },
    options,
    (attempt, waitMs) => options.onRetry?.(last, attempt, waitMs),
  );
  if (outcome.done) return outcome.value;
  throw failed ? last : abortReason(options.signal);
}
