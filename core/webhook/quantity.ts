/**
 * Reads a Kubernetes resource quantity (the `resource.Quantity` string
 * syntax: `2`, `2000m`, `1k`, `0.5Ki`, `1e3`) as a whole number of cores.
 * Pure.
 *
 * Extended resources such as `kcm.intel.com/dataplane-cores` must be whole
 * numbers; the API server stores them in canonical form (`"2"`, `"1k"`), but
 * users and other webhooks may send any valid spelling, so the whole grammar
 * is read and the value computed exactly (no floating point).
 */

import { MAX_CORES } from "./names.ts";

/** Why a quantity is not a usable number of cores. */
export type CoreCountProblem =
  | "syntax"
  | "fraction"
  | "too-small"
  | "too-large";

/** A quantity that is not a whole number of cores in [1, {@linkcode MAX_CORES}]. */
export class CoreCountError extends RangeError {
  /** The value as given (a string, or whatever JSON held). */
  readonly input: unknown;
  /** What is wrong with it. */
  readonly problem: CoreCountProblem;

  constructor(input: unknown, problem: CoreCountProblem) {
    super(
      `${describeProblem(problem)}, got ${quoteInput(input)}`,
    );
    this.name = "CoreCountError";
    this.input = input;
    this.problem = problem;
  }
}

function describeProblem(problem: CoreCountProblem): string {
  switch (problem) {
    case "syntax":
      return 'must be a quantity such as "2"';
    case "fraction":
      return "must be a whole number of cores";
    case "too-small":
      return "must be at least 1";
    case "too-large":
      return `must be at most ${MAX_CORES}`;
  }
}

function quoteInput(input: unknown): string {
  const text = typeof input === "string" ? input : JSON.stringify(input) ?? "";
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

const QUANTITY =
  /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;

const DECIMAL_SUFFIX: Readonly<Record<string, number>> = {
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const BINARY_SUFFIX: Readonly<Record<string, number>> = {
  Ki: 10,
  Mi: 20,
  Gi: 30,
  Ti: 40,
  Pi: 50,
  Ei: 60,
};

/** Longest quantity string read; longer ones are a syntax error. */
const MAX_LENGTH = 64;

/**
 * Parses a quantity as a number of cores: a whole number from 1 to
 * {@linkcode MAX_CORES}. JSON numbers are read like their decimal text.
 * Throws {@linkcode CoreCountError} otherwise.
 *
 * @example
 * ```ts
 * import { parseCoreCount } from "./quantity.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseCoreCount("2"), 2);
 * assert.equal(parseCoreCount("2000m"), 2);
 * assert.equal(parseCoreCount("0.5Ki"), 512);
 * assert.throws(() => parseCoreCount("1500m"), /whole number/);
 * assert.throws(() => parseCoreCount("0"), /at least 1/);
 * ```
 */
export function parseCoreCount(input: unknown): number {
  let text: string;
  if (typeof input === "string") text = input;
  else if (typeof input === "number" && Number.isFinite(input)) {
    text = String(input);
  } else throw new CoreCountError(input, "syntax");
  if (text.length > MAX_LENGTH) throw new CoreCountError(input, "syntax");
  const match = QUANTITY.exec(text);
  if (match === null) throw new CoreCountError(input, "syntax");
  const [, sign, number, suffix = ""] = match;
  const [whole = "", fraction = ""] = number!.split(".");
  const digits = (whole + fraction).replace(/^0+/, "");
  if (digits === "") throw new CoreCountError(input, "too-small");
  if (sign === "-") throw new CoreCountError(input, "too-small");
  let exponent10 = -fraction.length;
  let exponent2 = 0;
  if (suffix in BINARY_SUFFIX) exponent2 = BINARY_SUFFIX[suffix]!;
  else if (suffix in DECIMAL_SUFFIX) exponent10 += DECIMAL_SUFFIX[suffix]!;
  else if (suffix !== "") exponent10 += Number(suffix.slice(1));
  // Bound the exponents before building big integers: a mantissa of at most
  // 64 digits times 2^60 is below 10^84, so anything scaled by more than
  // 10^84 down is a fraction, and at least 1 scaled up by 10^4 is too large.
  if (exponent10 > 4 + MAX_LENGTH) throw new CoreCountError(input, "too-large");
  if (exponent10 < -(MAX_LENGTH + 20)) {
    throw new CoreCountError(input, "fraction");
  }
  let numerator = BigInt(digits) << BigInt(exponent2);
  let denominator = 1n;
  if (exponent10 >= 0) numerator *= 10n ** BigInt(exponent10);
  else denominator = 10n ** BigInt(-exponent10);
  if (numerator % denominator !== 0n) {
    throw new CoreCountError(input, "fraction");
  }
  numerator /= denominator;
  if (numerator > BigInt(MAX_CORES)) {
    throw new CoreCountError(input, "too-large");
  }
  return Number(numerator);
}
