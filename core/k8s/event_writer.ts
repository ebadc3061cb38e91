/**
 * Sends the Event writes of an {@linkcode EventSeriesRecorder} to the API
 * server: a create is a POST to `events.k8s.io/v1` in
 * {@linkcode EVENT_NAMESPACE}, a series update a merge PATCH, and a PATCH
 * that answers 404 (the Event expired) creates the event again with its
 * series.
 *
 * Side effects: POST and PATCH requests on events in `default`.
 *
 * Writes that fail for a reason that may pass (no answer, 429, 5xx) wait
 * in a queue and go first at the next call, in order, so a check that
 * turned failing while the API server was down still gets its Event once
 * it is back (at most {@linkcode PENDING_LIMIT} wait; older ones are
 * dropped). Any other failure (403, 422) is final: the write is dropped
 * and the recorder told, so the next occurrence starts a new Event. A
 * create answered 409 was stored by an earlier try whose answer was lost:
 * it counts as written.
 */

import type { K8sClient } from "./client.ts";
import { isStatus, K8sApiError } from "./errors.ts";
import {
  EVENT_NAMESPACE,
  type EventObject,
  type EventSeriesRecorder,
  type EventWrite,
} from "./event_series.ts";

/** At most this many failed writes wait for the next call. */
export const PENDING_LIMIT = 50;

const COLLECTION =
  `/apis/events.k8s.io/v1/namespaces/${EVENT_NAMESPACE}/events`;

/** Whether a failed write may work later unchanged. */
function isTransient(error: unknown): boolean {
  return error instanceof K8sApiError &&
    (error.status === 0 || error.status === 429 || error.status >= 500);
}

/** What one {@linkcode EventWriter.flush} did. */
export interface FlushResult {
  /** Writes the API server accepted. */
  readonly written: number;
  /** The first failure, when any write failed. */
  readonly error?: unknown;
}

/** Sends a recorder's writes, keeping the ones that failed for a retry. */
export class EventWriter {
  readonly #recorder: EventSeriesRecorder;
  #pending: EventWrite[] = [];

  constructor(recorder: EventSeriesRecorder) {
    this.#recorder = recorder;
  }

  /** Writes waiting for the next {@linkcode flush}. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Queues writes to send at the next {@linkcode flush}. */
  enqueue(writes: readonly EventWrite[]): void {
    this.#pending.push(...writes);
    const excess = this.#pending.length - PENDING_LIMIT;
    if (excess > 0) {
      for (const dropped of this.#pending.splice(0, excess)) {
        this.#recorder.failed(dropped);
      }
    }
  }

  /**
   * Sends every queued write, in order, with `uid` as the Node's uid.
   * Stops at the first transient failure (the rest stay queued; the API
   * server is likely gone for all of them).
   */
  async flush(
    client: K8sClient,
    uid: string | undefined,
  ): Promise<FlushResult> {
    let written = 0;
    let failure: { error: unknown } | undefined;
    while (this.#pending.length > 0) {
      const write = this.#pending[0]!;
      try {
        await send(client, write, uid);
        written++;
        this.#pending.shift();
      } catch (error) {
        failure ??= { error };
        if (isTransient(error)) break;
        this.#pending.shift();
        this.#recorder.failed(write);
      }
    }
    return failure === undefined ? { written } : { written, ...failure };
  }
}

function withUid(event: EventObject, uid: string | undefined): EventObject {
  return uid === undefined
    ? event
    : { ...event, regarding: { ...event.regarding, uid } };
}

async function send(
  client: K8sClient,
  write: EventWrite,
  uid: string | undefined,
): Promise<void> {
  if (write.verb === "create") {
    await create(client, withUid(write.event, uid));
    return;
  }
  try {
    await client.request(
      "PATCH",
      `/apis/events.k8s.io/v1/namespaces/${
        encodeURIComponent(write.namespace)
      }/events/${encodeURIComponent(write.name)}`,
      { body: write.patch, contentType: "application/merge-patch+json" },
    );
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
    await create(client, withUid(write.fallback, uid));
  }
}

async function create(client: K8sClient, event: EventObject): Promise<void> {
  try {
    await client.request("POST", COLLECTION, { body: event });
  } catch (error) {
    if (!isStatus(error, 409)) throw error;
  }
}
