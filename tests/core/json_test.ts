import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compareCodePoints,
  formatJson,
  type JsonValue,
} from "../../core/json.ts";
import { pythonJsonDumps } from "../_helpers/python_json.ts";

Deno.test("formatJson() sorts keys at every level, indents by two", () => {
  assert.equal(
    formatJson({ b: { z: 1, a: [true, null] }, a: [] }),
    '{\n  "a": [],\n  "b": {\n    "a": [\n      true,\n      null\n    ],\n    "z": 1\n  }\n}\n',
  );
});

Deno.test("formatJson() writes empty objects and arrays inline", () => {
  assert.equal(formatJson({ x: {}, y: [] }), '{\n  "x": {},\n  "y": []\n}\n');
});

Deno.test("formatJson() escapes non-ASCII as \\uXXXX like Python", () => {
  assert.equal(formatJson("é😀"), '"\\u00e9\\ud83d\\ude00"\n');
});

Deno.test("formatJson() orders keys by code point", () => {
  assert.equal(
    formatJson({ mismatchedCpuMasks: 1, reclaimedCpuLists: 2, B: 3 }),
    '{\n  "B": 3,\n  "mismatchedCpuMasks": 1,\n  "reclaimedCpuLists": 2\n}\n',
  );
});

Deno.test("formatJson() sorts integer-like keys as strings, like the reference", () => {
  assert.equal(
    formatJson({ "8": 1, "100": 2, "10": 3, "3,11": 4 }),
    '{\n  "10": 3,\n  "100": 2,\n  "3,11": 4,\n  "8": 1\n}\n',
  );
  assert.equal(
    formatJson({ cpuLists: { "9": [], "11": [] } }),
    '{\n  "cpuLists": {\n    "11": [],\n    "9": []\n  }\n}\n',
  );
});

Deno.test("formatJson() escapes DEL and control characters", () => {
  assert.equal(formatJson("a\u007fb"), '"a\\u007fb"\n');
  assert.equal(
    formatJson('\n\t\r\b\f\u0001\u001f"\\'),
    '"\\n\\t\\r\\b\\f\\u0001\\u001f\\"\\\\"\n',
  );
});

Deno.test("formatJson() orders keys above U+FFFF after U+E000-U+FFFF", () => {
  // UTF-16 order would put "😀" (a surrogate pair) before "\uffff".
  assert.equal(
    formatJson({ "😀": 1, "\uffff": 2, "\ue000": 3 }),
    '{\n  "\\ue000": 3,\n  "\\uffff": 2,\n  "\\ud83d\\ude00": 1\n}\n',
  );
});

Deno.test("formatJson() matches a model of the reference's rules on random values", () => {
  // Names like those a config directory holds: numbers, CPU lists,
  // Unicode above and below U+FFFF, control characters.
  const name = fc.oneof(
    fc.nat({ max: 300 }).map(String),
    fc.array(fc.nat({ max: 64 }), { minLength: 1, maxLength: 4 }).map((a) =>
      a.join(",")
    ),
    fc.string({ unit: "grapheme", maxLength: 6 }),
    fc.string({ unit: "binary", maxLength: 6 }),
    fc.constantFrom("\u007f", "\ue000", "\uffff", "😀", "a\nb", "\u0000"),
  );
  const { value } = fc.letrec<{ value: JsonValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -1, max: 4_194_304 }),
      name,
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(name, tie("value"), { maxKeys: 6 }),
    ),
  }));
  fc.assert(
    fc.property(value, (v) => {
      assert.equal(formatJson(v), pythonJsonDumps(v));
    }),
    { seed: 20261129, numRuns: 2000 },
  );
});

Deno.test("compareCodePoints() ranks a character above U+FFFF over a lone surrogate with the same high half", () => {
  const emoji = "\u{1f600}"; // D83D DE00
  const loneHigh = "\ud83dA"; // U+D83D, then "A"
  // U+D83D comes before U+1F600: the pair outranks the lone half.
  assert.ok(compareCodePoints(loneHigh, emoji) < 0);
  assert.ok(compareCodePoints(emoji, loneHigh) > 0);
  // A lone high surrogate before a character in U+E000..U+FFFF: by UTF-16
  // units FFFF > DE00 would put it last; by code points it comes first.
  assert.ok(compareCodePoints("\ud83d\uffff", emoji) < 0);
  assert.ok(compareCodePoints(emoji, "\ud83d\uffff") > 0);
  // Two pairs rank by their low halves.
  assert.ok(compareCodePoints("\u{1f600}", "\u{1f601}") < 0);
  assert.equal(compareCodePoints(emoji, emoji), 0);
});
