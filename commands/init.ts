/**
 * `kcm init`: discover the CPU topology and write a config directory with
 * the pools `dataplane` (exclusive), `controlplane` and `infra` (shared).
 * All or nothing: the layout is planned and checked before anything is
 * written, and the directory appears by rename.
 */

import { readHugePagesFree } from "../core/procfs.ts";
import type { Invocation } from "../core/command.ts";
import { createConfigDir } from "../core/config_create.ts";
import { errorMessage } from "../core/errors.ts";
import type { Host } from "../core/host.ts";
import { planLayout } from "../core/layout.ts";
import { readTopology } from "../core/sysfs.ts";

/** Options of `kcm init`. */
export interface InitOptions {
  readonly confDir: string;
  readonly dataplaneCores: number;
  readonly controlplaneCores: number;
}

/** Validates `init`'s flags. */
export function parse(invocation: Invocation<"init">): InitOptions {
  return {
    confDir: invocation.options["conf-dir"],
    dataplaneCores: invocation.options["num-dp-cores"],
    controlplaneCores: invocation.options["num-cp-cores"],
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
  const topology = await readTopology(host.sysRoot);
  const layout = planLayout(topology, {
    dataplane: options.dataplaneCores,
    controlplane: options.controlplaneCores,
  });
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
