import assert from "node:assert/strict";
import { formatJson } from "../../core/json.ts";

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
