/**
 * Deduplication of kcm's Node events into `events.k8s.io/v1` writes, the way
 * client-go's event recorder (`k8s.io/client-go/tools/events`) does it: the
 * first occurrence creates an Event; the second, within the series window,
 * PATCHes `series: {count: 2, lastObservedTime}` into it; later ones only
 * count in memory, and the count is written when the series ends (no
 * occurrence for `finishAfterMs`, then the event is forgotten) or every
 * `refreshEveryMs` while it goes on. A singleton older than `finishAfterMs`
 * is forgotten, so a later occurrence creates a new Event.
 *
 * One difference from client-go: two occurrences are the same only when
 * their note is the same too (client-go compares type, reason, action,
 * reporting controller and instance, regarding and related, not the note).
 * kcm's notes name the check or the cpu lists, and a count must never
 * merge "dataplane:4 reclaimed" into "infra:1 reclaimed".
 *
 * Pure: the caller passes the clock's time and performs the writes; a
 * PATCH that answers 404 (the Event expired, Events live one hour by
 * default) is retried as a create of {@linkcode EventPatch.fallback}.
 *
 * Where Events of a Node go: the API server accepts an Event about a
 * cluster-scoped object only in namespace `default` or `kube-system`
 * (with `eventTime` set), so {@linkcode EVENT_NAMESPACE} is `default`, as
 * for the kubelet's Node events.
 */

import type { NodeEvent } from "./node_events.ts";

/** `reportingController` of every kcm Event. */
export const REPORTING_CONTROLLER = "kcm.intel.com/kcm";

/** Namespace of kcm's Node events (see the module comment). */
export const EVENT_NAMESPACE = "default";

/** When a series ends and how often a running one is written. */
export interface SeriesPolicy {
  /** A series (or singleton) with no occurrence for this long is over. */
  readonly finishAfterMs: number;
  /** A running series has its count written at least this often. */
  readonly refreshEveryMs: number;
}

/** client-go's values: 6 minutes and 30 minutes. */
export const CLIENT_GO_SERIES: SeriesPolicy = {
  finishAfterMs: 6 * 60_000,
  refreshEveryMs: 30 * 60_000,
};

/** The Node an event is about. */
export interface NodeRef {
  readonly name: string;
  /** The Node's uid, when known (kubectl matches on it if present). */
  readonly uid?: string;
}

/** `series` of an `events.k8s.io/v1` Event. */
export interface EventSeriesField {
  readonly count: number;
  /** MicroTime: RFC 3339 with exactly six fraction digits. */
  readonly lastObservedTime: string;
}

/** An `events.k8s.io/v1` Event as kcm creates it. */
export interface EventObject {
  readonly apiVersion: "events.k8s.io/v1";
  readonly kind: "Event";
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly eventTime: string;
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly action: string;
  readonly note: string;
  readonly reportingController: string;
  readonly reportingInstance: string;
  readonly regarding: {
    readonly apiVersion: "v1";
    readonly kind: "Node";
    readonly name: string;
    readonly uid?: string;
  };
  readonly series?: EventSeriesField;
}

/** Create this Event (POST to `EVENT_NAMESPACE`'s events). */
export interface EventCreate {
  readonly verb: "create";
  readonly event: EventObject;
}

/** Merge-patch the series of an existing Event. */
export interface EventPatch {
  readonly verb: "patch";
  readonly name: string;
  readonly namespace: string;
  /** `application/merge-patch+json` body. */
  readonly patch: { readonly series: EventSeriesField };
  /** Create this instead when the PATCH answers 404. */
  readonly fallback: EventObject;
}

/** One API write the caller performs. */
export type EventWrite = EventCreate | EventPatch;

/**
 * A Kubernetes MicroTime: `2026-11-29T10:00:00.123000Z` (the API server
 * parses exactly six fraction digits).
 */
export function formatMicroTime(time: Date): string {
  return `${time.toISOString().slice(0, 23)}000Z`;
}

interface Tracked {
  event: EventObject;
  count: number;
  lastObservedMs: number;
  /** The count the API server was last told (1 after the create). */
  writtenCount: number;
  writtenAtMs: number;
}

/** Options of {@linkcode EventSeriesRecorder}. */
export interface EventSeriesRecorderOptions {
  readonly node: NodeRef;
  /** Who reports, e.g. `kcm.intel.com/kcm-node-report-<node>` (at most 128 bytes). */
  readonly reportingInstance: string;
  readonly policy?: SeriesPolicy;
  /**
   * Where the sequence in event names starts, 0 to 999,999 (default 0).
   * Two processes reporting on one node (`reconcile` and `node-report`)
   * give different starts, so their names never collide.
   */
  readonly sequenceStart?: number;
}

/**
 * Turns a daemon's events into Event writes, remembering the recent ones.
 *
 * @example
 * ```ts
 * import { EventSeriesRecorder } from "./event_series.ts";
 * import assert from "node:assert/strict";
 * const recorder = new EventSeriesRecorder({
 *   node: { name: "node-1" },
 *   reportingInstance: "kcm.intel.com/kcm-node-1",
 * });
 * const event = { type: "Normal", reason: "CpuListsReclaimed", action: "Reconcile", note: "x" } as const;
 * const t0 = new Date("2026-11-29T10:00:00Z");
 * assert.equal(recorder.record([event], t0)[0]?.verb, "create");
 * assert.equal(recorder.record([event], new Date(t0.getTime() + 10_000))[0]?.verb, "patch");
 * assert.deepEqual(recorder.record([event], new Date(t0.getTime() + 20_000)), []);
 * ```
 */
export class EventSeriesRecorder {
  readonly #node: NodeRef;
  readonly #instance: string;
  readonly #policy: SeriesPolicy;
  readonly #tracked = new Map<string, Tracked>();
  #sequence = 0;

  constructor(options: EventSeriesRecorderOptions) {
    this.#node = options.node;
    this.#instance = options.reportingInstance;
    this.#policy = options.policy ?? CLIENT_GO_SERIES;
    this.#sequence = Math.floor(options.sequenceStart ?? 0) % 1_000_000;
  }

  /** How many events (singletons and series) are remembered. */
  get size(): number {
    return this.#tracked.size;
  }

  /**
   * Records `events` observed at `now` and returns the writes to perform
   * now: a create for a new event, a patch when an event becomes a series,
   * nothing for further occurrences of a series. Does the upkeep of
   * {@linkcode tick} too: a series that ended is written and forgotten
   * before it could absorb a new occurrence, and the refresh counts this
   * run's occurrences.
   */
  record(events: readonly NodeEvent[], now: Date): EventWrite[] {
    const nowMs = now.getTime();
    const writes = this.#finish(nowMs);
    for (const event of events) {
      const key = JSON.stringify([
        event.type,
        event.reason,
        event.action,
        event.note,
      ]);
      const tracked = this.#tracked.get(key);
      if (tracked === undefined) {
        const created = this.#eventObject(event, now);
        this.#tracked.set(key, {
          event: created,
          count: 1,
          lastObservedMs: nowMs,
          writtenCount: 1,
          writtenAtMs: nowMs,
        });
        writes.push({ verb: "create", event: created });
        continue;
      }
      tracked.count++;
      tracked.lastObservedMs = nowMs;
      if (tracked.count === 2) writes.push(this.#patch(tracked, nowMs));
    }
    writes.push(...this.#refresh(nowMs));
    return writes;
  }

  /**
   * Upkeep at `now` (call it every loop iteration): writes the final count
   * of series that ended and forgets them, forgets singletons past the
   * window, and writes the count of series not written for
   * `refreshEveryMs`.
   */
  tick(now: Date): EventWrite[] {
    const nowMs = now.getTime();
    return [...this.#finish(nowMs), ...this.#refresh(nowMs)];
  }

  /** Ends what saw no occurrence for `finishAfterMs`. */
  #finish(nowMs: number): EventWrite[] {
    const writes: EventWrite[] = [];
    for (const [key, tracked] of this.#tracked) {
      if (nowMs - tracked.lastObservedMs <= this.#policy.finishAfterMs) {
        continue;
      }
      if (tracked.count > 1 && tracked.count !== tracked.writtenCount) {
        writes.push(this.#patch(tracked, nowMs));
      }
      this.#tracked.delete(key);
    }
    return writes;
  }

  /** Writes counts of running series last written `refreshEveryMs` ago. */
  #refresh(nowMs: number): EventWrite[] {
    const writes: EventWrite[] = [];
    for (const tracked of this.#tracked.values()) {
      if (
        tracked.count > 1 && tracked.count !== tracked.writtenCount &&
        nowMs - tracked.writtenAtMs >= this.#policy.refreshEveryMs
      ) {
        writes.push(this.#patch(tracked, nowMs));
      }
    }
    return writes;
  }

  /**
   * Tells the recorder a write failed for good (not a 404 handled by the
   * fallback): a failed create forgets the event, so its next occurrence
   * creates it again; a failed patch is written again at the next refresh
   * or at the end of the series.
   */
  failed(write: EventWrite): void {
    for (const [key, tracked] of this.#tracked) {
      const name = write.verb === "create"
        ? write.event.metadata.name
        : write.name;
      if (tracked.event.metadata.name !== name) continue;
      if (write.verb === "create") this.#tracked.delete(key);
      else tracked.writtenCount = 0;
      return;
    }
  }

  #patch(tracked: Tracked, nowMs: number): EventPatch {
    const series: EventSeriesField = {
      count: tracked.count,
      lastObservedTime: formatMicroTime(new Date(tracked.lastObservedMs)),
    };
    tracked.writtenCount = tracked.count;
    tracked.writtenAtMs = nowMs;
    return {
      verb: "patch",
      name: tracked.event.metadata.name,
      namespace: tracked.event.metadata.namespace,
      patch: { series },
      fallback: { ...tracked.event, series },
    };
  }

  /**
   * The Event for a first occurrence, named like client-go names them:
   * `<node>.<hex nanoseconds>` (a sequence number keeps names of one
   * millisecond apart).
   */
  #eventObject(event: NodeEvent, now: Date): EventObject {
    const nanos = BigInt(now.getTime()) * 1_000_000n +
      BigInt(this.#sequence++ % 1_000_000);
    return {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: {
        name: `${this.#node.name}.${nanos.toString(16)}`,
        namespace: EVENT_NAMESPACE,
      },
      eventTime: formatMicroTime(now),
      type: event.type,
      reason: event.reason,
      action: event.action,
      note: event.note,
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.#instance,
      regarding: {
        apiVersion: "v1",
        kind: "Node",
        name: this.#node.name,
        ...(this.#node.uid === undefined ? {} : { uid: this.#node.uid }),
      },
    };
  }
}

/**
 * `reportingInstance` for a daemon on `node`, client-go style
 * (`<controller>-<host>`), cut to the API server's 128-character limit.
 */
export function reportingInstanceFor(node: string): string {
  return `${REPORTING_CONTROLLER}-${node}`.slice(0, 128);
}
