/**
 * Putting kcm's long-running commands on nodes: create the `kcm-daemons`
 * DaemonSet (see workloads.ts), or converge an existing one towards what
 * the flags say and nothing else, with server-side apply (field manager
 * `kcm`), and say what changed.
 *
 * An existing DaemonSet keeps what the flags of this run do not set: its
 * image, pull policy and config directory unless `--kcm-img`,
 * `--kcm-img-pol` or `--conf-dir` were given, and every daemon container
 * it runs (a run may add containers, never removes one). Fields other
 * managers own and kcm does not set (an extra toleration, an annotation)
 * stay theirs.
 *
 * Side effects: GET of the DaemonSet, then one PATCH with
 * `application/apply-patch+yaml` (`force=true`: kcm takes over the fields
 * it sets, for instance from `kubectl apply` of resources/); one INFO line
 * per change, or one saying nothing changed.
 */

import { KcmError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { K8sClient } from "./client.ts";
import { isStatus } from "./errors.ts";
import { diffObjects } from "./object_diff.ts";
import {
  DAEMON_CONTAINERS,
  type DaemonContainer,
  daemonSet,
  DAEMONSET_NAME,
  type WorkloadSettings,
} from "./workloads.ts";

/** The field manager of kcm's server-side applies. */
export const FIELD_MANAGER = "kcm";

/** What an existing DaemonSet says about the settings kcm controls. */
export interface DaemonSetSettings {
  readonly containers: DaemonContainer[];
  readonly image: string | undefined;
  readonly pullPolicy: string | undefined;
  readonly confDir: string | undefined;
}

/** Which settings this run's flags set explicitly. */
export interface GivenSettings {
  readonly image: boolean;
  readonly pullPolicy: boolean;
  readonly confDir: boolean;
  /** Not read here: the daemons' pods take no install directory. */
  readonly installDir: boolean;
}

/** Options of {@linkcode applyDaemonSet}. */
export interface ApplyDaemonSetOptions {
  readonly namespace: string;
  /** The daemon containers the flags ask for. */
  readonly containers: readonly DaemonContainer[];
  /** Every setting, defaults filled in. */
  readonly settings: WorkloadSettings;
  /** Which of them the flags gave. */
  readonly given: GivenSettings;
  readonly log: Logger;
}

/** What {@linkcode applyDaemonSet} did. */
export interface ApplyResult {
  readonly action: "created" | "updated" | "unchanged";
  /** The changed fields of the DaemonSet's spec, as diff lines. */
  readonly changes: readonly string[];
  /** The containers it runs now. */
  readonly containers: readonly DaemonContainer[];
}

// deno-lint-ignore no-explicit-any -- API objects are read field by field
type ApiObject = any;

/**
 * Reads kcm's settings out of a DaemonSet: its kcm containers (by name),
 * their image and pull policy (the first one's), and the host path of the
 * `kcm-conf-dir` volume. Undefined when it runs no kcm container.
 *
 * @example
 * ```ts
 * import { readDaemonSetSettings } from "./apply_daemon_set.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(readDaemonSetSettings({ spec: { template: { spec: {
 *   containers: [{ name: "node-report", image: "kcm:1", imagePullPolicy: "Always" }],
 *   volumes: [{ name: "kcm-conf-dir", hostPath: { path: "/var/kcm" } }],
 * } } } }), {
 *   containers: ["node-report"],
 *   image: "kcm:1",
 *   pullPolicy: "Always",
 *   confDir: "/var/kcm",
 * });
 * ```
 */
export function readDaemonSetSettings(
  object: ApiObject,
): DaemonSetSettings | undefined {
  const spec = object?.spec?.template?.spec;
  const all: ApiObject[] = Array.isArray(spec?.containers)
    ? spec.containers
    : [];
  const ours = all.filter((c) =>
    (DAEMON_CONTAINERS as readonly string[]).includes(c?.name)
  );
  if (ours.length === 0) return undefined;
  const volume = (Array.isArray(spec?.volumes) ? spec.volumes : []).find((
    v: ApiObject,
  ) => v?.name === "kcm-conf-dir");
  const text = (value: unknown) =>
    typeof value === "string" && value !== "" ? value : undefined;
  return {
    containers: ours.map((c) => c.name as DaemonContainer),
    image: text(ours[0].image),
    pullPolicy: text(ours[0].imagePullPolicy),
    confDir: text(volume?.hostPath?.path),
  };
}

/**
 * Creates the DaemonSet, or converges the existing one (see the module
 * comment). Throws a `KcmError` when a DaemonSet of that name exists but
 * runs no kcm container: it is not kcm's to change.
 */
export async function applyDaemonSet(
  client: K8sClient,
  options: ApplyDaemonSetOptions,
): Promise<ApplyResult> {
  const { namespace, log } = options;
  const path = `/apis/apps/v1/namespaces/${
    encodeURIComponent(namespace)
  }/daemonsets/${DAEMONSET_NAME}`;
  let current: ApiObject | undefined;
  try {
    current = await client.request("GET", path);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  let settings = options.settings;
  let containers = [...options.containers];
  if (current !== undefined) {
    const found = readDaemonSetSettings(current);
    if (found === undefined) {
      throw new KcmError(
        `DaemonSet ${namespace}/${DAEMONSET_NAME} exists but runs none of kcm's containers (${
          DAEMON_CONTAINERS.join(", ")
        }); kcm leaves it alone`,
        1,
        { hint: "delete or rename it, or use another --namespace" },
      );
    }
    settings = {
      ...settings,
      ...(options.given.image || found.image === undefined
        ? {}
        : { image: found.image }),
      ...(options.given.pullPolicy || found.pullPolicy === undefined
        ? {}
        : { pullPolicy: found.pullPolicy }),
      ...(options.given.confDir || found.confDir === undefined
        ? {}
        : { confDir: found.confDir }),
    };
    containers = [...new Set([...found.containers, ...containers])];
  }
  const applied: ApiObject = await client.request("PATCH", path, {
    body: daemonSet(containers, settings),
    contentType: "application/apply-patch+yaml",
    query: { fieldManager: FIELD_MANAGER, force: true },
  });
  const ordered = DAEMON_CONTAINERS.filter((c) => containers.includes(c));
  if (current === undefined) {
    log.info(
      `DaemonSet ${namespace}/${DAEMONSET_NAME} created: ${
        ordered.join(", ")
      } on nodes labelled kcm.intel.com/kcm-node=true`,
    );
    return { action: "created", changes: [], containers: ordered };
  }
  const changes = diffObjects(current.spec, applied?.spec);
  if (changes.length === 0) {
    log.info(`DaemonSet ${namespace}/${DAEMONSET_NAME} unchanged`);
    return { action: "unchanged", changes, containers: ordered };
  }
  log.info(
    `DaemonSet ${namespace}/${DAEMONSET_NAME} updated, ${changes.length} change${
      changes.length === 1 ? "" : "s"
    }:`,
  );
  for (const change of changes) log.info(`  spec.${change}`);
  return { action: "updated", changes, containers: ordered };
}
