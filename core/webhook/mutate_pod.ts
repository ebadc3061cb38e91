/**
 * The mutation itself: what a Pod that asks for dataplane cores needs to run
 * under `kcm isolate`, as a JSON Patch against the pod the API server sent.
 * Pure: a {@linkcode Pod} and the webhook's settings in, a
 * {@linkcode PodMutation} out.
 *
 * Steps, for a pod not opted out with `kcm.intel.com/inject: "false"`:
 * 1. Read `kcm.intel.com/dataplane-cores` of every container (not init
 *    containers): a whole number n >= 1, requests equal to limits. No
 *    container asks: the pod is left alone.
 * 2. Choose the containers to wrap: those asking for cores (pool
 *    `dataplane`), and the others only when the pod names a shared pool in
 *    `kcm.intel.com/pool-for-others`. Each needs a `command`.
 * 3. Per wrapped container: `command` + `args` become
 *    `<install-dir>/kcm isolate --conf-dir=<dir> --pool=<pool> <command[0]> --
 *    <command[1:]> <args>` (unless the command already runs `kcm isolate`),
 *    env `KCM_PROC_FS=/host/proc` and, for cores, `KCM_NUM_CORES=n`, and
 *    mounts of the conf dir, the install dir (read-only) and the host's
 *    /proc (read-only, at /host/proc) where the container has none at
 *    those paths.
 * 4. Per pod: the hostPath volumes those mounts use (a volume of the same
 *    host path is reused, a new one gets a name no other volume has), a
 *    toleration of `kcm=true:NoSchedule`, the node selector
 *    `kcm.intel.com/kcm-node: "true"`, and the annotation
 *    `kcm.intel.com/injected: "true"`.
 *
 * Every step adds only what is missing, so planning again on the patched pod
 * gives an empty patch: a reinvocation, or a pod re-submitted from a patched
 * one, is never wrapped twice.
 */

import { normalizePath } from "../paths.ts";
import { quoteShort } from "../quote.ts";
import { readContainerCores } from "./container_cores.ts";
import { type PatchOperation, pointer } from "./json_patch.ts";
import {
  DATAPLANE_CORES,
  DATAPLANE_POOL,
  HOST_PROC_MOUNT,
  INJECT_ANNOTATION,
  INJECTED_ANNOTATION,
  KCM_TAINT,
  NODE_LABEL,
  POOL_FOR_OTHERS_ANNOTATION,
  SHARED_POOLS,
} from "./names.ts";
import type { Container, Pod, Toleration } from "./pod.ts";
import {
  type InjectionSettings,
  mountSpecs,
  VolumePlanner,
} from "./host_volumes.ts";
import { isWrapped, wrapCommand } from "./wrap_command.ts";

export type { InjectionSettings } from "./host_volumes.ts";

/** The outcome of planning. */
export type PodMutation =
  | {
    readonly kind: "allowed";
    /** Empty when the pod needs nothing (opted out, no cores, or done). */
    readonly patch: readonly PatchOperation[];
    /** Containers this patch changes, for the log. */
    readonly changed: readonly string[];
  }
  | {
    readonly kind: "denied";
    /** One line saying what is wrong and how to fix it. */
    readonly message: string;
  };

/** True when `toleration` lets a pod onto a node tainted `kcm=true:NoSchedule`. */
export function toleratesKcmTaint(toleration: Toleration): boolean {
  const key = toleration.key ?? "";
  const operator = toleration.operator || "Equal";
  const effect = toleration.effect ?? "";
  if (effect !== "" && effect !== KCM_TAINT.effect) return false;
  if (operator === "Exists") return key === "" || key === KCM_TAINT.key;
  return operator === "Equal" && key === KCM_TAINT.key &&
    (toleration.value ?? "") === KCM_TAINT.value;
}

/** Env entries wanted in a wrapped container, in order. */
function wantedEnv(cores: number | undefined): [string, string][] {
  const env: [string, string][] = [["KCM_PROC_FS", HOST_PROC_MOUNT]];
  if (cores !== undefined) env.push(["KCM_NUM_CORES", String(cores)]);
  return env;
}

function planContainer(
  index: number,
  container: Container,
  pool: string,
  cores: number | undefined,
  settings: InjectionSettings,
  volumes: VolumePlanner,
  ops: PatchOperation[],
): void {
  const at = (...rest: (string | number)[]) =>
    pointer("spec", "containers", index, ...rest);
  const command = container.command!;
  if (!isWrapped(command)) {
    ops.push({
      op: "replace",
      path: at("command"),
      value: wrapCommand(command, container.args ?? [], pool, settings),
    });
    if (container.args !== undefined) {
      ops.push({ op: "remove", path: at("args") });
    }
  }

  const env = container.env;
  const wanted = wantedEnv(cores);
  if (env === undefined) {
    ops.push({
      op: "add",
      path: at("env"),
      value: wanted.map(([name, value]) => ({ name, value })),
    });
  } else {
    for (const [name, value] of wanted) {
      let found = false;
      env.forEach((entry, i) => {
        if (entry.name !== name) return;
        found = true;
        if (entry.value === value && !entry.hasValueFrom) return;
        ops.push({ op: "replace", path: at("env", i), value: { name, value } });
      });
      if (!found) {
        ops.push({ op: "add", path: at("env", "-"), value: { name, value } });
      }
    }
  }

  const taken = new Set(
    (container.volumeMounts ?? []).map((m) => normalizePath(m.mountPath)),
  );
  const mounts = mountSpecs(settings)
    .filter((spec) => !taken.has(spec.mountPath))
    .map((spec) => ({
      name: volumes.nameFor(spec),
      mountPath: spec.mountPath,
      ...(spec.readOnly ? { readOnly: true } : {}),
    }));
  if (mounts.length === 0) return;
  if (container.volumeMounts === undefined) {
    ops.push({ op: "add", path: at("volumeMounts"), value: mounts });
  } else {
    for (const mount of mounts) {
      ops.push({ op: "add", path: at("volumeMounts", "-"), value: mount });
    }
  }
}

function commandProblem(container: Container, why: string): string {
  return `container ${
    quoteShort(container.name)
  } ${why} but has no command: kcm cannot wrap an image's entrypoint; set command (and args) to the program the image runs, or annotate the pod ${INJECT_ANNOTATION}: "false" and wrap it yourself`;
}

/**
 * Plans the mutation of `pod` (see the module doc for the steps). Never
 * throws for any pod {@linkcode readPod} accepted.
 *
 * @example
 * ```ts
 * import { planPodMutation } from "./mutate_pod.ts";
 * import assert from "node:assert/strict";
 * const plan = planPodMutation({
 *   hasMetadata: true,
 *   containers: [{
 *     name: "fwd",
 *     command: ["/bin/fwd"],
 *     limits: { "kcm.intel.com/dataplane-cores": "2" },
 *   }],
 * }, { confDir: "/etc/kcm", installDir: "/opt/bin" });
 * assert.equal(plan.kind, "allowed");
 * assert.deepEqual(plan.kind === "allowed" && plan.patch[1], {
 *   op: "replace",
 *   path: "/spec/containers/0/command",
 *   value: [
 *     "/opt/bin/kcm", "isolate", "--conf-dir=/etc/kcm", "--pool=dataplane",
 *     "/bin/fwd", "--",
 *   ],
 * });
 * ```
 */
export function planPodMutation(
  pod: Pod,
  settings: InjectionSettings,
): PodMutation {
  const annotations = pod.annotations ?? {};
  const annotation = (key: string) =>
    Object.hasOwn(annotations, key) ? annotations[key] : undefined;
  const none: PodMutation = { kind: "allowed", patch: [], changed: [] };
  if (annotation(INJECT_ANNOTATION) === "false") return none;

  // 1. Cores per container.
  const problems: string[] = [];
  const cores = pod.containers.map((container) => {
    const asked = readContainerCores(container);
    if (asked.kind === "invalid") problems.push(asked.message);
    return asked.kind === "cores" ? asked.count : undefined;
  });
  if (problems.length > 0) {
    return { kind: "denied", message: problems.join("; ") };
  }
  if (cores.every((n) => n === undefined)) return none;

  // 2. Which containers, in which pool.
  const others = annotation(POOL_FOR_OTHERS_ANNOTATION);
  if (others !== undefined && !SHARED_POOLS.includes(others)) {
    return {
      kind: "denied",
      message: `annotation ${POOL_FOR_OTHERS_ANNOTATION} is ${
        quoteShort(others)
      }; it must name a shared pool: ${SHARED_POOLS.join(" or ")}`,
    };
  }
  const pools = cores.map((n) => n !== undefined ? DATAPLANE_POOL : others);
  pod.containers.forEach((container, i) => {
    if (pools[i] === undefined || (container.command?.length ?? 0) > 0) return;
    problems.push(commandProblem(
      container,
      cores[i] !== undefined
        ? `asks for ${DATAPLANE_CORES}`
        : `must run in pool ${
          quoteShort(others!)
        } (${POOL_FOR_OTHERS_ANNOTATION})`,
    ));
  });
  const selected = pod.nodeSelector !== undefined &&
      Object.hasOwn(pod.nodeSelector, NODE_LABEL)
    ? pod.nodeSelector[NODE_LABEL]
    : undefined;
  if (selected !== undefined && selected !== "true") {
    problems.push(
      `spec.nodeSelector sets ${NODE_LABEL} to ${
        quoteShort(selected)
      }, but pods asking for ${DATAPLANE_CORES} run on kcm nodes only; remove it or set it to "true"`,
    );
  }
  if (problems.length > 0) {
    return { kind: "denied", message: problems.join("; ") };
  }

  // 3. Containers.
  const ops: PatchOperation[] = [];
  const volumes = new VolumePlanner(pod);
  const changed: string[] = [];
  pod.containers.forEach((container, i) => {
    const pool = pools[i];
    if (pool === undefined) return;
    const before = ops.length;
    planContainer(i, container, pool, cores[i], settings, volumes, ops);
    if (ops.length > before) changed.push(container.name);
  });

  // 4. The pod.
  if (volumes.added.length > 0) {
    const added = volumes.added.map((v) => ({
      name: v.name,
      hostPath: { path: v.hostPath, type: "Directory" },
    }));
    if (pod.volumes === undefined) {
      ops.push({ op: "add", path: pointer("spec", "volumes"), value: added });
    } else {
      for (const volume of added) {
        ops.push({
          op: "add",
          path: pointer("spec", "volumes", "-"),
          value: volume,
        });
      }
    }
  }
  if (!(pod.tolerations ?? []).some(toleratesKcmTaint)) {
    const toleration = {
      key: KCM_TAINT.key,
      operator: "Equal",
      value: KCM_TAINT.value,
      effect: KCM_TAINT.effect,
    };
    ops.push(
      pod.tolerations === undefined
        ? {
          op: "add",
          path: pointer("spec", "tolerations"),
          value: [toleration],
        }
        : {
          op: "add",
          path: pointer("spec", "tolerations", "-"),
          value: toleration,
        },
    );
  }
  if (selected === undefined) {
    ops.push(
      pod.nodeSelector === undefined
        ? {
          op: "add",
          path: pointer("spec", "nodeSelector"),
          value: { [NODE_LABEL]: "true" },
        }
        : {
          op: "add",
          path: pointer("spec", "nodeSelector", NODE_LABEL),
          value: "true",
        },
    );
  }
  if (ops.length > 0 && annotation(INJECTED_ANNOTATION) !== "true") {
    ops.unshift(
      !pod.hasMetadata
        ? {
          op: "add",
          path: pointer("metadata"),
          value: { annotations: { [INJECTED_ANNOTATION]: "true" } },
        }
        : pod.annotations === undefined
        ? {
          op: "add",
          path: pointer("metadata", "annotations"),
          value: { [INJECTED_ANNOTATION]: "true" },
        }
        : {
          op: "add",
          path: pointer("metadata", "annotations", INJECTED_ANNOTATION),
          value: "true",
        },
    );
  }
  return { kind: "allowed", patch: ops, changed };
}
