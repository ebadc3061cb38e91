/**
 * Publishing `node-report` and `reconcile` results: the report object of
 * this node (report_objects.ts, written by report_writer.ts) and the
 * Events about its Node (node_events.ts, event_series.ts,
 * event_writer.ts), one {@linkcode ReportPublisher} per command run.
 *
 * Side effects: reads the client settings (config.ts) at each round that
 * has something to write, and closes the connection after it; GETs the
 * Node (the owner of the report, and the subject of the Events); writes
 * the report object and Events; logs.
 *
 * In a one-shot run every round publishes and a failure is thrown. In an
 * `--interval` loop, publish_policy.ts decides (write on change, a
 * jittered heartbeat, at once after a failure); a failure is logged once
 * per change of state (outage_log.ts), counted in the metrics, and the
 * loop goes on; an answer's `Retry-After` holds every request back until
 * it has passed.
 */

import type { ConnectionFlags } from "../connection_flags.ts";
import { errorMessage, KcmError } from "../errors.ts";
import { formatAge } from "../format_age.ts";
import type { Host } from "../host.ts";
import type { JsonValue } from "../json.ts";
import {
  type KcmMetrics,
  observePublish,
  type PublishedKind,
} from "../kcm_metrics.ts";
import { OutageLog } from "../outage_log.ts";
import {
  decidePublish,
  DEFAULT_HEARTBEAT_SECONDS,
  INITIAL_PUBLISH_STATE,
  type PublishDecision,
  type PublishPolicy,
  type PublishState,
  recordPublish,
} from "../publish_policy.ts";
import { connectK8s } from "./client.ts";
import { LOOP_RETRY, ONE_SHOT_RETRY } from "./request_policy.ts";
import { K8sApiError } from "./errors.ts";
import { EventSeriesRecorder, reportingInstanceFor } from "./event_series.ts";
import { EventWriter } from "./event_writer.ts";
import type { NodeEvent } from "./node_events.ts";
import { nodeName, toObjectName } from "./node_name.ts";
import { type ReportKind, reportObject } from "./report_objects.ts";
import { getNodeUid, ReportWriter, type WriteResult } from "./report_writer.ts";

/** How a `--interval` loop publishes. */
export interface LoopSettings {
  readonly intervalSeconds: number;
  /** Longest time between two writes of unchanged content (`--heartbeat`). */
  readonly heartbeatSeconds: number;
}

/**
 * The age past which a loop's report is stale: the heartbeat (the longest
 * a healthy loop leaves unchanged content alone) plus 3 intervals.
 */
export function staleAfterSeconds(loop: LoopSettings): number {
  return loop.heartbeatSeconds + 3 * loop.intervalSeconds;
}

/** Options of {@linkcode ReportPublisher}. */
export interface ReportPublisherOptions {
  /** Environment (client settings, NODE_NAME), logger, clocks. */
  readonly host: Pick<Host, "env" | "log" | "clock" | "now" | "hostname">;
  /** Set in an `--interval` loop; undefined for a one-shot run. */
  readonly loop?: LoopSettings | undefined;
  /** Counts publications when given. */
  readonly metrics?: KcmMetrics | undefined;
  /** Uniform in [0, 1): heartbeat and retry jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** The connection flags; settings are read anew at each connection. */
  readonly connection?: ConnectionFlags | undefined;
}

/** What one round did. */
export interface RoundOutcome {
  /** What publish_policy.ts decided for the report. */
  readonly decision: PublishDecision;
  /**
   * `created`/`replaced` when the report was written, `failed`, `skipped`
   * (unchanged, heartbeat not due) or `deferred` (a Retry-After runs).
   */
  readonly publish: WriteResult | "failed" | "skipped" | "deferred";
  /** Milliseconds the API work of the round took (0 without any). */
  readonly apiMs: number;
}

/** One round's input. */
export interface RoundInput {
  /** The report as the command prints it. */
  readonly report: JsonValue;
  /** What happened on the node this round, for Events. */
  readonly events?: readonly NodeEvent[];
  /** Ends requests in flight (SIGTERM); the round then rejects. */
  readonly signal?: AbortSignal | undefined;
}

/** Tells causes of failures apart for {@linkcode OutageLog}. */
function causeKey(error: unknown): string {
  if (error instanceof K8sApiError) return `${error.status} ${error.reason}`;
  if (error instanceof KcmError && error.cause instanceof K8sApiError) {
    return `${error.name} ${causeKey(error.cause)}`;
  }
  return error instanceof Error ? error.name : "unknown";
}

/** The first `Retry-After` in an error's cause chain, in seconds. */
function retryAfterOf(error: unknown): number | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof K8sApiError && e.retryAfterSeconds !== undefined) {
      return e.retryAfterSeconds;
    }
  }
  return undefined;
}

/** `message (hint: ...)` of an error, for a log line. */
function describe(error: unknown): string {
  const hint = error instanceof KcmError ? error.hint : undefined;
  return hint ? `${errorMessage(error)} (hint: ${hint})` : errorMessage(error);
}

/** The report object and Events of one command on this node. */
export class ReportPublisher {
  readonly #kind: ReportKind;
  readonly #host: ReportPublisherOptions["host"];
  readonly #loop: LoopSettings | undefined;
  readonly #metrics: KcmMetrics | undefined;
  readonly #random: () => number;
  readonly #connection: ConnectionFlags | undefined;
  readonly #policy: PublishPolicy;
  readonly #node: string;
  readonly #writer: ReportWriter;
  readonly #events: EventWriter;
  readonly #recorder: EventSeriesRecorder;
  readonly #publishLog = new OutageLog();
  readonly #eventLog = new OutageLog();
  #state: PublishState = INITIAL_PUBLISH_STATE;
  /** `clock.now()` before which no request is sent (a Retry-After). */
  #notBefore: number | undefined;
  #written = 0;

  constructor(kind: ReportKind, options: ReportPublisherOptions) {
    this.#kind = kind;
    this.#host = options.host;
    this.#loop = options.loop;
    this.#metrics = options.metrics;
    this.#random = options.random ?? Math.random;
    this.#connection = options.connection;
    this.#policy = {
      heartbeatSeconds: options.loop?.heartbeatSeconds ??
        DEFAULT_HEARTBEAT_SECONDS,
    };
    this.#node = nodeName(options.host.env, options.host.hostname);
    this.#writer = new ReportWriter(kind);
    this.#recorder = new EventSeriesRecorder({
      node: { name: this.#node },
      reportingInstance: reportingInstanceFor(this.#node),
      sequenceStart: this.#random() * 1_000_000,
    });
    this.#events = new EventWriter(this.#recorder);
  }

  /** The node the reports are about. */
  get node(): string {
    return this.#node;
  }

  /** What publish_policy.ts remembers (the fleet benchmark seeds it). */
  get state(): PublishState {
    return this.#state;
  }

  set state(state: PublishState) {
    this.#state = state;
  }

  /**
   * Decides, writes the report when due and the round's Events. Rejects
   * when `signal` aborts and, in a one-shot run, when publishing fails.
   */
  async round(input: RoundInput): Promise<RoundOutcome> {
    const host = this.#host;
    const now = host.now();
    const nowMs = now.getTime();
    const decision = decidePublish(this.#state, input.report, {
      nowMs,
      oneShot: this.#loop === undefined,
      policy: this.#policy,
    });
    const events = input.events ?? [];
    this.#events.enqueue(
      events.length > 0
        ? this.#recorder.record(events, now)
        : this.#recorder.tick(now),
    );
    const held = this.#notBefore !== undefined &&
      host.clock.now() < this.#notBefore;
    if (held || (!decision.publish && this.#events.pending === 0)) {
      if (!decision.publish) {
        this.#metrics?.publishSkips.inc({ kind: this.#kind });
      }
      return {
        decision,
        publish: decision.publish ? "deferred" : "skipped",
        apiMs: 0,
      };
    }
    this.#notBefore = undefined;
    const started = host.clock.now();
    let publish: RoundOutcome["publish"] = "skipped";
    let client: Awaited<ReturnType<typeof connectK8s>> | undefined;
    try {
      client = await connectK8s(host.env, {
        log: host.log,
        clock: host.clock,
        retry: this.#loop ? LOOP_RETRY : ONE_SHOT_RETRY,
        random: this.#random,
        giveUpOnLongRetryAfter: this.#loop !== undefined,
        ...(this.#connection ? { connection: this.#connection } : {}),
        ...(input.signal ? { signal: input.signal } : {}),
      });
      const uid = await getNodeUid(client, this.#node);
      if (decision.publish) {
        const object = reportObject(this.#kind, this.#node, input.report, now, {
          ownerUid: uid,
          staleAfterSeconds: this.#loop && staleAfterSeconds(this.#loop),
        });
        publish = await this.#writer.write(client, object, {
          clock: host.clock,
          log: host.log,
        });
        this.#published(decision, publish, client.namespace, nowMs);
      }
      await this.#flushEvents(client, uid, input.signal);
    } catch (error) {
      if (input.signal?.aborted) throw error;
      if (decision.publish && publish === "skipped") {
        publish = "failed";
        this.#publishFailed(decision, error, nowMs);
      } else {
        this.#eventsFailed(error);
      }
    } finally {
      client?.close();
    }
    return { decision, publish, apiMs: host.clock.now() - started };
  }

  #published(
    decision: PublishDecision,
    result: WriteResult,
    namespace: string,
    nowMs: number,
  ): void {
    const log = this.#host.log;
    this.#state = recordPublish(this.#state, decision, {
      nowMs,
      ok: true,
      random: this.#random(),
      policy: this.#policy,
    });
    if (this.#metrics) {
      observePublish(this.#metrics, this.#kind as PublishedKind, {
        ok: true,
        at: new Date(nowMs),
      });
    }
    const name = `${namespace}/${toObjectName(this.#node)}`;
    const change = this.#publishLog.succeeded(this.#host.clock.now());
    if (change?.state === "recovered") {
      log.info(
        `Published ${this.#kind} ${name} again after ${change.failures} failed ${
          change.failures === 1 ? "attempt" : "attempts"
        } in ${formatAge(change.durationMs / 1000)}`,
      );
    } else if (this.#loop === undefined || this.#written === 0) {
      log.info(`Published ${this.#kind} ${name} (${result})`);
    } else {
      log.debug(
        `Published ${this.#kind} ${name} (${result}, ${decision.reason})`,
      );
    }
    this.#written++;
  }

  #publishFailed(
    decision: PublishDecision,
    error: unknown,
    nowMs: number,
  ): void {
    if (this.#loop === undefined) {
      throw new KcmError(
        `Cannot publish ${this.#kind}: ${errorMessage(error)}`,
        1,
        {
          cause: error,
          hint: error instanceof KcmError ? error.hint : undefined,
        },
      );
    }
    this.#state = recordPublish(this.#state, decision, {
      nowMs,
      ok: false,
      random: this.#random(),
      policy: this.#policy,
    });
    this.#writer.forget();
    if (this.#metrics) {
      observePublish(this.#metrics, this.#kind as PublishedKind, {
        ok: false,
        at: new Date(nowMs),
      });
    }
    this.#holdOff(error);
    const log = this.#host.log;
    const change = this.#publishLog.failed(
      causeKey(error),
      this.#host.clock.now(),
    );
    if (change?.state !== "failing") {
      log.debug(`Publishing ${this.#kind} failed again: ${describe(error)}`);
    } else if (change.first) {
      log.error(`Cannot publish ${this.#kind}: ${describe(error)}`);
    } else {
      log.error(`Still cannot publish ${this.#kind}, now: ${describe(error)}`);
    }
  }

  async #flushEvents(
    client: Awaited<ReturnType<typeof connectK8s>>,
    uid: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { written, error } = await this.#events.flush(client, uid);
    if (signal?.aborted) throw signal.reason;
    if (error !== undefined) {
      this.#eventsFailed(error);
      return;
    }
    const change = this.#eventLog.succeeded(this.#host.clock.now());
    if (change?.state === "recovered") {
      this.#host.log.info(
        `Wrote Events about Node ${this.#node} again (${written} now)`,
      );
    }
  }

  #eventsFailed(error: unknown): void {
    this.#holdOff(error);
    const change = this.#eventLog.failed(
      causeKey(error),
      this.#host.clock.now(),
    );
    const text = `Events about Node ${this.#node}: ${describe(error)}`;
    if (change?.state === "failing") {
      this.#host.log.warning(
        `${change.first ? "Cannot write" : "Still cannot write"} ${text}`,
      );
    } else {
      this.#host.log.debug(`Cannot write ${text}`);
    }
  }

  /** Honours a Retry-After longer than the client would wait. */
  #holdOff(error: unknown): void {
    const seconds = retryAfterOf(error);
    if (seconds !== undefined && this.#loop !== undefined) {
      this.#notBefore = this.#host.clock.now() + seconds * 1000;
    }
  }
}

/**
 * Publishes `report` once, as the `kind` object of this node
 * (`NODE_NAME`, else the host name), with the Events given; throws when
 * the report cannot be published.
 */
export async function publishReport(
  host: Host,
  kind: ReportKind,
  report: JsonValue,
  events: readonly NodeEvent[] = [],
): Promise<void> {
  await new ReportPublisher(kind, { host }).round({ report, events });
}
