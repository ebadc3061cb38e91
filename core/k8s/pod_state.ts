/**
 * What a Pod's status says, read the way an operator reads `kubectl get
 * pod` and `kubectl describe pod`: whether the kubelet is done with it,
 * a one-line progress state, the container running now, why it failed
 * and why it is stuck. Pure: data in, data out.
 *
 * The status fields are the kubelet's (Kubernetes API reference, "Pod
 * status" and "Container states"): `phase` is Pending, Running, Succeeded,
 * Failed or Unknown; each container is `waiting` (with a reason such as
 * ContainerCreating, PodInitializing, ImagePullBackOff, ErrImagePull,
 * ErrImageNeverPull, CrashLoopBackOff), `running` or `terminated` (with
 * an exit code), and `lastState` keeps the previous run of a restarted
 * one. Init containers run first, one at a time. A pod the kubelet gave up
 * on as a whole carries its own `reason` (Evicted, DeadlineExceeded, ...)
 * and `message`; a pod the scheduler cannot place has the condition
 * `PodScheduled=False` with reason Unschedulable.
 */

/** One state of a container, as the kubelet reports it. */
export interface ContainerState {
  running?: { startedAt?: string };
  waiting?: { reason?: string; message?: string };
  terminated?: {
    exitCode: number;
    reason?: string;
    message?: string;
    signal?: number;
  };
}

/** The status of one container. */
export interface ContainerStatus {
  name: string;
  state?: ContainerState;
  lastState?: ContainerState;
  restartCount?: number;
}

/** One pod condition (`PodScheduled`, `Ready`, ...). */
export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** The parts of a Pod kcm reads. */
export interface PodObject {
  metadata: { name: string; uid?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: PodCondition[];
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

/** Something wrong with a pod: where, the reason word, and one line. */
export interface PodIssue {
  /** The container concerned, if one is. */
  readonly container: string | undefined;
  /**
   * The kubelet's or the scheduler's reason: `Error`, `OOMKilled`,
   * `Evicted`, `CrashLoopBackOff`, `ImagePullBackOff`, `Unschedulable`,
   * `Terminating`, ...
   */
  readonly reason: string;
  /** Exit code of the container's last run, when it ended. */
  readonly exitCode: number | undefined;
  /** One line for an operator: reason, exit code or message. */
  readonly description: string;
}

/** Everything {@linkcode podState} reads out of a pod. */
export interface PodState {
  /** `status.phase`, `Pending` while the kubelet has not written one. */
  readonly phase: string;
  /** Succeeded or Failed: the kubelet will not run it again. */
  readonly finished: boolean;
  /**
   * One line for progress logs: `Succeeded`, `Failed`, `Terminating`,
   * `Running <container>`, `<phase> (<waiting reason>)` or the phase.
   */
  readonly progress: string;
  /** The container running now, if any (init containers first). */
  readonly current: string | undefined;
  /** Why a Failed pod failed; undefined unless the phase is Failed. */
  readonly failure: PodIssue | undefined;
  /**
   * Why an unfinished pod does not get on: a waiting reason other than
   * the normal ContainerCreating/PodInitializing, a crash loop (with its
   * last exit), Unschedulable, or being deleted.
   */
  readonly problem: PodIssue | undefined;
}

/** Waiting reasons that are simply "not yet". */
const NORMAL_WAITING = new Set(["ContainerCreating", "PodInitializing"]);

function containers(pod: PodObject): ContainerStatus[] {
  return [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
}

function exitText(t: { exitCode: number; reason?: string }): string {
  return `${t.reason || "Error"} (exit code ${t.exitCode})`;
}

function joined(...parts: (string | undefined)[]): string {
  return parts.filter((p) => p !== undefined && p !== "").join(": ");
}

function failureOf(pod: PodObject): PodIssue {
  const status = pod.status ?? {};
  const crashed = containers(pod).find((c) =>
    (c.state?.terminated?.exitCode ?? 0) !== 0
  );
  const ended = crashed?.state?.terminated;
  if (status.reason) {
    // The kubelet ended the pod as a whole (Evicted, DeadlineExceeded,
    // ...): that is the cause, whatever exit code it left behind.
    return {
      container: crashed?.name,
      reason: status.reason,
      exitCode: ended?.exitCode,
      description: joined(status.reason, status.message?.trim()),
    };
  }
  if (crashed !== undefined && ended !== undefined) {
    return {
      container: crashed.name,
      reason: ended.reason || "Error",
      exitCode: ended.exitCode,
      description: exitText(ended),
    };
  }
  return {
    container: undefined,
    reason: "Failed",
    exitCode: undefined,
    description: status.message?.trim() || "pod failed",
  };
}

function problemOf(pod: PodObject): PodIssue | undefined {
  if (pod.metadata.deletionTimestamp !== undefined) {
    return {
      container: undefined,
      reason: "Terminating",
      exitCode: undefined,
      description: `being deleted since ${pod.metadata.deletionTimestamp}`,
    };
  }
  for (const c of containers(pod)) {
    const waiting = c.state?.waiting;
    if (!waiting?.reason || NORMAL_WAITING.has(waiting.reason)) continue;
    const last = c.lastState?.terminated;
    if (last !== undefined) {
      const restarts = c.restartCount ?? 0;
      return {
        container: c.name,
        reason: waiting.reason,
        exitCode: last.exitCode,
        description: `${waiting.reason}: last run ended ${exitText(last)}, ${
          restarts === 1 ? "1 restart" : `${restarts} restarts`
        }`,
      };
    }
    return {
      container: c.name,
      reason: waiting.reason,
      exitCode: undefined,
      description: joined(waiting.reason, waiting.message?.trim()),
    };
  }
  const unschedulable = pod.status?.conditions?.find((c) =>
    c.type === "PodScheduled" && c.status === "False"
  );
  if (unschedulable !== undefined) {
    const reason = unschedulable.reason || "Unschedulable";
    return {
      container: undefined,
      reason,
      exitCode: undefined,
      description: joined(reason, unschedulable.message?.trim()),
    };
  }
  return undefined;
}

/**
 * Reads a pod's status.
 *
 * @example
 * ```ts
 * import { podState } from "./pod_state.ts";
 * import assert from "node:assert/strict";
 * const state = podState({
 *   metadata: { name: "kcm-setup-n1" },
 *   status: {
 *     phase: "Pending",
 *     initContainerStatuses: [{ name: "init", state: { running: {} } }],
 *     containerStatuses: [
 *       { name: "discover", state: { waiting: { reason: "PodInitializing" } } },
 *     ],
 *   },
 * });
 * assert.equal(state.progress, "Running init");
 * assert.equal(state.current, "init");
 * assert.equal(state.finished, false);
 * assert.equal(state.problem, undefined);
 * ```
 */
export function podState(pod: PodObject): PodState {
  const phase = pod.status?.phase || "Pending";
  const finished = phase === "Succeeded" || phase === "Failed";
  const all = containers(pod);
  const current = all.find((c) => c.state?.running !== undefined)?.name;
  const problem = finished ? undefined : problemOf(pod);
  let progress: string;
  if (finished) {
    progress = phase;
  } else if (pod.metadata.deletionTimestamp !== undefined) {
    progress = "Terminating";
  } else if (current !== undefined) {
    progress = `Running ${current}`;
  } else {
    const waiting = all.find((c) => c.state?.waiting?.reason)?.state?.waiting
      ?.reason ?? problem?.reason;
    progress = waiting ? `${phase} (${waiting})` : phase;
  }
  return {
    phase,
    finished,
    progress,
    current,
    failure: phase === "Failed" ? failureOf(pod) : undefined,
    problem,
  };
}

/**
 * The termination message of `container` (with `FallbackToLogsOnError`,
 * the tail of its log when it failed), if it has ended.
 */
export function terminationMessage(
  pod: PodObject,
  container: string,
): string | undefined {
  return containers(pod).find((c) => c.name === container)?.state?.terminated
    ?.message;
}
