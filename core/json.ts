/**
 * The JSON writer for every document kcm prints: keys sorted by code point
 * at every level, two-space indent, non-ASCII escaped as `\uXXXX`, and one
 * trailing newline, the layout of Python's
 * `json.dumps(obj, sort_keys=True, indent=2)` that the reference printed.
 */

/** A value that {@linkcode formatJson} can write. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

function compareCodePoints(a: string, b: string): number {
  // Plain `<` compares UTF-16 code units, which differs from code point
  // order only above U+FFFF; spread into code points to be exact.
  if (a === b) return 0;
  const ca = [...a], cb = [...b];
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i++) {
    const x = ca[i]!.codePointAt(0)!, y = cb[i]!.codePointAt(0)!;
    if (x !== y) return x - y;
  }
  return ca.length - cb.length;
}

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, JsonValue> = {};
    const record = value as { readonly [key: string]: JsonValue };
    for (const key of Object.keys(record).sort(compareCodePoints)) {
      out[key] = sortKeys(record[key]!);
    }
    return out;
  }
  return value;
}

/**
 * Formats a value as kcm's canonical JSON document, newline included.
 *
 * @example
 * ```ts
 * import { formatJson } from "./json.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatJson({ b: [], a: "é" }), '{\n  "a": "\\u00e9",\n  "b": []\n}\n');
 * ```
 */
export function formatJson(value: JsonValue): string {
  const text = JSON.stringify(sortKeys(value), null, 2);
  return text.replace(
    /[\u0080-\uffff]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  ) + "\n";
}
