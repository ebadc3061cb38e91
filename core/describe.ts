/**
 * The describe document (SPEC §2.6): a config snapshot as the JSON shape
 * the reference printed. Pure.
 */

import type { ConfigState } from "./config_read.ts";
import type { JsonValue } from "./json.ts";

/** The describe JSON value of a config snapshot. */
export function describeConfig(state: ConfigState): JsonValue {
  const pools: Record<string, JsonValue> = {};
  for (const pool of state.pools) {
    const cpuLists: Record<string, JsonValue> = {};
    for (const list of pool.cpuLists) {
      cpuLists[list.name] = { cpus: list.name, tasks: [...list.tasks] };
    }
    pools[pool.name] = { cpuLists, exclusive: pool.exclusive, name: pool.name };
  }
  return { path: state.path, pools };
}
