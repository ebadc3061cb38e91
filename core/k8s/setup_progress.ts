/**
 * The bookkeeping of `cluster-init`'s wait for its setup pods: which node
 * each pod belongs to, the last progress line shown per node, which pods
 * have finished and how. Fed one pod listing at a time; pure.
 */

import { type PodObject, type PodState, podState } from "./pod_state.ts";
import { setupPodName } from "./workloads.ts";

/** One unfinished setup pod as a listing shows it. */
export interface SetupPodUpdate {
  readonly node: string;
  readonly pod: PodObject;
  readonly state: PodState;
  /** Its progress line differs from the last one shown. */
  readonly changed: boolean;
  /** It finished (Succeeded or Failed) in this listing. */
  readonly finished: boolean;
}

/** A node whose setup pod has not finished. */
export interface UnfinishedSetup {
  readonly node: string;
  /** The pod as last listed; just its name when it was not listed. */
  readonly pod: PodObject;
  /** Its last progress line, `missing` when it was never listed. */
  readonly progress: string;
}

/** Follows the setup pods of `nodes` across listings. */
export class SetupProgress {
  readonly #nodes: readonly string[];
  readonly #nodeOfPod: ReadonlyMap<string, string>;
  readonly #progress = new Map<string, string>();
  readonly #finished = new Map<string, PodState>();
  #lastListed = new Map<string, PodObject>();

  constructor(nodes: readonly string[]) {
    this.#nodes = nodes;
    this.#nodeOfPod = new Map(nodes.map((n) => [setupPodName(n), n]));
  }

  /** The setup pod names, in node order. */
  get podNames(): string[] {
    return [...this.#nodeOfPod.keys()];
  }

  /**
   * Takes one listing of setup pods and returns, in listing order, the
   * pods of ours that had not finished before (others are ignored).
   *
   * @example
   * ```ts
   * import { SetupProgress } from "./setup_progress.ts";
   * import assert from "node:assert/strict";
   * const progress = new SetupProgress(["n1"]);
   * const pod = { metadata: { name: "kcm-setup-n1" }, status: { phase: "Succeeded" } };
   * const [update] = progress.observe([pod]);
   * assert.equal(update?.state.progress, "Succeeded");
   * assert.equal(update?.changed, true);
   * assert.equal(update?.finished, true);
   * assert.equal(progress.done, true);
   * assert.deepEqual(progress.succeeded(), ["n1"]);
   * ```
   */
  observe(pods: readonly PodObject[]): SetupPodUpdate[] {
    const updates: SetupPodUpdate[] = [];
    this.#lastListed = new Map();
    for (const pod of pods) {
      const node = this.#nodeOfPod.get(pod.metadata.name);
      if (node === undefined || this.#finished.has(node)) continue;
      this.#lastListed.set(node, pod);
      const state = podState(pod);
      const changed = this.#progress.get(node) !== state.progress;
      this.#progress.set(node, state.progress);
      if (state.finished) this.#finished.set(node, state);
      updates.push({ node, pod, state, changed, finished: state.finished });
    }
    return updates;
  }

  /** Every setup pod has finished. */
  get done(): boolean {
    return this.#finished.size === this.#nodes.length;
  }

  /** The nodes whose pod has not finished, in node order. */
  unfinished(): UnfinishedSetup[] {
    return this.#nodes.filter((n) => !this.#finished.has(n)).map((node) => ({
      node,
      pod: this.#lastListed.get(node) ??
        { metadata: { name: setupPodName(node) } },
      progress: this.#progress.get(node) ?? "missing",
    }));
  }

  /** Nodes whose pod Succeeded, in node order. */
  succeeded(): string[] {
    return this.#nodes.filter((n) =>
      this.#finished.get(n)?.phase === "Succeeded"
    );
  }

  /** Nodes whose pod failed or did not finish, in node order. */
  failed(): string[] {
    return this.#nodes.filter((n) =>
      this.#finished.get(n)?.phase !== "Succeeded"
    );
  }
}
