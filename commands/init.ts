/**
 * `kcm init`: discover the CPU topology and write a config directory with
 * the pools `dataplane` (exclusive), `controlplane` and `infra` (shared).
 * All or nothing: the layout is planned and checked before anything is
 * written, and the directory appears by rename.
 *
 * With `--keep-existing`, an existing config directory is accepted when it
 * has exactly the planned layout (exit 0, nothing written); a different
 * layout is an error naming each difference. cluster-init's setup pods run
 * init this way, so a rerun with other pool sizes than a node has fails
 * for that node instead of passing silently.
 */

import { readHugePagesFree } from "../core/procfs.ts";
import type { Invocation } from "../core/command.ts";
import { createConfigDir } from "../core/config_create.ts";
import { withConfigLock } from "../core/config_lock.ts";
import { type ConfigState, readConfig } from "../core/config_read.ts";
import { ConfigError, errorMessage } from "../core/errors.ts";
import { layoutDifferences } from "../core/layout_check.ts";
import type { Host } from "../core/host.ts";
import { planLayout } from "../core/layout.ts";
import { readTopology } from "../core/sysfs.ts";

/** Options of `kcm init`. */
export interface InitOptions {
  readonly confDir: string;
  readonly dataplaneCores: number;
  readonly controlplaneCores: number;
  /** `--keep-existing`: accept a directory that has the planned layout. */
  readonly keepExisting: boolean;
}

/** Validates `init`'s flags. */
export function parse(invocation: Invocation<"init">): InitOptions {
  return {
    confDir: invocation.options["conf-dir"],
    dataplaneCores: invocation.options["num-dp-cores"],
    controlplaneCores: invocation.options["num-cp-cores"],
    keepExisting: invocation.options["keep-existing"],
  };
}

/** Warns when the node has no free hugepages (DPDK needs them). */
function checkHugepages(host: Host): void {
  try {
    if (readHugePagesFree(host.procRoot) === 0) {
      host.log.warning("No hugepages are free");
    }
  } catch (error) {
    host.log.warning(`${errorMessage(error)}: hugepages not checked`);
  }
}

/**
 * The config directory as it is, when there is one to read; undefined
 * when there is none (or it cannot be read as one: then creating it
 * reports why).
 */
async function readExisting(
  confDir: string,
  host: Host,
): Promise<ConfigState | undefined> {
  try {
    const state = await withConfigLock(
      confDir,
      false,
      { timeoutMs: host.lockTimeoutMs },
      () => readConfig(confDir),
    );
    return state.pools.length > 0 ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `kcm init`. */
export async function run(options: InitOptions, host: Host): Promise<number> {
  checkHugepages(host);
  const topology = await readTopology(host.sysRoot);
  const layout = planLayout(topology, {
    dataplane: options.dataplaneCores,
    controlplane: options.controlplaneCores,
  });
  if (options.keepExisting) {
    const existing = await readExisting(options.confDir, host);
    if (existing !== undefined) {
      const differences = layoutDifferences(existing, layout);
      if (differences.length > 0) {
        throw new ConfigError(
          `Config directory ${options.confDir} exists with another layout than --num-dp-cores=${options.dataplaneCores} --num-cp-cores=${options.controlplaneCores}: ${
            differences.join("; ")
          }`,
          1,
          {
            hint:
              "request the layout the node has, or remove the directory first (kcm uninstall) to lay it out anew",
          },
        );
      }
      host.log.info(
        `Config directory ${options.confDir} already has the requested layout; kept as it is.`,
      );
      return 0;
    }
  }
  host.log.info(`Writing config to ${options.confDir}.`);
  host.log.info(`Requested data plane cores = ${options.dataplaneCores}.`);
  host.log.info(
    `Requested control plane cores = ${options.controlplaneCores}.`,
  );
  await createConfigDir(options.confDir, layout);
  for (const pool of layout) {
    host.log.info(`Adding ${pool.name} pool.`);
    for (const list of pool.cpuLists) {
      host.log.info(`Adding ${list} cpus to the ${pool.name} pool.`);
    }
  }
  return 0;
}
