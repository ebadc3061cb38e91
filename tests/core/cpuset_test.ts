import assert from "node:assert/strict";
import fc from "fast-check";
import { CpuListSyntaxError, CpuSet, parseCpuList } from "../../core/cpuset.ts";

Deno.test("parseCpuList() reads ids, ranges and any order", () => {
  const cases: [string, number[]][] = [
    ["", []],
    ["0", [0]],
    ["0-2,8-10", [0, 1, 2, 8, 9, 10]],
    ["2,6,1,5", [1, 2, 5, 6]],
    ["3,7", [3, 7]],
    ["0-1,1", [0, 1]],
    ["5-5", [5]],
    ["8191", [8191]],
  ];
  for (const [text, cpus] of cases) {
    assert.deepEqual(parseCpuList(text).toArray(), cpus, text);
  }
});

Deno.test("parseCpuList() rejects bad lists and quotes them", () => {
  const cases: [string, RegExp][] = [
    // empty pieces
    [",", /empty item/],
    ["0,", /empty item/],
    ["0,,1", /empty item/],
    // incomplete or reversed ranges
    ["4-", /"4-" has no end/],
    ["-4", /"-4" has no start/],
    ["-", /has no start/],
    ["5-3", /"5-3" is reversed/],
    ["1-2-3", /not a CPU id/],
    // junk
    ["a", /not a CPU id/],
    [" 1", /not a CPU id/],
    ["1 ", /not a CPU id/],
    ["01", /not a CPU id/],
    ["+1", /not a CPU id/],
    ["0x1", /not a CPU id/],
    ["8192", /above 8191/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseCpuList(text),
      (error: unknown) =>
        error instanceof CpuListSyntaxError && error.input === text &&
        error.message.startsWith(`Cannot parse CPU list "${text}"`) &&
        message.test(error.message),
      text,
    );
  }
});

Deno.test("CpuSet.toString() writes the canonical list", () => {
  assert.equal(CpuSet.of([]).toString(), "");
  assert.equal(CpuSet.of([3]).toString(), "3");
  assert.equal(CpuSet.of([1, 0]).toString(), "0-1");
  assert.equal(CpuSet.of([0, 2, 4]).toString(), "0,2,4");
  assert.equal(CpuSet.of([10, 8, 9, 0, 1, 2, 5]).toString(), "0-2,5,8-10");
  assert.equal(CpuSet.of([4, 5]).toMask(), "0x30");
});

Deno.test("CpuSet set operations", () => {
  const a = parseCpuList("0-3"), b = parseCpuList("2-5");
  assert.equal(a.union(b).toString(), "0-5");
  assert.equal(a.intersection(b).toString(), "2-3");
  assert.equal(a.difference(b).toString(), "0-1");
  assert.ok(parseCpuList("1,2").isSubsetOf(a));
  assert.ok(!b.isSubsetOf(a));
  assert.ok(parseCpuList("3,2,1,0").equals(a));
  assert.ok(CpuSet.EMPTY.isEmpty());
  assert.equal(a.size, 4);
  assert.throws(() => CpuSet.of([-1]), RangeError);
});

const cpuArray = fc.uniqueArray(fc.integer({ min: 0, max: 300 }), {
  maxLength: 40,
});

Deno.test("parseCpuList() round-trips the canonical form (property)", () => {
  fc.assert(fc.property(cpuArray, (cpus) => {
    const set = CpuSet.of(cpus);
    const text = set.toString();
    const again = parseCpuList(text);
    assert.ok(again.equals(set));
    assert.equal(again.toString(), text); // canonical is a fixed point
    assert.deepEqual(again.toArray(), [...cpus].sort((a, b) => a - b));
  }));
});

Deno.test("parseCpuList() accepts any shuffle of ids and ranges (property)", () => {
  fc.assert(fc.property(
    fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 8 }),
      ),
      { minLength: 1, maxLength: 12 },
    ),
    (pieces) => {
      const text = pieces.map(([lo, len]) =>
        len === 0 ? `${lo}` : `${lo}-${lo + len}`
      )
        .join(",");
      const expected = new Set<number>();
      for (const [lo, len] of pieces) {
        for (let c = lo; c <= lo + len; c++) expected.add(c);
      }
      assert.deepEqual(
        parseCpuList(text).toArray(),
        [...expected].sort((a, b) => a - b),
      );
    },
  ));
});

Deno.test("parseCpuList() rejects text with junk inserted (property)", () => {
  fc.assert(fc.property(
    cpuArray.filter((c) => c.length > 0),
    fc.constantFrom(",", ",,", "-", "a", " ", "--", ".", "x"),
    fc.nat(),
    (cpus, junk, at) => {
      const text = CpuSet.of(cpus).toString();
      const position = at % (text.length + 1);
      const bad = text.slice(0, position) + junk + text.slice(position);
      // Inserting "-" between two digits of a single id forms a valid range
      // only if ascending; skip inputs that are still a valid list.
      let valid = true;
      try {
        parseCpuList(bad);
      } catch (error) {
        valid = false;
        assert.ok(error instanceof CpuListSyntaxError);
        assert.equal(error.input, bad);
      }
      if (valid) assert.ok(/^[0-9,-]+$/.test(bad));
    },
  ));
});
