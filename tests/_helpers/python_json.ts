/**
 * An independent model of what the reference printed for a JSON document:
 * Python's `json.dumps(obj, sort_keys=True, indent=2)` (ensure_ascii on),
 * written from Python's rules, not from core/json.ts. Code points, not
 * UTF-16 units, are the unit of both escaping and key order; a dict is a
 * Map (or a plain object's own entries), so no key is special.
 */

/** A Python value as the model sees it. */
export type PyValue =
  | null
  | boolean
  | number
  | string
  | readonly PyValue[]
  | ReadonlyMap<string, PyValue>
  | { readonly [key: string]: PyValue };

const SHORT: Readonly<Record<number, string>> = {
  0x22: '\\"',
  0x5c: "\\\\",
  0x0a: "\\n",
  0x0d: "\\r",
  0x09: "\\t",
  0x08: "\\b",
  0x0c: "\\f",
};

function hex(unit: number): string {
  return "\\u" + unit.toString(16).padStart(4, "0");
}

/**
 * A string as Python's ensure_ascii writes it: printable ASCII as is,
 * the short escapes, every other code point up to U+FFFF (a lone surrogate
 * included) as `\uXXXX`, above U+FFFF as a surrogate pair.
 */
export function pythonString(text: string): string {
  let out = '"';
  for (const char of text) { // by code point; a lone surrogate alone
    const cp = char.codePointAt(0)!;
    if (SHORT[cp] !== undefined) out += SHORT[cp];
    else if (cp >= 0x20 && cp <= 0x7e) out += char;
    else if (cp <= 0xffff) out += hex(cp);
    else {
      const v = cp - 0x10000;
      out += hex(0xd800 + (v >> 10)) + hex(0xdc00 + (v & 0x3ff));
    }
  }
  return out + '"';
}

/** Python's `str` order: code point by code point. */
export function pythonCompare(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

function entriesOf(
  value: ReadonlyMap<string, PyValue> | { readonly [key: string]: PyValue },
): [string, PyValue][] {
  return value instanceof Map ? [...value] : Object.entries(value);
}

function dumps(value: PyValue, indent: string): string {
  if (typeof value === "string") return pythonString(value);
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return String(value);
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return "[\n" +
      value.map((v) => inner + dumps(v, inner)).join(",\n") +
      "\n" + indent + "]";
  }
  const entries = entriesOf(value as ReadonlyMap<string, PyValue>)
    .sort(([a], [b]) => pythonCompare(a, b));
  if (entries.length === 0) return "{}";
  return "{\n" +
    entries.map(([k, v]) => inner + pythonString(k) + ": " + dumps(v, inner))
      .join(",\n") +
    "\n" + indent + "}";
}

/** What Python's `print(json.dumps(value, sort_keys=True, indent=2))` prints. */
export function pythonJsonDumps(value: PyValue): string {
  return dumps(value, "") + "\n";
}
