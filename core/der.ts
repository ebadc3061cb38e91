/**
 * The few ASN.1 DER encodings an X.509 certificate needs (ITU-T X.690):
 * each function returns the whole element, tag and length included, so
 * elements nest by plain concatenation. Pure.
 */

/** Bytes over a plain ArrayBuffer, as WebCrypto takes them. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Concatenates byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * One element: `tag`, the definite length, `content`.
 *
 * @example
 * ```ts
 * import { element } from "./der.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(element(0x04, new Uint8Array(2)), new Uint8Array([4, 2, 0, 0]));
 * assert.deepEqual(element(0x04, new Uint8Array(200)).subarray(0, 3), new Uint8Array([4, 0x81, 200]));
 * ```
 */
export function element(tag: number, content: Uint8Array): Bytes {
  const n = content.length;
  let length: number[];
  if (n < 0x80) {
    length = [n];
  } else {
    const bytes: number[] = [];
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) {
      bytes.unshift(rest % 256);
    }
    length = [0x80 | bytes.length, ...bytes];
  }
  return concatBytes(new Uint8Array([tag, ...length]), content);
}

/** SEQUENCE of `items`. */
export function sequence(...items: readonly Uint8Array[]): Bytes {
  return element(0x30, concatBytes(...items));
}

/** SET of `items` (kept in the given order: callers pass one item). */
export function set(...items: readonly Uint8Array[]): Bytes {
  return element(0x31, concatBytes(...items));
}

/**
 * INTEGER from its unsigned big-endian bytes: leading zeros dropped, one
 * zero byte added when the high bit is set (so it stays positive).
 *
 * @example
 * ```ts
 * import { unsignedInteger } from "./der.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(unsignedInteger(new Uint8Array([0, 0, 0x80])), new Uint8Array([2, 2, 0, 0x80]));
 * assert.deepEqual(unsignedInteger(new Uint8Array([0])), new Uint8Array([2, 1, 0]));
 * ```
 */
export function unsignedInteger(bytes: Uint8Array): Bytes {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const content = trimmed.length === 0
    ? new Uint8Array([0])
    : (trimmed[0]! & 0x80)
    ? concatBytes(new Uint8Array([0]), trimmed)
    : trimmed;
  return element(0x02, content);
}

/** INTEGER of a small non-negative number. */
export function smallInteger(value: number): Bytes {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) {
    bytes.unshift(rest % 256);
  }
  return unsignedInteger(new Uint8Array(bytes));
}

/** BOOLEAN. */
export function boolean(value: boolean): Bytes {
  return element(0x01, new Uint8Array([value ? 0xff : 0]));
}

/**
 * OBJECT IDENTIFIER from its dotted form.
 *
 * @example
 * ```ts
 * import { objectIdentifier } from "./der.ts";
 * import assert from "node:assert/strict";
 * // ecdsa-with-SHA256
 * assert.deepEqual(
 *   objectIdentifier("1.2.840.10045.4.3.2"),
 *   new Uint8Array([6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2]),
 * );
 * ```
 */
export function objectIdentifier(dotted: string): Bytes {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [];
  const values = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  for (const value of values) {
    const chunk: number[] = [value & 0x7f];
    for (
      let rest = Math.floor(value / 128);
      rest > 0;
      rest = Math.floor(rest / 128)
    ) {
      chunk.unshift(0x80 | (rest & 0x7f));
    }
    out.push(...chunk);
  }
  return element(0x06, new Uint8Array(out));
}

/** BIT STRING of whole bytes (no unused bits). */
export function bitString(bytes: Uint8Array): Bytes {
  return element(0x03, concatBytes(new Uint8Array([0]), bytes));
}

/**
 * BIT STRING of named bits (bit 0 is the first, as X.509's KeyUsage
 * numbers them), trailing zero bits dropped as DER wants.
 *
 * @example
 * ```ts
 * import { namedBits } from "./der.ts";
 * import assert from "node:assert/strict";
 * // digitalSignature (0), keyCertSign (5), cRLSign (6)
 * assert.deepEqual(namedBits([0, 5, 6]), new Uint8Array([3, 2, 1, 0x86]));
 * ```
 */
export function namedBits(bits: readonly number[]): Bytes {
  const last = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(last / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  const unused = 7 - (last & 7);
  return element(0x03, concatBytes(new Uint8Array([unused]), bytes));
}

/** OCTET STRING. */
export function octetString(bytes: Uint8Array): Bytes {
  return element(0x04, bytes);
}

/** UTF8String. */
export function utf8String(text: string): Bytes {
  return element(0x0c, new TextEncoder().encode(text));
}

/**
 * A certificate time: UTCTime for the years 1950 to 2049, GeneralizedTime
 * otherwise (RFC 5280, 4.1.2.5), to the second, in UTC.
 *
 * @example
 * ```ts
 * import { time } from "./der.ts";
 * import assert from "node:assert/strict";
 * const text = (d: Uint8Array) => new TextDecoder().decode(d.subarray(2));
 * assert.equal(text(time(new Date("2026-01-02T03:04:05.678Z"))), "260102030405Z");
 * assert.equal(text(time(new Date("2050-01-01T00:00:00Z"))), "20500101000000Z");
 * ```
 */
export function time(date: Date): Bytes {
  const iso = date.toISOString(); // 2026-01-02T03:04:05.678Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? element(0x17, new TextEncoder().encode(digits.slice(2)))
    : element(0x18, new TextEncoder().encode(digits));
}

/** A context-specific constructed element `[n]` (EXPLICIT tagging). */
export function explicit(n: number, inner: Uint8Array): Bytes {
  return element(0xa0 | n, inner);
}

/** A context-specific primitive element `[n]` (IMPLICIT tagging of a string). */
export function implicitPrimitive(n: number, content: Uint8Array): Bytes {
  return element(0x80 | n, content);
}

/** One element read back: its tag and where its content lies in `bytes`. */
export interface DerElement {
  readonly tag: number;
  /** Offset of its tag byte. */
  readonly offset: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the content (and the element). */
  readonly end: number;
}

/**
 * Reads the element at `offset` (definite lengths only, as DER has).
 * Throws a `RangeError` when it runs past the end of `bytes`.
 *
 * @example
 * ```ts
 * import { readElement, sequence, smallInteger } from "./der.ts";
 * import assert from "node:assert/strict";
 * const bytes = sequence(smallInteger(5));
 * assert.deepEqual(readElement(bytes, 0), { tag: 0x30, offset: 0, start: 2, end: 5 });
 * assert.deepEqual(readElement(bytes, 2), { tag: 0x02, offset: 2, start: 4, end: 5 });
 * ```
 */
export function readElement(bytes: Uint8Array, offset: number): DerElement {
  const tag = bytes[offset];
  let lengthByte = bytes[offset + 1];
  if (tag === undefined || lengthByte === undefined) {
    throw new RangeError(`DER element at ${offset} runs past the end`);
  }
  let start = offset + 2;
  let length = lengthByte;
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) {
      lengthByte = bytes[start + i];
      if (lengthByte === undefined || count > 4) {
        throw new RangeError(`DER length at ${offset} is not readable`);
      }
      length = length * 256 + lengthByte;
    }
    start += count;
  }
  const end = start + length;
  if (end > bytes.length) {
    throw new RangeError(`DER element at ${offset} runs past the end`);
  }
  return { tag, offset, start, end };
}

/** The elements inside a constructed element, in order. */
export function children(bytes: Uint8Array, parent: DerElement): DerElement[] {
  const found: DerElement[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = readElement(bytes, at);
    found.push(child);
    at = child.end;
  }
  return found;
}
