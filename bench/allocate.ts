/**
 * Benchmark 6, the multi-core allocator in-process: how long
 * `allocateLists()` takes to choose 16 lists of a pool of one list per
 * physical core on the 256-CPU EPYC fixture (target: under 5 ms), on a
 * fresh pool and on one fragmented by a seeded claim/release sequence,
 * against the reference's rule (the first free lists in name order) on
 * the same pool; and parsing the EPYC topology record, which `isolate`
 * would read before choosing.
 */

import { join } from "node:path";
import { allocateLists, type PoolView } from "../core/allocate.ts";
import { readIsolatedCpus, readTopology } from "../core/sysfs.ts";
import {
  formatTopologyRecord,
  parseTopologyRecord,
} from "../core/topology_record.ts";
import { claimSequence, corePool } from "./claim_sequence.ts";
import { formatMs, interleave, median, repoPath } from "./measure.ts";
import type { BenchOptions } from "./options.ts";
import type { Row } from "./table.ts";

/** Calls per sample: one call is too short to time alone. */
const BATCH = 20;
const TARGET_MS = 5;

/** The EPYC pool after a seeded run of claims and releases. */
function fragmented(
  pool: PoolView,
  topology: Parameters<typeof allocateLists>[1],
): PoolView {
  const free = new Set(pool.lists.map((l) => l.name));
  const live = new Map<string, string[]>();
  for (
    const step of claimSequence(pool.lists.length, {
      seed: 7,
      steps: 200,
      maxCores: 16,
    })
  ) {
    if (step.op === "release") {
      for (const name of live.get(step.id) ?? []) free.add(name);
      live.delete(step.id);
      continue;
    }
    const view = {
      ...pool,
      lists: pool.lists.map((l) => ({ ...l, free: free.has(l.name) })),
    };
    const chosen = allocateLists(view, topology, { count: step.cores }).lists
      .map((l) => l.name);
    for (const name of chosen) free.delete(name);
    live.set(step.id, chosen);
  }
  return {
    ...pool,
    lists: pool.lists.map((l) => ({ ...l, free: free.has(l.name) })),
  };
}

function timed(run: () => unknown): () => Promise<number> {
  return () => {
    const start = performance.now();
    for (let i = 0; i < BATCH; i++) run();
    return Promise.resolve((performance.now() - start) / BATCH);
  };
}

/** Milliseconds, as microseconds when below one. */
function formatShort(ms: number): string {
  return ms >= 1 ? formatMs(ms) : `${(ms * 1000).toFixed(1)} µs`;
}

function row(
  benchmark: string,
  kcm: number,
  baseline: string,
  base: number,
): Row {
  return {
    benchmark,
    kcm: formatShort(kcm),
    baseline,
    baselineValue: formatShort(base),
    ratio: kcm / base,
    target: `< ${TARGET_MS} ms`,
    met: kcm < TARGET_MS,
  };
}

/** Runs benchmark 6 and returns its table rows. */
export async function benchAllocate(options: BenchOptions): Promise<Row[]> {
  const root = join(repoPath("tests/fixtures/sysfs"), "epyc_2x64x2_nps4");
  const topology = await readTopology(root);
  const recordText = formatTopologyRecord({
    topology,
    isolated: await readIsolatedCpus(root),
  });
  const fresh = corePool(topology);
  const busy = fragmented(fresh, topology);
  const firstFree = (pool: PoolView) => () =>
    pool.lists.filter((l) => l.free).slice(0, 16);
  const rounds = options.quick ? 50 : 300;
  const samples = await interleave(rounds, {
    fresh: timed(() => allocateLists(fresh, topology, { count: 16 })),
    freshBase: timed(firstFree(fresh)),
    busy: timed(() => allocateLists(busy, topology, { count: 16 })),
    busyBase: timed(firstFree(busy)),
    record: timed(() => parseTopologyRecord(recordText)),
    recordBase: timed(() => JSON.parse(recordText)),
  }, { warmup: 20 });
  const m = (name: string) => median(samples[name]!);
  const free = busy.lists.filter((l) => l.free).length;
  return [
    row(
      "6. allocate 16 of 128 lists, EPYC, fresh pool (in-process)",
      m("fresh"),
      "first 16 free lists in name order",
      m("freshBase"),
    ),
    row(
      `6. allocate 16 of 128 lists, EPYC, fragmented (${free} free)`,
      m("busy"),
      "first 16 free lists in name order",
      m("busyBase"),
    ),
    row(
      `6. parse the EPYC topology record (${recordText.length} bytes)`,
      m("record"),
      "JSON.parse of the same text",
      m("recordBase"),
    ),
  ];
}
