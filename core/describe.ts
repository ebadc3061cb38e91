/**
 * The describe document: a config snapshot in the JSON shape the original
 * tool printed (`path`, then each pool's `name`, `exclusive` and cpu lists
 * with their `cpus` and `tasks`). Pure.
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
