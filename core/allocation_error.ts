/**
 * Why a claim of cpu lists failed, as data ({@linkcode AllocationFailure})
 * and as the one line `isolate` prints ({@linkcode AllocationError}).
 */

import { oneLine } from "./quote.ts";
import { ResourceError } from "./errors.ts";

/** A NUMA node or a socket a claim was restricted to. */
export type PlacementConstraint =
  | { readonly numaNode: number }
  | { readonly socketId: number };

/** Free lists counted per NUMA node or per socket. */
export interface FreeCount {
  /** The node or socket id; null for lists with none or several. */
  readonly id: number | null;
  readonly free: number;
}

/** Why no cpu lists could be chosen. */
export type AllocationFailure =
  | {
    /** `numaNode` is not a node of the topology. */
    readonly reason: "unknown-numa-node";
    readonly numaNode: number;
    readonly known: readonly number[];
  }
  | {
    /** `socketId` is not a package of the topology. */
    readonly reason: "unknown-socket";
    readonly socketId: number;
    readonly known: readonly number[];
  }
  | {
    /** The pool has fewer lists than `requested`, free or not. */
    readonly reason: "pool-too-small";
    readonly requested: number;
    readonly lists: number;
  }
  | {
    /** Fewer than `requested` lists are free (or the pool has none). */
    readonly reason: "not-enough-free";
    readonly requested: number;
    readonly lists: number;
    readonly taken: number;
  }
  | {
    /** Fewer than `requested` lists are free on the node or socket. */
    readonly reason: "not-enough-free-there";
    readonly requested: number;
    readonly where: PlacementConstraint;
    readonly freeThere: number;
    /** Free lists on the other nodes (or sockets) that have some. */
    readonly freeElsewhere: readonly FreeCount[];
  };

function placeName(where: PlacementConstraint): string {
  return "numaNode" in where
    ? `NUMA node ${where.numaNode}`
    : `socket ${where.socketId}`;
}

function describeFailure(pool: string, failure: AllocationFailure): string {
  switch (failure.reason) {
    case "unknown-numa-node":
      return `Unknown NUMA node ${failure.numaNode}: the topology has ` +
        (failure.known.length === 0
          ? "no NUMA nodes"
          : `nodes ${failure.known.join(",")}`);
    case "unknown-socket":
      return `Unknown socket ${failure.socketId}: the topology has ` +
        `sockets ${failure.known.join(",")}`;
    case "pool-too-small":
      return `Cannot claim ${failure.requested} cpu lists in pool ${pool}: ` +
        `it has ${failure.lists}`;
    case "not-enough-free": {
      const counts = `(${failure.lists} lists, ${failure.taken} taken)`;
      return failure.requested === 1
        ? `No free cpu lists in pool ${pool} ${counts}`
        : `Not enough free cpu lists in pool ${pool}: asked for ` +
          `${failure.requested}, ${failure.lists - failure.taken} free ` +
          counts;
    }
    case "not-enough-free-there": {
      const kind = "numaNode" in failure.where ? "node" : "socket";
      const elsewhere = failure.freeElsewhere.length === 0
        ? "none free elsewhere"
        : "free elsewhere: " +
          failure.freeElsewhere.map(({ id, free }) =>
            `${id === null ? `no single ${kind}` : `${kind} ${id}`}: ${free}`
          ).join(", ");
      return `Not enough free cpu lists on ${placeName(failure.where)} in ` +
        `pool ${pool}: asked for ${failure.requested}, ` +
        `${failure.freeThere} free there (${elsewhere})`;
    }
  }
}

/**
 * A claim that cannot be met: exit 1, one line naming the numbers, and
 * the same facts as data in {@linkcode AllocationError.failure}.
 *
 * @example
 * ```ts
 * import { AllocationError } from "./allocation_error.ts";
 * import assert from "node:assert/strict";
 * const error = new AllocationError("dataplane", {
 *   reason: "not-enough-free", requested: 1, lists: 4, taken: 4,
 * });
 * assert.equal(error.message, "No free cpu lists in pool dataplane (4 lists, 4 taken)");
 * assert.equal(error.exitCode, 1);
 * ```
 */
export class AllocationError extends ResourceError {
  /** The pool the claim was made in. */
  readonly pool: string;
  /** Why it failed. */
  readonly failure: AllocationFailure;

  constructor(pool: string, failure: AllocationFailure) {
    const freeable = failure.reason === "not-enough-free" &&
        failure.taken > 0 ||
      failure.reason === "not-enough-free-there";
    super(
      describeFailure(oneLine(pool), failure),
      1,
      freeable
        ? {
          hint: "run `kcm reconcile` if a task died without releasing its list",
        }
        : {},
    );
    this.pool = pool;
    this.failure = failure;
  }
}
