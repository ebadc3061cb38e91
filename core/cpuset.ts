/**
 * CPU sets and the Linux cpuset list syntax (cpuset(7), "FORMATS"):
 * comma-separated CPU ids and inclusive ranges such as `0-2,8-10`.
 * A {@linkcode CpuSet} is an immutable, sorted set of CPU ids.
 */

import { quote } from "./quote.ts";

/** Highest CPU id kcm accepts; Linux's NR_CPUS tops out at 8192. */
export const MAX_CPU_ID = 8191;

/** A CPU list that does not follow the cpuset list syntax. */
export class CpuListSyntaxError extends SyntaxError {
  /** The whole text that was parsed. */
  readonly input: string;
  /** Offset in `input` of the piece that failed. */
  readonly index: number;

  constructor(input: string, index: number, reason: string) {
    super(`Cannot parse CPU list ${quote(input)}: ${reason}`);
    this.name = "CpuListSyntaxError";
    this.input = input;
    this.index = index;
  }
}

const NUMBER = /^(0|[1-9][0-9]*)$/;

/** An immutable set of logical CPU ids. */
export class CpuSet {
  readonly #cpus: readonly number[];

  private constructor(sortedUnique: readonly number[]) {
    this.#cpus = sortedUnique;
  }

  /** The empty set. */
  static readonly EMPTY: CpuSet = new CpuSet([]);

  /** Builds a set from CPU ids in any order; duplicates are dropped. */
  static of(cpus: Iterable<number>): CpuSet {
    const unique = [...new Set(cpus)];
    for (const cpu of unique) {
      if (!Number.isInteger(cpu) || cpu < 0 || cpu > MAX_CPU_ID) {
        throw new RangeError(`CPU id ${cpu} is out of range 0-${MAX_CPU_ID}`);
      }
    }
    return new CpuSet(unique.sort((a, b) => a - b));
  }

  /** The CPU ids, ascending. */
  toArray(): number[] {
    return [...this.#cpus];
  }

  /** Number of CPUs in the set. */
  get size(): number {
    return this.#cpus.length;
  }

  /** True when the set has no CPU. */
  isEmpty(): boolean {
    return this.#cpus.length === 0;
  }

  /** True when `cpu` is in the set. */
  has(cpu: number): boolean {
    return this.#cpus.includes(cpu);
  }

  /** CPUs in this set or in `other`. */
  union(other: CpuSet): CpuSet {
    return CpuSet.of([...this.#cpus, ...other.#cpus]);
  }

  /** CPUs in both sets. */
  intersection(other: CpuSet): CpuSet {
    const theirs = new Set(other.#cpus);
    return new CpuSet(this.#cpus.filter((c) => theirs.has(c)));
  }

  /** CPUs in this set and not in `other`. */
  difference(other: CpuSet): CpuSet {
    const theirs = new Set(other.#cpus);
    return new CpuSet(this.#cpus.filter((c) => !theirs.has(c)));
  }

  /** True when both sets hold the same CPUs. */
  equals(other: CpuSet): boolean {
    return this.#cpus.length === other.#cpus.length &&
      this.#cpus.every((c, i) => c === other.#cpus[i]);
  }

  /** True when every CPU of this set is in `other`. */
  isSubsetOf(other: CpuSet): boolean {
    const theirs = new Set(other.#cpus);
    return this.#cpus.every((c) => theirs.has(c));
  }

  /**
   * The canonical list form: ascending, runs of two or more as ranges.
   *
   * @example
   * ```ts
   * import { CpuSet } from "./cpuset.ts";
   * import assert from "node:assert/strict";
   * assert.equal(CpuSet.of([10, 0, 1, 2, 8, 9]).toString(), "0-2,8-10");
   * ```
   */
  toString(): string {
    const parts: string[] = [];
    let i = 0;
    while (i < this.#cpus.length) {
      const start = this.#cpus[i]!;
      let end = start;
      while (i + 1 < this.#cpus.length && this.#cpus[i + 1] === end + 1) {
        end = this.#cpus[++i]!;
      }
      parts.push(start === end ? `${start}` : `${start}-${end}`);
      i++;
    }
    return parts.join(",");
  }

  /** The kernel's hexadecimal mask form, e.g. `0x30` for CPUs 4-5. */
  toMask(): string {
    let mask = 0n;
    for (const cpu of this.#cpus) mask |= 1n << BigInt(cpu);
    return "0x" + mask.toString(16);
  }
}

/**
 * Parses a cpuset list. The empty string is the empty set; pieces may come
 * in any order and may overlap (as the kernel accepts), but every piece
 * must be a decimal id or an ascending `a-b` range.
 *
 * @example
 * ```ts
 * import { parseCpuList } from "./cpuset.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseCpuList("2,6,1,5").toArray(), [1, 2, 5, 6]);
 * assert.throws(() => parseCpuList("4-"), /has no end/);
 * ```
 */
export function parseCpuList(text: string): CpuSet {
  if (text === "") return CpuSet.EMPTY;
  const cpus: number[] = [];
  let offset = 0;
  for (const piece of text.split(",")) {
    const fail = (reason: string): never => {
      throw new CpuListSyntaxError(text, offset, reason);
    };
    if (piece === "") fail(`empty item at offset ${offset}`);
    const dash = piece.indexOf("-");
    const first = dash < 0 ? piece : piece.slice(0, dash);
    const last = dash < 0 ? piece : piece.slice(dash + 1);
    if (first === "") fail(`range ${quote(piece)} has no start`);
    if (last === "") fail(`range ${quote(piece)} has no end`);
    if (!NUMBER.test(first) || !NUMBER.test(last)) {
      fail(`${quote(piece)} is not a CPU id or a range of CPU ids`);
    }
    const lo = Number(first), hi = Number(last);
    if (hi > MAX_CPU_ID) fail(`CPU id ${hi} is above ${MAX_CPU_ID}`);
    if (hi < lo) fail(`range ${quote(piece)} is reversed`);
    for (let cpu = lo; cpu <= hi; cpu++) cpus.push(cpu);
    offset += piece.length + 1;
  }
  return CpuSet.of(cpus);
}
