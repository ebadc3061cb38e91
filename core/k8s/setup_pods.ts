/**
 * Running `cluster-init`'s one-shot setup pods (see workloads.ts) and
 * waiting for them: delete the pods of an earlier run and wait until they
 * are gone, create one pod per node, poll the pod list until every pod
 * has finished or the deadline passes.
 *
 * Side effects: DELETE, GET and POST of pods in the given namespace, GET
 * of a failed or stuck container's log; waits on the given clock. Logs at
 * INFO one line per change of a pod's progress, and at ERROR, for each
 * pod that failed or was still unfinished at the deadline, the node, pod,
 * container, reason and the last lines of the container's log.
 */

import { errorMessage, KcmError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Clock, poll } from "../poll.ts";
import type { K8sClient } from "./client.ts";
import { isStatus } from "./errors.ts";
import { type PodObject, podState, terminationMessage } from "./pod_state.ts";
import { SetupProgress } from "./setup_progress.ts";
import {
  type OneShotCommand,
  SETUP_SELECTOR,
  setupPod,
  type WorkloadSettings,
} from "./workloads.ts";
import { quote } from "../quote.ts";

/** How many log lines an ERROR report quotes. */
const LOG_TAIL_LINES = 20;

/** Options of {@linkcode runSetupPods}. */
export interface SetupPodsOptions {
  readonly namespace: string;
  /** The one-shot commands, in the order the pod runs them. */
  readonly commands: readonly OneShotCommand[];
  readonly settings: WorkloadSettings;
  /** A `clock.now()` value after which waiting stops. */
  readonly deadline: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/** Which nodes' setup pods succeeded; the others failed or timed out. */
export interface SetupResult {
  readonly succeeded: string[];
  readonly failed: string[];
}

/** Deletes the setup pods of an earlier run and waits until they are gone. */
async function deleteOldPods(
  client: K8sClient,
  podsPath: string,
  names: readonly string[],
  options: SetupPodsOptions,
): Promise<void> {
  const pending = new Set<string>();
  for (const name of names) {
    try {
      await client.request("DELETE", `${podsPath}/${name}`);
      options.log.info(`Deleting pod ${name} of an earlier run`);
      pending.add(name);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
  if (pending.size === 0) return;
  const gone = await poll(async () => {
    for (const name of [...pending]) {
      try {
        await client.request("GET", `${podsPath}/${name}`);
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
        pending.delete(name);
      }
    }
    return pending.size === 0 ? true : undefined;
  }, {
    clock: options.clock,
    backoff: { initialMs: 200, factor: 2, maxMs: 2000, jitter: 0 },
    deadline: options.deadline,
  });
  if (!gone.done) {
    throw new KcmError(
      `Pods of an earlier run are still being deleted: ${
        [...pending].join(", ")
      }`,
    );
  }
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

/**
 * Logs at ERROR why `pod` of `node` failed, or where it was at the
 * deadline (`stillAt`, its last progress line), then its container's log.
 */
async function reportProblem(
  client: K8sClient,
  podsPath: string,
  node: string,
  pod: PodObject,
  stillAt: string | undefined,
  log: Logger,
): Promise<void> {
  const state = podState(pod);
  let container: string | undefined;
  if (stillAt !== undefined) {
    container = state.current;
    log.error(
      `Node ${quote(node)}: pod ${pod.metadata.name} still ${stillAt}${
        container ? ` in container ${quote(container)}` : ""
      } at the timeout${state.problem ? `: ${state.problem.description}` : ""}`,
    );
  } else {
    const failure = state.failure;
    container = failure?.container;
    log.error(
      `Node ${quote(node)}: pod ${pod.metadata.name} failed${
        container ? ` in container ${quote(container)}` : ""
      }: ${failure?.description ?? "pod failed"}`,
    );
  }
  if (container === undefined) return;
  log.error(
    `Node ${
      quote(node)
    }: last lines of the log of ${pod.metadata.name}/${container}:`,
  );
  for (const line of await logTail(client, podsPath, pod, container)) {
    log.error(`  | ${line}`);
  }
}

/**
 * Runs the setup pods of `nodes` and waits for them; resolves to the nodes
 * whose pod succeeded and the others. Failures are logged as they come,
 * pods unfinished at the deadline after it.
 */
export async function runSetupPods(
  client: K8sClient,
  nodes: readonly string[],
  options: SetupPodsOptions,
): Promise<SetupResult> {
  const { namespace, log } = options;
  const podsPath = `/api/v1/namespaces/${namespace}/pods`;
  const progress = new SetupProgress(nodes);
  await deleteOldPods(client, podsPath, progress.podNames, options);
  log.info(
    `Creating setup pods running ${
      options.commands.join(", ")
    } in namespace ${namespace}`,
  );
  for (const node of nodes) {
    await client.request("POST", podsPath, {
      body: setupPod(node, options.commands, options.settings),
    });
  }
  await poll(async () => {
    const list = await client.request<{ items: PodObject[] }>(
      "GET",
      podsPath,
      { query: { labelSelector: SETUP_SELECTOR } },
    );
    for (const update of progress.observe(list.items)) {
      const { node, pod, state } = update;
      if (update.changed) {
        log.info(
          `Node ${quote(node)}: pod ${pod.metadata.name} ${state.progress}`,
        );
      }
      if (update.finished && state.phase === "Failed") {
        await reportProblem(client, podsPath, node, pod, undefined, log);
      }
    }
    return progress.done ? true : undefined;
  }, {
    clock: options.clock,
    backoff: { initialMs: 500, factor: 1.5, maxMs: 5000, jitter: 0 },
    deadline: options.deadline,
  });
  for (const { node, pod, progress: stillAt } of progress.unfinished()) {
    await reportProblem(client, podsPath, node, pod, stillAt, log);
  }
  return { succeeded: progress.succeeded(), failed: progress.failed() };
}
