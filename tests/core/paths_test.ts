import assert from "node:assert/strict";
import * as posix from "node:path/posix";
import {
  baseName,
  dirName,
  joinPath,
  normalizePath,
} from "../../core/paths.ts";

const SAMPLES = [
  "/",
  "/etc/kcm",
  "/etc/kcm/",
  "etc//kcm",
  "a",
  "a/b/c/",
  "/a",
  "./x",
  "x/..",
  "/..",
  "../a/..",
  "/etc/./kcm/../kcm2/",
  "//double//slash",
];

Deno.test("dirName() and baseName() agree with node:path", () => {
  for (const path of SAMPLES) {
    assert.equal(dirName(path), posix.dirname(path), `dirname ${path}`);
    assert.equal(baseName(path), posix.basename(path), `basename ${path}`);
  }
});

Deno.test("normalizePath() agrees with node:path less the trailing slash", () => {
  for (const path of SAMPLES) {
    let expected = posix.normalize(path);
    if (expected.length > 1 && expected.endsWith("/")) {
      expected = expected.slice(0, -1);
    }
    assert.equal(normalizePath(path), expected, path);
  }
  assert.equal(normalizePath(""), ".");
});

Deno.test("joinPath() joins and collapses slashes", () => {
  assert.equal(
    joinPath("/etc/kcm", "pools", "a", "tasks"),
    "/etc/kcm/pools/a/tasks",
  );
  assert.equal(joinPath("/etc/kcm/", "/pools"), "/etc/kcm/pools");
  assert.equal(joinPath("rel", "x"), "rel/x");
  assert.equal(joinPath("/", "proc"), "/proc");
});
