/**
 * File names as text. A Linux file name is bytes, usually UTF-8 but not
 * always (a directory made by a Latin-1 shell, say). kcm carries names as
 * strings the way Python 3, and so the original tool, did
 * ("surrogateescape"): UTF-8 where the bytes are valid UTF-8, and each
 * byte that is not part of a valid sequence as the lone surrogate
 * U+DC80-U+DCFF of the same low byte (`caf\xe9` is `"caf\udce9"`). Every
 * name therefore round-trips to its exact bytes, sorts as Python sorted
 * it, and prints in JSON as `\udce9`, as the reference printed it. Pure.
 */

const strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** A lone surrogate U+DC80-U+DCFF: one undecodable byte of a name. */
const RAW_BYTE = /[\udc80-\udcff]/u;

/**
 * True when `text` carries a byte that is not UTF-8 (a lone surrogate
 * U+DC80-U+DCFF): such a path cannot be handed to Deno's file API.
 *
 * @example
 * ```ts
 * import { hasRawBytes } from "./file_names.ts";
 * import assert from "node:assert/strict";
 * assert.equal(hasRawBytes("caf\udce9"), true);
 * assert.equal(hasRawBytes("café 😀"), false);
 * ```
 */
export function hasRawBytes(text: string): boolean {
  return RAW_BYTE.test(text);
}

/** The length of the valid UTF-8 sequence at `i`, or 0 where none starts. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i]!;
  let length: number, low = 0x80, high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0; // no overlong forms
    if (lead === 0xed) high = 0x9f; // no UTF-16 surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90; // no overlong forms
    if (lead === 0xf4) high = 0x8f; // nothing above U+10FFFF
  } else return 0;
  if (i + length > bytes.length) return 0;
  const second = bytes[i + 1]!;
  if (second < low || second > high) return 0;
  for (let k = 2; k < length; k++) {
    const next = bytes[i + k]!;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}

/**
 * Decodes a file name: valid UTF-8 as text, every other byte as U+DC00
 * plus that byte (Python's `os.fsdecode` on a UTF-8 system).
 *
 * @example
 * ```ts
 * import { decodeFileName } from "./file_names.ts";
 * import assert from "node:assert/strict";
 * assert.equal(decodeFileName(new Uint8Array([0x63, 0x61, 0x66, 0xe9])), "caf\udce9");
 * assert.equal(decodeFileName(new Uint8Array([0xe2, 0x82, 0xac])), "€");
 * ```
 */
export function decodeFileName(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    // Not UTF-8 throughout: decode byte by byte below.
  }
  let text = "";
  let start = 0; // the start of the valid run not yet decoded
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i]! < 0x80) {
      i++;
      continue;
    }
    const length = sequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    text += strict.decode(bytes.subarray(start, i)) +
      String.fromCharCode(0xdc00 + bytes[i]!);
    start = ++i;
  }
  return text + strict.decode(bytes.subarray(start));
}

/**
 * Encodes a file name back to its bytes: the inverse of
 * {@linkcode decodeFileName}. Throws a `RangeError` for a lone surrogate
 * that no byte decodes to (U+D800-U+DC7F, U+DD00-U+DFFF).
 *
 * @example
 * ```ts
 * import { encodeFileName } from "./file_names.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(encodeFileName("caf\udce9"), new Uint8Array([0x63, 0x61, 0x66, 0xe9]));
 * ```
 */
export function encodeFileName(name: string): Uint8Array {
  if (!/\p{Cs}/u.test(name)) return encoder.encode(name);
  const parts: Uint8Array[] = [];
  let run = "";
  for (const char of name) {
    const unit = char.charCodeAt(0);
    if (char.length === 2 || unit < 0xd800 || unit > 0xdfff) {
      run += char;
      continue;
    }
    if (unit < 0xdc80 || unit > 0xdcff) {
      throw new RangeError(
        `Cannot encode a file name holding the lone surrogate U+${
          unit.toString(16).toUpperCase()
        }`,
      );
    }
    parts.push(encoder.encode(run), Uint8Array.of(unit - 0xdc00));
    run = "";
  }
  parts.push(encoder.encode(run));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}
