import assert from "node:assert/strict";
import {
  CoreCountError,
  parseCoreCount,
} from "../../../core/webhook/quantity.ts";

Deno.test("parseCoreCount() reads every spelling of a whole quantity", () => {
  const cases: [unknown, number][] = [
    ["1", 1],
    ["2", 2],
    ["+3", 3],
    ["007", 7],
    ["2.", 2],
    ["2.0", 2],
    ["2000m", 2],
    ["1k", 1000],
    ["4096", 4096],
    ["0.5Ki", 512],
    ["4Ki", 4096],
    ["1e3", 1000],
    ["1E3", 1000],
    ["20e-1", 2],
    [".5e1", 5],
    ["0.004k", 4],
    [3, 3],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseCoreCount(input), expected, String(input));
  }
});

Deno.test("parseCoreCount() rejects with the problem as data", () => {
  const cases: [unknown, string][] = [
    // syntax
    ["", "syntax"],
    ["two", "syntax"],
    ["1 ", "syntax"],
    [" 1", "syntax"],
    ["1Kb", "syntax"],
    ["1ki", "syntax"],
    ["0x10", "syntax"],
    ["1e", "syntax"],
    ["1e1.5", "syntax"],
    ["1".repeat(65), "syntax"],
    [true, "syntax"],
    [null, "syntax"],
    [Number.NaN, "syntax"],
    [Number.POSITIVE_INFINITY, "syntax"],
    [{}, "syntax"],
    // fractions
    ["1.5", "fraction"],
    ["1500m", "fraction"],
    ["1m", "fraction"],
    ["1e-1", "fraction"],
    ["1e-999999", "fraction"],
    [0.5, "fraction"],
    // too small
    ["0", "too-small"],
    ["0.0", "too-small"],
    ["0k", "too-small"],
    ["-1", "too-small"],
    ["-0", "too-small"],
    [-2, "too-small"],
    // too large
    ["4097", "too-large"],
    ["5k", "too-large"],
    ["1E", "too-large"],
    ["1Ei", "too-large"],
    ["1e999999999", "too-large"],
    [1e21, "too-large"],
  ];
  for (const [input, problem] of cases) {
    assert.throws(
      () => parseCoreCount(input),
      (error) =>
        error instanceof CoreCountError && error.problem === problem &&
        Object.is(error.input, input),
      `${String(input)} should be ${problem}`,
    );
  }
});

Deno.test("parseCoreCount() quotes the input, shortened", () => {
  assert.throws(
    () => parseCoreCount("9".repeat(70)),
    { message: `must be a quantity such as "2", got "${"9".repeat(40)}..."` },
  );
});
