/** The test applier itself follows RFC 6902 (examples from its appendix A). */

import assert from "node:assert/strict";
import { applyPatch, parsePointer, PatchError } from "./json_patch.ts";

Deno.test("applyPatch() follows RFC 6902's examples", () => {
  assert.deepEqual(
    applyPatch({ foo: "bar" }, [{ op: "add", path: "/baz", value: "qux" }]),
    { foo: "bar", baz: "qux" },
  );
  assert.deepEqual(
    applyPatch({ foo: ["bar", "baz"] }, [
      { op: "add", path: "/foo/1", value: "qux" },
    ]),
    { foo: ["bar", "qux", "baz"] },
  );
  assert.deepEqual(
    applyPatch({ foo: ["bar"] }, [{ op: "add", path: "/foo/-", value: "x" }]),
    { foo: ["bar", "x"] },
  );
  assert.deepEqual(
    applyPatch({ baz: "qux", foo: "bar" }, [
      { op: "replace", path: "/baz", value: "boo" },
    ]),
    { baz: "boo", foo: "bar" },
  );
  assert.deepEqual(
    applyPatch({ foo: { bar: "baz", waldo: "fred" }, qux: { corge: "g" } }, [
      { op: "move", from: "/foo/waldo", path: "/qux/thud" },
    ]),
    { foo: { bar: "baz" }, qux: { corge: "g", thud: "fred" } },
  );
  assert.deepEqual(
    applyPatch({ "a/b": 1, "m~n": 2 }, [
      { op: "remove", path: "/a~1b" },
      { op: "replace", path: "/m~0n", value: 3 },
    ]),
    { "m~n": 3 },
  );
  assert.deepEqual(parsePointer("/~01/~10"), ["~1", "/0"]);
});

Deno.test("applyPatch() fails where the API server's applier fails, and leaves the input alone", () => {
  const doc = { a: { b: [1] } };
  const bad = [
    [{ op: "add", path: "/x/y", value: 1 }],
    [{ op: "add", path: "/a/b/2", value: 1 }],
    [{ op: "replace", path: "/a/c", value: 1 }],
    [{ op: "remove", path: "/a/b/1" }],
    [{ op: "test", path: "/a/b/0", value: 2 }],
    [{ op: "add", path: "/a/b/01", value: 1 }],
    [{ op: "nope", path: "/a" }],
  ];
  for (const patch of bad) {
    assert.throws(
      () => applyPatch(doc, patch),
      PatchError,
      JSON.stringify(patch),
    );
  }
  assert.deepEqual(doc, { a: { b: [1] } });
});
