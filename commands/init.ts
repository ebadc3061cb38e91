/**
 * `kcm init`: discover the CPU topology and the isolated CPUs, and write a
 * config directory with the pools `dataplane` (exclusive), `controlplane`
 * and `infra` (shared) and the topology record (`topology.json`). All or
 * nothing: the layout is planned and checked before anything is written,
 * and the directory appears by rename.
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
import { ConfigError, errorMessage, UsageError } from "../core/errors.ts";
import { layoutDifferences } from "../core/layout_check.ts";
import type { Host } from "../core/host.ts";
import { planPools } from "../core/layout.ts";
import {
  isPlacementMode,
  PLACEMENT_MODES,
  type PlacementMode,
} from "../core/placement_mode.ts";
import { readIsolatedCpus, readTopology } from "../core/sysfs.ts";
import { TOPOLOGY_FILE } from "../core/record_document.ts";
import { formatTopologyRecord } from "../core/topology_record.ts";
import { quote } from "../core/quote.ts";

/** Options of `kcm init`. */
export interface InitOptions {
  readonly confDir: string;
  readonly dataplaneCores: number;
  readonly controlplaneCores: number;
  /** `--keep-existing`: accept a directory that has the planned layout. */
  readonly keepExisting: boolean;
  /** `--ignore-isolcpus`: plan as if no CPU were isolated. */
  readonly ignoreIsolcpus: boolean;
  /** `--dp-mode`. */
  readonly dataplaneMode: PlacementMode;
  /** `--cp-mode`. */
  readonly controlplaneMode: PlacementMode;
}

function placementMode(option: string, text: string): PlacementMode {
  if (isPlacementMode(text)) return text;
  throw new UsageError(
    `--${option} must be ${PLACEMENT_MODES.join(" or ")}, got ${quote(text)}`,
  );
}

/** Validates `init`'s flags. */
export function parse(invocation: Invocation<"init">): InitOptions {
  const { options } = invocation;
  return {
    confDir: options["conf-dir"],
    dataplaneCores: options["num-dp-cores"],
    controlplaneCores: options["num-cp-cores"],
    ignoreIsolcpus: options["ignore-isolcpus"],
    dataplaneMode: placementMode("dp-mode", options["dp-mode"]),
    controlplaneMode: placementMode("cp-mode", options["cp-mode"]),
    keepExisting: options["keep-existing"],
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
  // The isolated CPUs are read even with --ignore-isolcpus: the topology
  // record keeps what the kernel said.
  const [topology, isolated] = await Promise.all([
    readTopology(host.sysRoot),
    readIsolatedCpus(host.sysRoot),
  ]);
  const plan = planPools(topology, {
    dataplane: options.dataplaneCores,
    controlplane: options.controlplaneCores,
  }, {
    isolated,
    ignoreIsolcpus: options.ignoreIsolcpus,
    dataplaneMode: options.dataplaneMode,
    controlplaneMode: options.controlplaneMode,
  });
  for (const warning of plan.warnings) host.log.warning(warning.message);
  if (options.keepExisting) {
    const existing = await readExisting(options.confDir, host);
    if (existing !== undefined) {
      const differences = layoutDifferences(existing, plan.pools);
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
  await createConfigDir(options.confDir, plan.pools, {
    rootFiles: [{
      name: TOPOLOGY_FILE,
      text: formatTopologyRecord({ topology, isolated }),
    }],
  });
  for (const pool of plan.pools) {
    host.log.info(`Adding ${pool.name} pool.`);
    for (const list of pool.cpuLists) {
      host.log.info(`Adding ${list} cpus to the ${pool.name} pool.`);
    }
  }
  return 0;
}
