/**
 * Optimistic concurrency: a read-modify-write that lost a race (409
 * Conflict, the object's resourceVersion moved on) is run again from the
 * read, on the policy of core/poll.ts.
 */

import type { Logger } from "../log.ts";
import { type Clock, retry, type RetryPolicy } from "../poll.ts";
import { isStatus, K8sApiError } from "./errors.ts";

/** 8 attempts, waits from 50-100 ms growing to at most 0.5-1 s. */
export const CONFLICT_RETRY: RetryPolicy = {
  attempts: 8,
  initialMs: 100,
  factor: 1.5,
  maxMs: 1000,
  jitter: 0.5,
};

/** Options of {@linkcode retryOnConflict}. */
export interface ConflictRetryOptions {
  /** Waits between attempts. */
  readonly clock: Clock;
  /** Default {@linkcode CONFLICT_RETRY}. */
  readonly policy?: RetryPolicy;
  /** Where a DEBUG line per conflict goes. */
  readonly log?: Logger | undefined;
  /** Random source of the jitter, default `Math.random`. */
  readonly random?: () => number;
}

/**
 * Runs `attempt` until it does not fail with 409 Conflict, at most
 * `policy.attempts` times. `attempt` must re-read what it modifies, so
 * each try sends a fresh body. Any other failure propagates at once.
 */
export async function retryOnConflict<T>(
  attempt: () => Promise<T>,
  options: ConflictRetryOptions,
): Promise<T> {
  const policy = options.policy ?? CONFLICT_RETRY;
  return await retry(attempt, {
    clock: options.clock,
    backoff: policy,
    attempts: policy.attempts,
    ...(options.random ? { random: options.random } : {}),
    retryIf: (error) => isStatus(error, 409),
    onRetry(error, n) {
      if (error instanceof K8sApiError) {
        options.log?.debug(`Conflict on ${error.path}, retrying (${n})`);
      }
    },
  });
}
