/**
 * Random machine shapes for property tests: packages split into NUMA
 * nodes, nodes into L3 groups (or one L3 per package spanning its nodes,
 * as on SNC), cores of one to four threads, and CPU ids numbered node by
 * node, round robin across packages, or shuffled.
 */

import fc from "fast-check";
import { type LogicalCpu, Topology } from "../../core/topology.ts";

/** The parameters a random topology was built from (shown on failure). */
export interface Shape {
  readonly packages: number;
  readonly nodesPerPackage: number;
  readonly coresPerNode: number;
  readonly threads: number;
  /** L3 groups per node; 0: one L3 per package, spanning its nodes. */
  readonly l3PerNode: number;
  readonly numbering: "contiguous" | "interleaved" | "shuffled";
  readonly seed: number;
}

/** Builds the topology of `shape`. */
export function buildTopology(shape: Shape): Topology {
  const { packages, nodesPerPackage, coresPerNode, threads } = shape;
  const coresPerPackage = nodesPerPackage * coresPerNode;
  const cores = packages * coresPerPackage;
  // Logical index t * cores + c is thread t of global core c (siblings
  // n, n + cores, ... as most x86 firmware numbers them).
  const order = [...Array(cores * threads).keys()];
  if (shape.numbering === "interleaved") {
    // Round robin over packages: core c of package p gets rank c*P + p.
    order.sort((a, b) => interleavedRank(a) - interleavedRank(b));
  } else if (shape.numbering === "shuffled") {
    let state = shape.seed >>> 0;
    for (let i = order.length - 1; i > 0; i--) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      const j = state % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
  }
  function interleavedRank(index: number): number {
    const thread = Math.floor(index / cores);
    const core = index % cores;
    const pkg = Math.floor(core / coresPerPackage);
    return thread * cores + (core % coresPerPackage) * packages + pkg;
  }
  const cpus: LogicalCpu[] = order.map((index, id) => {
    const core = index % cores;
    const pkg = Math.floor(core / coresPerPackage);
    const inPackage = core % coresPerPackage;
    const node = pkg * nodesPerPackage + Math.floor(inPackage / coresPerNode);
    const inNode = inPackage % coresPerNode;
    const l3 = shape.l3PerNode === 0 ? pkg : node * shape.l3PerNode +
      Math.floor(inNode * shape.l3PerNode / coresPerNode);
    return {
      id,
      packageId: pkg,
      dieId: 0,
      coreId: inPackage,
      numaNode: node,
      l3Id: l3,
    };
  });
  return new Topology(cpus);
}

/** A random {@linkcode Shape}. */
export const arbitraryShape: fc.Arbitrary<Shape> = fc.record({
  packages: fc.integer({ min: 1, max: 2 }),
  nodesPerPackage: fc.integer({ min: 1, max: 4 }),
  coresPerNode: fc.integer({ min: 1, max: 8 }),
  threads: fc.integer({ min: 1, max: 4 }),
  l3PerNode: fc.integer({ min: 0, max: 2 }),
  numbering: fc.constantFrom(
    "contiguous" as const,
    "interleaved" as const,
    "shuffled" as const,
  ),
  seed: fc.integer(),
});
