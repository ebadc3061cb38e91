/**
 * Which Events kcm's daemons emit on their Node: one when a node-report
 * check turns from passing to failing or back, one when reconcile
 * reclaims cpu lists from exited tasks. Pure: the previous and current
 * states in, {@linkcode NodeEvent}s out; `event_series.ts` deduplicates
 * them into `events.k8s.io/v1` writes.
 */

/** An occurrence kcm reports, before deduplication. */
export interface NodeEvent {
  /** `Warning` for a problem, `Normal` otherwise. */
  readonly type: "Normal" | "Warning";
  /** UpperCamelCase, why the event happened (`CheckFailed`). */
  readonly reason: string;
  /** UpperCamelCase, what kcm was doing (`NodeReport`, `Reconcile`). */
  readonly action: string;
  /** What happened, for a human: names the check, pools and lists. */
  readonly note: string;
}

/** The most bytes (UTF-8) the API server takes in an Event's note. */
export const NOTE_LIMIT_BYTES = 1024;

/** Reasons of kcm's events, for field selectors and alerts. */
export const EVENT_REASONS = {
  checkFailed: "CheckFailed",
  checkPassed: "CheckPassed",
  cpuListsReclaimed: "CpuListsReclaimed",
} as const;

const encoder = new TextEncoder();

/**
 * `text` cut to at most `limit` UTF-8 bytes, ending in `...` when cut (never
 * in the middle of a character).
 *
 * @example
 * ```ts
 * import { truncateNote } from "./node_events.ts";
 * import assert from "node:assert/strict";
 * assert.equal(truncateNote("abcdef", 5), "ab...");
 * assert.equal(truncateNote("abc", 5), "abc");
 * ```
 */
export function truncateNote(text: string, limit = NOTE_LIMIT_BYTES): string {
  if (encoder.encode(text).length <= limit) return text;
  let kept = "";
  let bytes = 3; // the "..."
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > limit) break;
    kept += char;
    bytes += size;
  }
  return `${kept}...`;
}

/** One check of a node report (the `checks` values of `node-report`). */
export interface CheckState {
  readonly ok: boolean;
  readonly errors: readonly string[];
}

/**
 * Events for the checks whose state changed, in check name order. A check
 * absent from `previous` (or no previous run at all: the daemon just
 * started) counts as passing, so a daemon that starts on a broken node
 * reports it once; a check absent from `current` emits nothing.
 *
 * @example
 * ```ts
 * import { checkEvents } from "./node_events.ts";
 * import assert from "node:assert/strict";
 * const failing = { ok: false, errors: ["CPU list dataplane:4 names CPUs 4 that are offline or absent"] };
 * assert.deepEqual(checkEvents(undefined, { cpuListsOnline: failing }), [{
 *   type: "Warning",
 *   reason: "CheckFailed",
 *   action: "NodeReport",
 *   note: "node-report check cpuListsOnline failed: CPU list dataplane:4 names CPUs 4 that are offline or absent",
 * }]);
 * assert.deepEqual(checkEvents({ cpuListsOnline: failing }, { cpuListsOnline: failing }), []);
 * ```
 */
export function checkEvents(
  previous: Readonly<Record<string, CheckState>> | undefined,
  current: Readonly<Record<string, CheckState>>,
): NodeEvent[] {
  const events: NodeEvent[] = [];
  for (const name of Object.keys(current).sort()) {
    const now = current[name]!;
    const before = previous?.[name]?.ok ?? true;
    if (before && !now.ok) {
      const errors = now.errors.length === 0
        ? "no detail"
        : now.errors.join("; ");
      events.push({
        type: "Warning",
        reason: EVENT_REASONS.checkFailed,
        action: "NodeReport",
        note: truncateNote(`node-report check ${name} failed: ${errors}`),
      });
    } else if (!before && now.ok) {
      events.push({
        type: "Normal",
        reason: EVENT_REASONS.checkPassed,
        action: "NodeReport",
        note: `node-report check ${name} passes again`,
      });
    }
  }
  return events;
}

/** One claim reconcile gave back (a `reclaimedCpuLists` entry). */
export interface ReclaimedClaim {
  readonly pool: string;
  readonly cpus: string;
  readonly pid: number;
}

/**
 * One event naming the cpu lists a reconcile run reclaimed (each list
 * once, as `pool:cpus`, sorted), or none when nothing was reclaimed. Pids
 * are left out of the note on purpose: a workload that keeps dying on the
 * same list then repeats the same event, which becomes a series.
 *
 * @example
 * ```ts
 * import { reclaimEvents } from "./node_events.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(reclaimEvents([
 *   { pool: "dataplane", cpus: "4,12", pid: 900 },
 *   { pool: "infra", cpus: "1", pid: 77 },
 * ]), [{
 *   type: "Normal",
 *   reason: "CpuListsReclaimed",
 *   action: "Reconcile",
 *   note: "Reclaimed 2 cpu lists from exited tasks: dataplane:4,12 infra:1",
 * }]);
 * ```
 */
export function reclaimEvents(
  reclaimed: readonly ReclaimedClaim[],
): NodeEvent[] {
  if (reclaimed.length === 0) return [];
  const lists = [...new Set(reclaimed.map((r) => `${r.pool}:${r.cpus}`))]
    .sort();
  const noun = lists.length === 1 ? "cpu list" : "cpu lists";
  return [{
    type: "Normal",
    reason: EVENT_REASONS.cpuListsReclaimed,
    action: "Reconcile",
    note: truncateNote(
      `Reclaimed ${lists.length} ${noun} from exited tasks: ${lists.join(" ")}`,
    ),
  }];
}
