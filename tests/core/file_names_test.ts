/**
 * File names that are not UTF-8 decode as Python 3 decoded them
 * (`os.fsdecode`, surrogateescape) and encode back to the same bytes.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeFileName,
  encodeFileName,
  hasRawBytes,
} from "../../core/file_names.ts";

Deno.test("decodeFileName() decodes as Python's os.fsdecode", () => {
  // Each expected value was printed by Python 3.12: ascii(os.fsdecode(b)).
  const cases: [number[], string][] = [
    [[0x63, 0x61, 0x66, 0xe9], "caf\udce9"],
    [[0xe0, 0xa0, 0x41], "\udce0\udca0A"], // a truncated sequence
    [[0xed, 0xa0, 0x80], "\udced\udca0\udc80"], // an encoded surrogate
    [[0xf4, 0x90, 0x80, 0x80], "\udcf4\udc90\udc80\udc80"], // > U+10FFFF
    [[0xc0, 0xaf], "\udcc0\udcaf"], // overlong
    [[0xe2, 0x82], "\udce2\udc82"],
    [[0xe2, 0x82, 0xac], "\u20ac"],
    [[0xf0, 0x9f, 0x98, 0x80, 0xff], "\u{1f600}\udcff"],
    [[0xef, 0xbf, 0xbd], "\ufffd"],
    [[0x80, 0xbf], "\udc80\udcbf"],
    [[0xf0, 0x9f, 0x98], "\udcf0\udc9f\udc98"],
    [[0xc3], "\udcc3"],
    [[0xee, 0x80, 0x80, 0xed, 0x9f, 0xbf], "\ue000\ud7ff"],
    [[0x61, 0xf5, 0x62], "a\udcf5b"],
    [[0xc2, 0x80, 0xdf, 0xbf], "\x80\u07ff"],
  ];
  for (const [bytes, text] of cases) {
    assert.equal(decodeFileName(new Uint8Array(bytes)), text, String(bytes));
    assert.deepEqual(encodeFileName(text), new Uint8Array(bytes), text);
  }
});

Deno.test("decodeFileName() and encodeFileName() round-trip any bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const text = decodeFileName(bytes);
      assert.deepEqual(encodeFileName(text), bytes);
      // Valid UTF-8 decodes as UTF-8; anything else carries raw bytes.
      let valid = true;
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        valid = false;
      }
      assert.equal(hasRawBytes(text), !valid);
    }),
    { seed: 11, numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 12 }), (text) => {
      const bytes = new TextEncoder().encode(text);
      assert.equal(decodeFileName(bytes), text);
      assert.deepEqual(encodeFileName(text), bytes);
    }),
    { seed: 12, numRuns: 1000 },
  );
});

Deno.test("encodeFileName() refuses a lone surrogate no byte decodes to", () => {
  for (const text of ["a\ud800", "\udc7f", "\udd00b"]) {
    assert.throws(() => encodeFileName(text), RangeError, text);
  }
  // Half of a pair is not raw: U+1F080 is D83C DC80.
  assert.equal(hasRawBytes("\u{1f080}"), false);
  assert.equal(hasRawBytes("\udc80"), true);
});
