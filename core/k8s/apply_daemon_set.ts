/**
 * Putting `cluster-init`'s long-running commands on nodes: create the
 * `kcm-daemons` DaemonSet (see workloads.ts), or update it so that it
 * also covers the given nodes; nodes it already covers stay.
 *
 * Side effects: GET, then POST or PUT (with the resourceVersion read) of
 * the DaemonSet in the given namespace, rerun from the GET on a 409
 * Conflict; one INFO line saying what was done.
 */

import type { Logger } from "../log.ts";
import type { Clock } from "../poll.ts";
import type { K8sClient } from "./client.ts";
import { retryOnConflict } from "./conflict.ts";
import { isStatus } from "./errors.ts";
import {
  type DaemonCommand,
  daemonSet,
  DAEMONSET_NAME,
  daemonSetNodes,
  type WorkloadSettings,
} from "./workloads.ts";

/** Options of {@linkcode applyDaemonSet}. */
export interface ApplyDaemonSetOptions {
  readonly namespace: string;
  /** The long-running commands, one container each. */
  readonly commands: readonly DaemonCommand[];
  readonly settings: WorkloadSettings;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * Creates the DaemonSet, or updates it to also cover `nodes`. Resolves to
 * every node it covers now.
 */
export async function applyDaemonSet(
  client: K8sClient,
  nodes: readonly string[],
  options: ApplyDaemonSetOptions,
): Promise<string[]> {
  const { namespace, commands, log } = options;
  const path = `/apis/apps/v1/namespaces/${namespace}/daemonsets`;
  return await retryOnConflict(async () => {
    let current: { metadata: { resourceVersion: string } } | undefined;
    try {
      current = await client.request("GET", `${path}/${DAEMONSET_NAME}`);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    const covered = [...new Set([...daemonSetNodes(current), ...nodes])];
    const object = daemonSet(covered, commands, options.settings);
    if (current === undefined) {
      await client.request("POST", path, { body: object });
    } else {
      await client.request("PUT", `${path}/${DAEMONSET_NAME}`, {
        body: {
          ...object,
          metadata: {
            ...(object.metadata as Record<string, unknown>),
            resourceVersion: current.metadata.resourceVersion,
          },
        },
      });
    }
    log.info(
      `DaemonSet ${namespace}/${DAEMONSET_NAME} ${
        current ? "updated" : "created"
      }: ${commands.join(", ")} on ${covered.join(", ")}`,
    );
    return covered;
  }, { clock: options.clock, log });
}
