/**
 * Whether an existing config directory already has the layout `init`
 * would write: same pools, same exclusive flags, same cpu-list names (the
 * list names are the CPUs, so equal names are equal CPU sets). Used by
 * `init --keep-existing`, so rerunning cluster-init with other pool sizes
 * than a node has is an error naming the difference, never a silent
 * success. Pure.
 */

import type { PoolLayout } from "./layout.ts";
import { quote } from "./quote.ts";

/** What the comparison reads of a config snapshot (config_read.ts): names. */
export interface ExistingLayout {
  readonly pools: readonly {
    readonly name: string;
    readonly exclusive: boolean;
    readonly cpuLists: readonly { readonly name: string }[];
  }[];
}

function lists(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.join(" ");
}

/**
 * The differences between `existing` and `wanted`, one line each; empty
 * when they are the same layout.
 *
 * @example
 * ```ts
 * import { layoutDifferences } from "./layout_check.ts";
 * import assert from "node:assert/strict";
 * const existing = { pools: [
 *   { name: "dataplane", exclusive: true, cpuLists: [
 *     { name: "3,7" }, { name: "2,6" },
 *   ] },
 *   { name: "infra", exclusive: false, cpuLists: [{ name: "0-1,4-5" }] },
 * ] };
 * assert.deepEqual(layoutDifferences(existing, [
 *   { name: "dataplane", exclusive: true, cpuLists: ["3,7", "2,6"] },
 *   { name: "infra", exclusive: false, cpuLists: ["0-1,4-5"] },
 * ]), []);
 * assert.deepEqual(layoutDifferences(existing, [
 *   { name: "dataplane", exclusive: true, cpuLists: ["3,7"] },
 *   { name: "infra", exclusive: false, cpuLists: ["0-2,4-6"] },
 * ]), [
 *   'pool "dataplane" has 2 cpu lists (2,6 3,7), the requested layout 1 (3,7)',
 *   'pool "infra" has 1 cpu list (0-1,4-5), the requested layout 1 (0-2,4-6)',
 * ]);
 * ```
 */
export function layoutDifferences(
  existing: ExistingLayout,
  wanted: readonly PoolLayout[],
): string[] {
  const differences: string[] = [];
  const have = new Map(existing.pools.map((p) => [p.name, p]));
  const names = [
    ...new Set([...wanted.map((p) => p.name), ...have.keys()]),
  ].sort();
  for (const name of names) {
    const want = wanted.find((p) => p.name === name);
    const pool = have.get(name);
    if (pool === undefined) {
      differences.push(`pool ${quote(name)} is missing`);
      continue;
    }
    if (want === undefined) {
      differences.push(`pool ${quote(name)} is not in the requested layout`);
      continue;
    }
    if (pool.exclusive !== want.exclusive) {
      differences.push(
        `pool ${quote(name)} is ${
          pool.exclusive ? "" : "not "
        }exclusive, the requested layout's is ${
          want.exclusive ? "" : "not "
        }exclusive`,
      );
    }
    const current = pool.cpuLists.map((l) => l.name).sort();
    const requested = [...want.cpuLists].sort();
    if (current.join("/") !== requested.join("/")) {
      differences.push(
        `pool ${quote(name)} has ${current.length} cpu list${
          current.length === 1 ? "" : "s"
        } (${lists(current)}), the requested layout ${requested.length} (${
          lists(requested)
        })`,
      );
    }
  }
  return differences;
}
