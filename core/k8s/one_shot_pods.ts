/**
 * Running one one-shot pod per node (cluster-init's setup pods,
 * cluster-uninstall's uninstall pods, see workloads.ts) and waiting for
 * them, each node on its own: the pod of an earlier run is deleted, the new
 * one created once the old is gone, and the run's pods are listed (one
 * list request per round, whatever the number of nodes) until every node
 * has ended or the deadline passes. Creates and deletes go out at most
 * {@linkcode CONCURRENCY} at a time. A node whose old pod never goes, or
 * whose new pod is stuck, holds up only itself; a pod stuck for good
 * (see `isHopeless`) ends its node at once.
 *
 * Side effects: GET (list), DELETE and POST of pods in the given
 * namespace; GET of a failed or stuck container's log; waits on the given
 * clock. Logs at INFO a progress line at most every few seconds (done,
 * failed, pending) and, for runs of at most {@linkcode CHATTY_NODES}
 * nodes, one line per change of a pod's progress (DEBUG for larger runs);
 * at ERROR one line per node that failed or timed out, with the last lines
 * of the container's log for the first {@linkcode LOGGED_FAILURES}.
 */

import { errorMessage } from "../errors.ts";
import type { JsonValue } from "../json.ts";
import type { Logger } from "../log.ts";
import { type Clock, poll } from "../poll.ts";
import type { K8sClient } from "./client.ts";
import { isStatus, K8sApiError } from "./errors.ts";
import { type NodeResult, OneShotProgress } from "./one_shot_progress.ts";
import { type PodObject, terminationMessage } from "./pod_state.ts";
import { quote } from "../quote.ts";

/** Requests (creates, deletes, log reads) in flight at once. */
export const CONCURRENCY = 16;
/** Up to this many nodes, every pod state change gets an INFO line. */
export const CHATTY_NODES = 20;
/** Failures whose container log is quoted; the rest get one line each. */
export const LOGGED_FAILURES = 10;
/** How many log lines an ERROR report quotes. */
const LOG_TAIL_LINES = 20;
/** Least time between two progress lines. */
const PROGRESS_EVERY_MS = 5000;

/** Options of {@linkcode runOneShotPods}. */
export interface OneShotRunOptions {
  readonly namespace: string;
  /** `app.kubernetes.io/component` of the pods (`setup`, `uninstall`). */
  readonly component: string;
  /** The pod name of a node. */
  readonly podName: (node: string) => string;
  /** The pod object of a node. */
  readonly pod: (node: string) => Record<string, JsonValue>;
  /** What the pods do, for log lines: `running init, discover`. */
  readonly doing: string;
  /** A `clock.now()` value after which waiting stops. */
  readonly deadline: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * Runs `items` through `work`, at most `limit` at a time; resolves when
 * all are done. A rejection of `work` propagates after the others ended.
 */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  if (failures.length > 0) throw failures[0];
}

/** The last lines of a container's log, else its termination message. */
async function logTail(
  client: K8sClient,
  podsPath: string,
  pod: PodObject,
  container: string,
): Promise<string[]> {
  try {
    const text = await client.requestText(
      "GET",
      `${podsPath}/${pod.metadata.name}/log`,
      { query: { container, tailLines: LOG_TAIL_LINES } },
    );
    return text.trimEnd().split("\n");
  } catch (error) {
    const fallback = terminationMessage(pod, container);
    if (fallback) {
      return fallback.trimEnd().split("\n").slice(-LOG_TAIL_LINES);
    }
    return [`(no log: ${errorMessage(error)})`];
  }
}

/** Follows one run; see {@linkcode runOneShotPods}. */
class OneShotRun {
  readonly #client: K8sClient;
  readonly #options: OneShotRunOptions;
  readonly #podsPath: string;
  readonly #selector: string;
  readonly #progress: OneShotProgress;
  readonly #chatty: boolean;
  #reported = 0;
  #createdOne = false;
  #lastProgressAt = -Infinity;
  /** Why no more pods are created (a 403 on create), once one was refused. */
  #refused: string | undefined;

  constructor(
    client: K8sClient,
    nodes: readonly string[],
    options: OneShotRunOptions,
  ) {
    this.#client = client;
    this.#options = options;
    this.#podsPath = `/api/v1/namespaces/${
      encodeURIComponent(options.namespace)
    }/pods`;
    this.#selector =
      `app.kubernetes.io/name=kcm,app.kubernetes.io/component=${options.component}`;
    this.#progress = new OneShotProgress(nodes, options.podName);
    this.#chatty = nodes.length <= CHATTY_NODES;
  }

  async #list(): Promise<PodObject[]> {
    const list = await this.#client.request<{ items: PodObject[] }>(
      "GET",
      this.#podsPath,
      { query: { labelSelector: this.#selector } },
    );
    return list.items;
  }

  #detail(line: string): void {
    if (this.#chatty) this.#options.log.info(line);
    else this.#options.log.debug(line);
  }

  async #deleteOld(): Promise<void> {
    const old = this.#progress.start(await this.#list());
    if (old.length === 0) return;
    this.#options.log.info(
      `Deleting ${old.length} ${this.#options.component} pod${
        old.length === 1 ? "" : "s"
      } of an earlier run`,
    );
    await forEachLimited(old, CONCURRENCY, async (name) => {
      try {
        await this.#client.request("DELETE", `${this.#podsPath}/${name}`);
        this.#detail(`Deleting pod ${name} of an earlier run`);
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    });
  }

  /**
   * Creates the pods of the nodes ready for one. Until one pod has been
   * created, the first goes alone: a refusal that would hit every node
   * (Pod Security, RBAC, a missing ServiceAccount) then stops the run
   * after one request.
   */
  async #createReady(): Promise<void> {
    const ready = this.#progress.toCreate();
    if (!this.#createdOne && ready.length > 1) {
      await this.#create(ready.shift()!);
    }
    await forEachLimited(ready, CONCURRENCY, (node) => this.#create(node));
  }

  async #create(node: string): Promise<void> {
    if (this.#refused !== undefined) {
      this.#progress.fail(node, `not created: ${this.#refused}`);
      return;
    }
    const name = this.#progress.podName(node);
    try {
      const created = await this.#client.request<PodObject | undefined>(
        "POST",
        this.#podsPath,
        { body: this.#options.pod(node) },
      );
      this.#progress.created(node, created?.metadata?.uid);
      this.#createdOne = true;
      this.#detail(`Node ${quote(node)}: created pod ${name}`);
    } catch (error) {
      if (isStatus(error, 409)) {
        this.#progress.waitForOld(node);
        return;
      }
      if (!(error instanceof K8sApiError)) throw error;
      const result = this.#progress.fail(
        node,
        `cannot create pod ${name}: ${error.message}`,
      );
      await this.#report(result);
      if (error.status === 403 && this.#refused === undefined) {
        // Pod Security, RBAC or a missing ServiceAccount refuse every
        // node alike: stop after the first refusal.
        this.#refused = `${error.status} ${error.reason}`.trim();
        if (error.hint) this.#options.log.error(`hint: ${error.hint}`);
      }
    }
  }

  async #report(result: NodeResult): Promise<void> {
    const { log } = this.#options;
    const name = this.#progress.podName(result.node);
    const subject = result.pod === undefined ? "" : `pod ${name} `;
    const verb = result.outcome === "timed out" ? "timed out" : "failed";
    log.error(
      `Node ${quote(result.node)}: ${subject}${verb}: ${result.detail}`,
    );
    if (
      result.pod === undefined || result.container === undefined ||
      ++this.#reported > LOGGED_FAILURES
    ) {
      return;
    }
    log.error(
      `Node ${
        quote(result.node)
      }: last lines of the log of ${name}/${result.container}:`,
    );
    for (
      const line of await logTail(
        this.#client,
        this.#podsPath,
        result.pod,
        result.container,
      )
    ) {
      log.error(`  | ${line}`);
    }
  }

  #showProgress(force: boolean): void {
    const now = this.#options.clock.now();
    if (!force && now - this.#lastProgressAt < PROGRESS_EVERY_MS) return;
    this.#lastProgressAt = now;
    const { succeeded, failed, pending } = this.#progress.counts();
    this.#options.log.info(
      `${this.#options.component} pods: ${succeeded} succeeded, ${failed} failed, ${pending} pending`,
    );
  }

  async run(): Promise<NodeResult[]> {
    const { log, namespace, deadline, clock } = this.#options;
    await this.#deleteOld();
    log.info(
      `Creating ${this.#options.component} pods ${this.#options.doing} in namespace ${namespace}`,
    );
    await poll(async () => {
      await this.#createReady();
      const ended: NodeResult[] = [];
      for (const update of this.#progress.observe(await this.#list())) {
        if (update.changed) {
          this.#detail(
            `Node ${
              quote(update.node)
            }: pod ${update.pod.metadata.name} ${update.state.progress}`,
          );
        }
        if (update.ended && update.ended.outcome !== "succeeded") {
          ended.push(update.ended);
        }
      }
      for (const result of ended) await this.#report(result);
      if (this.#progress.done) return true;
      this.#showProgress(false);
      return undefined;
    }, {
      clock,
      backoff: { initialMs: 500, factor: 1.5, maxMs: 3000, jitter: 0 },
      deadline,
    });
    const results = this.#progress.results();
    for (const result of results) {
      if (result.outcome === "timed out") await this.#report(result);
    }
    this.#showProgress(true);
    return results;
  }
}

/**
 * Runs the one-shot pods of `nodes` and waits for them; resolves to each
 * node's result, in node order. Failures are logged as they come, pods
 * unfinished at the deadline after it. API errors other than a refused
 * pod creation (logged, and no further pod created) propagate.
 */
export function runOneShotPods(
  client: K8sClient,
  nodes: readonly string[],
  options: OneShotRunOptions,
): Promise<NodeResult[]> {
  return new OneShotRun(client, nodes, options).run();
}
