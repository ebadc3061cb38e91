/**
 * JSON Patch (RFC 6902) operations as plain data, and JSON Pointer
 * (RFC 6901) paths built from raw segments. Pure.
 */

/** One RFC 6902 operation of the kinds the webhook emits. */
export type PatchOperation =
  | { readonly op: "add"; readonly path: string; readonly value: unknown }
  | { readonly op: "replace"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string };

/**
 * A JSON Pointer from raw segments: each one escaped (`~` → `~0`, `/` →
 * `~1`) and prefixed with `/`; numbers are array indexes.
 *
 * @example
 * ```ts
 * import { pointer } from "./json_patch.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   pointer("spec", "nodeSelector", "kcm.intel.com/kcm-node"),
 *   "/spec/nodeSelector/kcm.intel.com~1kcm-node",
 * );
 * assert.equal(pointer("a~b", 0, "-"), "/a~0b/0/-");
 * ```
 */
export function pointer(...segments: readonly (string | number)[]): string {
  let path = "";
  for (const segment of segments) {
    path += "/" +
      String(segment).replaceAll("~", "~0").replaceAll("/", "~1");
  }
  return path;
}
