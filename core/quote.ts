/**
 * Quoting input in messages. An error or a log line is one line, whatever
 * a name, a path or a file's content holds, so every message that shows a
 * value passes it through {@linkcode quote} (or, where the reference's
 * wording shows it bare, {@linkcode oneLine}). Pure.
 *
 * What is escaped: `\n`, `\r` and `\t` by name; every other control
 * character (C0, DEL, C1), the Unicode line and paragraph separators, and
 * every lone surrogate as `\uXXXX`. A byte of a file name that is not UTF-8
 * is such a surrogate (core/file_names.ts), so `caf\xe9` shows as
 * `caf\udce9`, as Python printed it. Everything else, non-ASCII letters
 * included, is shown as is.
 */

const SHORT: Readonly<Record<string, string>> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\\": "\\\\",
  '"': '\\"',
};

// With the u flag, \p{Cs} matches a surrogate only where it is not half of
// a pair: a character above U+FFFF is one code point, and left alone.
const CONTROL = /[\p{Cc}\u2028\u2029]|\p{Cs}/gu;
const CONTROL_OR_QUOTE = /[\p{Cc}\u2028\u2029"\\]|\p{Cs}/gu;

function escape(char: string): string {
  return SHORT[char] ??
    "\\u" + char.charCodeAt(0).toString(16).padStart(4, "0");
}

/**
 * `text` with every control character, line separator and lone surrogate
 * escaped, so that it prints on one line. Backslashes and quotes are left
 * as they are: this is for text shown bare, and for a message as a whole.
 *
 * @example
 * ```ts
 * import { oneLine } from "./quote.ts";
 * import assert from "node:assert/strict";
 * assert.equal(oneLine("a\nb\u001b[31m"), "a\\nb\\u001b[31m");
 * assert.equal(oneLine("caf\udce9 é"), "caf\\udce9 é");
 * ```
 */
export function oneLine(text: string): string {
  return text.replace(CONTROL, escape);
}

/**
 * `value` in double quotes, for a message: quotes and backslashes inside
 * escaped with a backslash, control characters as {@linkcode oneLine}
 * does, so the value reads back unambiguously. A value that is not a
 * string is shown as `String(value)` shows it.
 *
 * @example
 * ```ts
 * import { quote } from "./quote.ts";
 * import assert from "node:assert/strict";
 * assert.equal(quote("1\n2"), '"1\\n2"');
 * assert.equal(quote('say "hi"'), '"say \\"hi\\""');
 * ```
 */
export function quote(value: unknown): string {
  return `"${String(value).replace(CONTROL_OR_QUOTE, escape)}"`;
}

/**
 * {@linkcode quote} of `value` cut to its first `max` characters, marked
 * with `...`: for values a user wrote that may be long (a command line, an
 * annotation), shown in a message that must stay short.
 *
 * @example
 * ```ts
 * import { quoteShort } from "./quote.ts";
 * import assert from "node:assert/strict";
 * assert.equal(quoteShort("x".repeat(70), 4), '"xxxx..."');
 * assert.equal(quoteShort("a\nb"), '"a\\nb"');
 * ```
 */
export function quoteShort(value: string, max = 60): string {
  return quote(value.length > max ? `${value.slice(0, max)}...` : value);
}
