/**
 * The JSON writer for every document kcm prints, in the layout the 2017
 * tool produced with Python's `json.dumps(obj, sort_keys=True, indent=2)`:
 * keys sorted by code point at every level, two-space indent, `": "` between
 * key and value, everything outside printable ASCII escaped as `\uXXXX`
 * (DEL included), and one trailing newline. Pure.
 *
 * The writer walks the value itself instead of re-building sorted objects
 * for `JSON.stringify`: a JavaScript object lists integer-like keys
 * (`"8"`, `"10"`) first and in numeric order whatever order they were
 * inserted in, which is not the string order the reference printed
 * (`"10" < "100" < "8"`).
 */

/** A value that {@linkcode formatJson} can write. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

function isHigh(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLow(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * Orders two strings by Unicode code point, as Python compares `str`.
 * Plain `<` compares UTF-16 code units, which differs only when a
 * character above U+FFFF meets one in U+E000-U+FFFF.
 *
 * @example
 * ```ts
 * import { compareCodePoints } from "./json.ts";
 * import assert from "node:assert/strict";
 * assert.ok(compareCodePoints("\uffff", "😀") < 0); // "<" says the opposite
 * assert.ok(compareCodePoints("10", "8") < 0);
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a.charCodeAt(i) === b.charCodeAt(i)) continue;
    if (i > 0 && isHigh(a.charCodeAt(i - 1))) {
      // Both strings share a high surrogate at i - 1: where it pairs with
      // a low one it is a character above U+FFFF, which outranks the lone
      // high surrogate; two pairs rank by their low halves.
      const pairA = isLow(a.charCodeAt(i)), pairB = isLow(b.charCodeAt(i));
      if (pairA !== pairB) return pairA ? 1 : -1;
      if (pairA) return a.charCodeAt(i) - b.charCodeAt(i);
    }
    // codePointAt reads a whole pair where one starts, a lone surrogate
    // or any other unit as itself.
    return a.codePointAt(i)! - b.codePointAt(i)!;
  }
  return a.length - b.length;
}

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

// deno-lint-ignore no-control-regex -- control characters are what it escapes
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\u007f-\uffff]/g;

/**
 * A JSON string literal with Python's `ensure_ascii` escaping: `"` and `\`,
 * the short escapes for control characters that have one, and `\uXXXX`
 * (lower-case hex, surrogate pairs above U+FFFF) for every other character
 * outside U+0020-U+007E.
 */
export function quoteJsonString(text: string): string {
  return `"${
    text.replace(NEEDS_ESCAPE, (c) =>
      ESCAPES[c] ?? "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"))
  }"`;
}

function write(value: JsonValue, indent: string, out: string[]): void {
  if (value === null || typeof value === "boolean") {
    out.push(String(value));
  } else if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new RangeError(`Cannot write ${value} as JSON`);
    }
    out.push(JSON.stringify(value));
  } else if (typeof value === "string") {
    out.push(quoteJsonString(value));
  } else if (Array.isArray(value)) {
    const items = value as readonly JsonValue[];
    if (items.length === 0) {
      out.push("[]");
      return;
    }
    const inner = indent + "  ";
    out.push("[");
    items.forEach((item, i) => {
      out.push(i === 0 ? "\n" : ",\n", inner);
      write(item, inner, out);
    });
    out.push("\n", indent, "]");
  } else {
    const record = value as { readonly [key: string]: JsonValue };
    const keys = Object.keys(record).sort(compareCodePoints);
    if (keys.length === 0) {
      out.push("{}");
      return;
    }
    const inner = indent + "  ";
    out.push("{");
    keys.forEach((key, i) => {
      out.push(i === 0 ? "\n" : ",\n", inner, quoteJsonString(key), ": ");
      write(record[key]!, inner, out);
    });
    out.push("\n", indent, "}");
  }
}

/**
 * Formats a value as kcm's canonical JSON document, newline included.
 *
 * @example
 * ```ts
 * import { formatJson } from "./json.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatJson({ b: [], a: "é" }), '{\n  "a": "\\u00e9",\n  "b": []\n}\n');
 * assert.equal(formatJson({ "8": 1, "10": 2 }), '{\n  "10": 2,\n  "8": 1\n}\n');
 * ```
 */
export function formatJson(value: JsonValue): string {
  const out: string[] = [];
  write(value, "", out);
  out.push("\n");
  return out.join("");
}
