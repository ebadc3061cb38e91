/**
 * When a `--publish --interval` loop writes its report object: at once when
 * the content (the report, everything but `last_updated`) changed since the
 * last successful publication, otherwise only when the heartbeat is due, so
 * `last_updated` stays fresh without a write per interval; after a failed
 * attempt, at the next run whatever the content (the API server may hold
 * anything after an outage). One-shot runs always publish.
 *
 * Pure: the caller passes the clock's time and a random number, and keeps
 * the {@linkcode PublishState} between runs.
 *
 * The heartbeat is jittered down by up to {@linkcode PublishPolicy.jitter}
 * (default 10 %) per cycle, so agents that published together (after a
 * cluster-wide outage, or a DaemonSet rollout) drift apart instead of
 * writing in one burst every heartbeat. A report is therefore never older
 * than heartbeat + interval while the API server is reachable.
 */

import { formatJson, type JsonValue } from "./json.ts";

/** How often the loop writes. */
export interface PublishPolicy {
  /** Longest time, in seconds, between two writes of unchanged content. */
  readonly heartbeatSeconds: number;
  /** Fraction (0 to 1) by which each heartbeat may come early; default 0.1. */
  readonly jitter?: number;
}

/** The default `--heartbeat`: 300 s. */
export const DEFAULT_HEARTBEAT_SECONDS = 300;

/** What the loop remembers between runs; start from {@linkcode INITIAL_PUBLISH_STATE}. */
export interface PublishState {
  /** Canonical JSON of the last content written successfully. */
  readonly lastContent: string | undefined;
  /** When (ms since the epoch) that write succeeded. */
  readonly lastSuccessMs: number | undefined;
  /** When the next heartbeat is due (ms since the epoch). */
  readonly heartbeatDueMs: number | undefined;
  /** Failed attempts since the last success. */
  readonly failures: number;
}

/** Nothing published yet. */
export const INITIAL_PUBLISH_STATE: PublishState = {
  lastContent: undefined,
  lastSuccessMs: undefined,
  heartbeatDueMs: undefined,
  failures: 0,
};

/** Why a run writes, or `unchanged` when it does not. */
export type PublishReason =
  | "one-shot"
  | "first"
  | "retry"
  | "changed"
  | "heartbeat"
  | "unchanged";

/** The verdict for one run. */
export interface PublishDecision {
  readonly publish: boolean;
  readonly reason: PublishReason;
  /** The content key of this run's report, to pass to {@linkcode recordPublish}. */
  readonly content: string;
}

/**
 * The key two reports are compared by: kcm's canonical JSON (keys sorted),
 * so key order never counts as a change.
 *
 * @example
 * ```ts
 * import { contentKey } from "./publish_policy.ts";
 * import assert from "node:assert/strict";
 * assert.equal(contentKey({ b: 1, a: [2] }), contentKey({ a: [2], b: 1 }));
 * ```
 */
export function contentKey(report: JsonValue): string {
  return formatJson(report);
}

/**
 * Decides whether this run writes `report`.
 *
 * @example
 * ```ts
 * import { decidePublish, INITIAL_PUBLISH_STATE, recordPublish } from "./publish_policy.ts";
 * import assert from "node:assert/strict";
 * const policy = { heartbeatSeconds: 300, jitter: 0 };
 * const first = decidePublish(INITIAL_PUBLISH_STATE, { ok: true }, { nowMs: 0, oneShot: false, policy });
 * assert.equal(first.reason, "first");
 * const state = recordPublish(INITIAL_PUBLISH_STATE, first, { nowMs: 0, ok: true, random: 0, policy });
 * assert.equal(decidePublish(state, { ok: true }, { nowMs: 10_000, oneShot: false, policy }).reason, "unchanged");
 * assert.equal(decidePublish(state, { ok: false }, { nowMs: 10_000, oneShot: false, policy }).reason, "changed");
 * assert.equal(decidePublish(state, { ok: true }, { nowMs: 300_000, oneShot: false, policy }).reason, "heartbeat");
 * ```
 */
export function decidePublish(
  state: PublishState,
  report: JsonValue,
  run: {
    readonly nowMs: number;
    readonly oneShot: boolean;
    readonly policy: PublishPolicy;
  },
): PublishDecision {
  const content = contentKey(report);
  const reason: PublishReason = run.oneShot
    ? "one-shot"
    : state.lastContent === undefined
    ? "first"
    : state.failures > 0
    ? "retry"
    : content !== state.lastContent
    ? "changed"
    : state.heartbeatDueMs !== undefined && run.nowMs >= state.heartbeatDueMs
    ? "heartbeat"
    : "unchanged";
  return { publish: reason !== "unchanged", reason, content };
}

/**
 * The state after a run: a success remembers the content and schedules the
 * next heartbeat (`heartbeat * (1 - jitter * random)` from now); a failure
 * counts; a skipped run changes nothing.
 */
export function recordPublish(
  state: PublishState,
  decision: PublishDecision,
  outcome: {
    readonly nowMs: number;
    /** Whether the write succeeded (ignored when nothing was written). */
    readonly ok: boolean;
    /** Uniform in [0, 1): the caller's `Math.random()`. */
    readonly random: number;
    readonly policy: PublishPolicy;
  },
): PublishState {
  if (!decision.publish) return state;
  if (!outcome.ok) return { ...state, failures: state.failures + 1 };
  const jitter = Math.min(Math.max(outcome.policy.jitter ?? 0.1, 0), 1);
  const heartbeatMs = outcome.policy.heartbeatSeconds * 1000 *
    (1 - jitter * outcome.random);
  return {
    lastContent: decision.content,
    lastSuccessMs: outcome.nowMs,
    heartbeatDueMs: outcome.nowMs + heartbeatMs,
    failures: 0,
  };
}
