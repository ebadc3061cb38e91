/**
 * The bookkeeping of a run of one-shot pods (cluster-init's setup pods,
 * cluster-uninstall's uninstall pods), one per node: which node waits for
 * the pod of an earlier run to go, which pod to create, the last progress
 * line shown per node, which pods have finished and how. Fed one pod
 * listing at a time; pure.
 *
 * Each node goes its own way: a node whose old pod stays Terminating (a
 * dead kubelet never confirms) holds up only itself. A pod stuck for a
 * reason that waiting cannot fix ({@linkcode isHopeless}: the image cannot
 * be had under its pull policy, the container cannot be configured) ends
 * its node at once as failed, instead of at the deadline.
 */

import {
  type PodIssue,
  type PodObject,
  type PodState,
  podState,
} from "./pod_state.ts";

/** How a node's one-shot pod ended, or where it was left. */
export type NodeOutcome = "succeeded" | "failed" | "timed out";

/** One node's result. */
export interface NodeResult {
  readonly node: string;
  readonly outcome: NodeOutcome;
  /** Empty when it succeeded; else why, in one line. */
  readonly detail: string;
  /** The pod as last listed, when it was. */
  readonly pod: PodObject | undefined;
  /** The container to quote the log of, when one is concerned. */
  readonly container: string | undefined;
}

/** What changed for one node in a listing. */
export interface PodUpdate {
  readonly node: string;
  readonly pod: PodObject;
  readonly state: PodState;
  /** Its progress line differs from the last one shown. */
  readonly changed: boolean;
  /** It ended in this listing (finished, or given up as hopeless). */
  readonly ended: NodeResult | undefined;
}

/** Counts for progress lines. */
export interface ProgressCounts {
  readonly succeeded: number;
  readonly failed: number;
  readonly pending: number;
}

/** Waiting reasons no amount of waiting fixes. */
const HOPELESS = new Set([
  "ErrImageNeverPull",
  "InvalidImageName",
  "ImageInspectError",
  "CreateContainerConfigError",
  "CreateContainerError",
]);

/**
 * True when a pod's problem will not go away by itself: the image is
 * absent under `imagePullPolicy: Never`, the image name is invalid, the
 * container cannot be configured or created. Pull back-offs are not
 * (a registry may come back).
 *
 * @example
 * ```ts
 * import { isHopeless } from "./one_shot_progress.ts";
 * import assert from "node:assert/strict";
 * const issue = (reason: string) =>
 *   ({ container: "init", reason, exitCode: undefined, description: reason });
 * assert.equal(isHopeless(issue("ErrImageNeverPull")), true);
 * assert.equal(isHopeless(issue("ImagePullBackOff")), false);
 * ```
 */
export function isHopeless(issue: PodIssue | undefined): boolean {
  return issue !== undefined && HOPELESS.has(issue.reason);
}

type Stage =
  | { readonly kind: "old" }
  | { readonly kind: "create" }
  | { readonly kind: "created"; readonly uid: string | undefined }
  | { readonly kind: "ended"; readonly result: NodeResult };

/** Follows the one-shot pods of `nodes`, named by `podName`. */
export class OneShotProgress {
  readonly #nodes: readonly string[];
  readonly #nodeOfPod: ReadonlyMap<string, string>;
  readonly #podName: (node: string) => string;
  readonly #stage = new Map<string, Stage>();
  readonly #progress = new Map<string, string>();
  readonly #lastListed = new Map<string, PodObject>();

  constructor(nodes: readonly string[], podName: (node: string) => string) {
    this.#nodes = nodes;
    this.#podName = podName;
    this.#nodeOfPod = new Map(nodes.map((n) => [podName(n), n]));
    for (const node of nodes) this.#stage.set(node, { kind: "create" });
  }

  /** The pod name of `node`. */
  podName(node: string): string {
    return this.#podName(node);
  }

  /**
   * Takes the pods that exist before the run and returns the names of the
   * ones of ours to delete; their nodes wait until the pod is gone.
   *
   * @example
   * ```ts
   * import { OneShotProgress } from "./one_shot_progress.ts";
   * import assert from "node:assert/strict";
   * const progress = new OneShotProgress(["a", "b"], (n) => `kcm-setup-${n}`);
   * assert.deepEqual(progress.start([{ metadata: { name: "kcm-setup-b" } }]), ["kcm-setup-b"]);
   * assert.deepEqual(progress.toCreate(), ["a"]);
   * assert.deepEqual(progress.observe([]).length, 0);
   * assert.deepEqual(progress.toCreate(), ["a", "b"]);
   * ```
   */
  start(existing: readonly PodObject[]): string[] {
    const old: string[] = [];
    for (const pod of existing) {
      const node = this.#nodeOfPod.get(pod.metadata.name);
      if (node === undefined) continue;
      this.#stage.set(node, { kind: "old" });
      old.push(pod.metadata.name);
    }
    return old;
  }

  /** Nodes whose pod may be created now, in node order. */
  toCreate(): string[] {
    return this.#nodes.filter((n) => this.#stage.get(n)?.kind === "create");
  }

  /** The pod of `node` was created (`uid` from the answer). */
  created(node: string, uid: string | undefined): void {
    this.#stage.set(node, { kind: "created", uid });
  }

  /** The pod of `node` exists again (a 409 on create): wait for it to go. */
  waitForOld(node: string): void {
    this.#stage.set(node, { kind: "old" });
  }

  /** `node` ends as failed without a pod, for `detail`. */
  fail(node: string, detail: string): NodeResult {
    const result: NodeResult = {
      node,
      outcome: "failed",
      detail,
      pod: this.#lastListed.get(node),
      container: undefined,
    };
    this.#stage.set(node, { kind: "ended", result });
    return result;
  }

  /**
   * Takes one listing of the run's pods and returns, in listing order, an
   * update for each created pod that had not ended. Nodes whose old pod
   * is no longer listed become ready to create ({@linkcode toCreate}).
   */
  observe(pods: readonly PodObject[]): PodUpdate[] {
    const listed = new Map<string, PodObject>();
    for (const pod of pods) {
      const node = this.#nodeOfPod.get(pod.metadata.name);
      if (node !== undefined) listed.set(node, pod);
    }
    for (const node of this.#nodes) {
      if (this.#stage.get(node)?.kind === "old" && !listed.has(node)) {
        this.#stage.set(node, { kind: "create" });
      }
    }
    const updates: PodUpdate[] = [];
    for (const [node, pod] of listed) {
      const stage = this.#stage.get(node);
      if (stage?.kind !== "created") continue;
      if (stage.uid !== undefined && pod.metadata.uid !== stage.uid) continue;
      this.#lastListed.set(node, pod);
      const state = podState(pod);
      const changed = this.#progress.get(node) !== state.progress;
      this.#progress.set(node, state.progress);
      let ended: NodeResult | undefined;
      if (state.finished) {
        ended = state.phase === "Succeeded"
          ? {
            node,
            outcome: "succeeded",
            detail: "",
            pod,
            container: undefined,
          }
          : {
            node,
            outcome: "failed",
            detail: failureDetail(state.failure),
            pod,
            container: state.failure?.container,
          };
      } else if (isHopeless(state.problem)) {
        ended = {
          node,
          outcome: "failed",
          detail: `${state.progress}: ${state.problem!.description}`,
          pod,
          container: state.problem!.container,
        };
      }
      if (ended !== undefined) {
        this.#stage.set(node, { kind: "ended", result: ended });
      }
      updates.push({ node, pod, state, changed, ended });
    }
    return updates;
  }

  /** Every node has ended. */
  get done(): boolean {
    return this.#nodes.every((n) => this.#stage.get(n)?.kind === "ended");
  }

  /** Succeeded, failed and not yet ended nodes. */
  counts(): ProgressCounts {
    let succeeded = 0;
    let failed = 0;
    for (const stage of this.#stage.values()) {
      if (stage.kind !== "ended") continue;
      if (stage.result.outcome === "succeeded") succeeded++;
      else failed++;
    }
    return {
      succeeded,
      failed,
      pending: this.#nodes.length - succeeded - failed,
    };
  }

  /**
   * Every node's result, in node order; nodes that have not ended are
   * `timed out`, with where they were.
   */
  results(): NodeResult[] {
    return this.#nodes.map((node) => {
      const stage = this.#stage.get(node)!;
      if (stage.kind === "ended") return stage.result;
      const pod = this.#lastListed.get(node);
      const state = pod === undefined ? undefined : podState(pod);
      let detail: string;
      if (stage.kind === "old") {
        detail = `the pod of an earlier run is still being deleted`;
      } else if (stage.kind === "create") {
        detail = "its pod was not created";
      } else if (state === undefined) {
        detail = "its pod was never listed";
      } else {
        detail = `still ${state.progress}${
          state.problem ? `: ${state.problem.description}` : ""
        }`;
      }
      return {
        node,
        outcome: "timed out",
        detail,
        pod,
        container: state?.current ?? state?.problem?.container,
      };
    });
  }
}

function failureDetail(failure: PodIssue | undefined): string {
  if (failure === undefined) return "pod failed";
  return failure.container
    ? `${failure.container}: ${failure.description}`
    : failure.description;
}
