/**
 * `kcm init`: discover the CPU topology and the isolated CPUs, and write a
 * config directory with the pools `dataplane` (exclusive), `controlplane`
 * and `infra` (shared) and the topology record (`topology.json`). All or
 * nothing: the layout is planned and checked before anything is written,
 * and the directory appears by rename.
 */

import { readHugePagesFree } from "../core/procfs.ts";
import type { Invocation } from "../core/command.ts";
import { createConfigDir } from "../core/config_create.ts";
import { errorMessage, UsageError } from "../core/errors.ts";
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

/** Options of `kcm init`. */
export interface InitOptions {
  readonly confDir: string;
  readonly dataplaneCores: number;
  readonly controlplaneCores: number;
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
    `--${option} must be ${PLACEMENT_MODES.join(" or ")}, got "${text}"`,
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
