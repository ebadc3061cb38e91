/**
 * What the answers of the Kubernetes API mean to kcm's client, decided
 * without sending anything: which failures are worth sending again (and
 * after how long), the reason and message of a `Status` body, and the
 * query string of a request. Pure; core/k8s/client.ts sends.
 */

import type { RetryDecision, RetryPolicy } from "../poll.ts";
import { K8sApiError } from "./errors.ts";

/** One-shot commands: 6 attempts over about 8 s. */
export const ONE_SHOT_RETRY: RetryPolicy = {
  attempts: 6,
  initialMs: 250,
  factor: 2,
  maxMs: 4000,
  jitter: 0.5,
};

/** `--interval` loops: 3 attempts over about 1.5 s; the loop retries later. */
export const LOOP_RETRY: RetryPolicy = {
  attempts: 3,
  initialMs: 500,
  factor: 2,
  maxMs: 1000,
  jitter: 0.5,
};

/** The statuses a request is sent again for. */
export const RETRIED_STATUS = new Set([429, 500, 502, 503, 504]);

/**
 * Whether a failed request is worth sending again unchanged: connection
 * failures (status 0), 429 and 5xx are, after the server's Retry-After
 * when it gave one (unless that is longer than `longestWaitMs`); any other
 * answer is final.
 */
export function retryTransient(
  error: unknown,
  longestWaitMs: number = Infinity,
): RetryDecision {
  if (!(error instanceof K8sApiError) || error.tls !== undefined) return false;
  if (error.status !== 0 && !RETRIED_STATUS.has(error.status)) return false;
  if (error.retryAfterSeconds === undefined) return true;
  const afterMs = error.retryAfterSeconds * 1000;
  return afterMs > longestWaitMs ? false : { afterMs };
}

interface StatusBody {
  reason?: unknown;
  message?: unknown;
}

export function statusDetail(status: number, text: string): {
  reason: string;
  detail: string;
} {
  try {
    const body = JSON.parse(text) as StatusBody;
    if (typeof body === "object" && body !== null) {
      return {
        reason: typeof body.reason === "string" ? body.reason : "",
        detail: typeof body.message === "string"
          ? body.message
          : `HTTP ${status}`,
      };
    }
  } catch {
    // Not a Status object: fall through to the raw text.
  }
  const line = text.trim().split("\n")[0]?.slice(0, 200) ?? "";
  return { reason: "", detail: line || `HTTP ${status}` };
}

export function buildQuery(
  query:
    | Readonly<Record<string, string | number | boolean | undefined>>
    | undefined,
): string {
  if (query === undefined) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}
