/**
 * How `kcm isolate` holds the cpu lists it claims so that ownership covers
 * the workload, not only kcm: one claim file per run (core/claim_file.ts),
 * whose lock the command inherits, and in every claimed list kcm's pid in
 * `tasks` with its start time and claim in `owners` (core/owners.ts),
 * written in one batch; the command's own pid joins the claim file once
 * it runs. Giving the lists back undoes both, and a failure to do so is
 * one line, never the command's exit status: `reconcile` frees what is
 * left once kcm and the command are gone.
 *
 * Side effects: creates, locks and removes the claim file, rewrites the
 * claimed lists' `tasks` and `owners` (core/config_write.ts), takes the
 * config lock to give them back, reads procfs, logs.
 */

import { HeldClaim, removeClaim } from "./claim_file.ts";
import { withConfigLock } from "./config_lock.ts";
import { OpenConfig } from "./config_open.ts";
import {
  type ListRead,
  removeTaskFromLists,
  writeManyTasks,
} from "./config_write.ts";
import { errorMessage, ProcfsError } from "./errors.ts";
import type { Host } from "./host.ts";
import { claimId } from "./owners.ts";
import {
  findChildIdentity,
  ownNamespaceProblem,
  type ProcessId,
} from "./proc_identity.ts";
import { oneLine } from "./quote.ts";

/**
 * A list to claim, as read under the lock (a `CpuListState` of
 * core/config_read.ts is one).
 */
export interface ListToClaim extends ListRead {
  readonly name: string;
}

/**
 * Takes a claim for `self` in the open config directory and appends its
 * pid, with its record, to every list of `lists` (in one batch: a failure
 * writes none and leaves no claim file). Call it under the exclusive
 * config lock, with `lists` as read in the same hold of it.
 */
export function takeLists(
  config: OpenConfig,
  pool: string,
  lists: readonly ListToClaim[],
  self: ProcessId,
): HeldClaim {
  const id = claimId(self);
  const held = HeldClaim.create(config.root, id, self);
  const record = new Map([[self.pid, { start: self.start, claim: id }]]);
  try {
    writeManyTasks(
      config,
      lists.map((list) => ({
        pool,
        list: list.name,
        tasks: [...list.tasks, self.pid],
        added: record,
        read: list,
      })),
    );
  } catch (error) {
    held.close();
    removeClaim(config.root, id);
    throw error;
  }
  return held;
}

/**
 * Adds the child's pid and start time, as the procfs root sees them, to
 * the claim file, so the claim lives while the child runs even if it
 * closes the claim's descriptor. Best effort: the inherited lock covers
 * the child either way.
 */
export function recordChild(
  held: HeldClaim,
  childPid: number,
  self: ProcessId,
  host: Pick<Host, "procRoot" | "log">,
): void {
  try {
    const child = findChildIdentity(host.procRoot, self.pid, childPid);
    if (child === undefined) {
      host.log.debug(
        `Child ${childPid} not found in ${
          oneLine(host.procRoot)
        }: not in the claim file`,
      );
      return;
    }
    held.addProcess(child);
  } catch (error) {
    host.log.debug(`Child ${childPid} not recorded: ${errorMessage(error)}`);
  }
}

/**
 * Gives the lists back: removes `self`'s pid from each and the claim file,
 * under the lock, and closes the claim. A failure is said on one line and
 * swallowed: kcm exits with the child's status, and `reconcile` frees the
 * lists once kcm and the command are gone (their pids dead, the claim's
 * lock free).
 */
export async function giveBackLists(
  confDir: string,
  pool: string,
  lists: readonly string[],
  held: HeldClaim,
  self: ProcessId,
  host: Pick<Host, "lockTimeoutMs" | "log">,
): Promise<void> {
  try {
    await withConfigLock(
      confDir,
      true,
      { timeoutMs: host.lockTimeoutMs },
      () => {
        using config = OpenConfig.open(confDir);
        removeTaskFromLists(config, pool, lists, self.pid);
        removeClaim(config.root, held.id);
      },
    );
  } catch (error) {
    const named = lists.map((list) => `${oneLine(pool)}:${oneLine(list)}`);
    const several = lists.length > 1;
    host.log.error(
      `Cannot give back cpu list${several ? "s" : ""} ${named.join(", ")}: ${
        errorMessage(error)
      }; ${several ? "they are" : "it is"} left for \`kcm reconcile\``,
    );
  } finally {
    held.close();
  }
}

/**
 * Refuses a procfs of kcm's own pid namespace, whose pids other containers
 * would record too, unless `KCM_SHARED_PID_NAMESPACE=1` says every kcm of
 * the directory shares it.
 */
export function checkNamespace(
  procRoot: string,
  env: Readonly<Record<string, string>>,
): void {
  const problem = ownNamespaceProblem(procRoot);
  if (problem === undefined || env.KCM_SHARED_PID_NAMESPACE === "1") return;
  throw new ProcfsError(problem, 1, {
    hint:
      "mount the host's /proc (say at /host/proc) and set KCM_PROC_FS to it; set KCM_SHARED_PID_NAMESPACE=1 if every kcm using this config directory runs in this pid namespace",
  });
}
