/**
 * KV keys (tuples of typed parts) to bytes and back. The layout is the
 * FoundationDB tuple layout Deno KV uses, so comparing encoded keys as
 * unsigned bytes gives Deno KV's key order: bytes < strings < bigints <
 * numbers < false < true, then by value within a type.
 * @module
 */

import { isSerdeArray, serdeError, sliceError } from "./serde.ts";

/**
 * One part of a {@link KvKey}. A `symbol` is accepted only by the type, for
 * `Deno.Kv` compatibility (`commitVersionstamp()`); Cask rejects it at commit.
 *
 * @example
 * ```ts
 * import type { KvKeyPart } from "@cask/cask";
 * const parts: KvKeyPart[] = ["users", 42, 7n, true, new Uint8Array([1])];
 * ```
 */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean | symbol;

/**
 * What `commitVersionstamp()` returns: one symbol for every store, as in Deno
 * KV. Cask refuses keys that use it; any other symbol is an invalid part.
 */
export const COMMIT_VERSIONSTAMP: unique symbol = Symbol("KvCommitVersionstamp");

/** Deno KV's words for a bigint key part past 255 bytes (its error also has code EINVAL). */
export const BIG_UINT = "BigUint requires more than 255 bytes to be represented";

/**
 * A key: a tuple of parts, ordered part by part.
 *
 * @example
 * ```ts
 * import { type KvKey, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const key: KvKey = ["users", "ada"];
 * await kv.set(key, { name: "Ada" });
 * await kv.close();
 * ```
 */
export type KvKey = readonly KvKeyPart[];

const BYTES = 0x01;
const STRING = 0x02;
const NEG_INT_LONG = 0x0b;
const INT_ZERO = 0x14;
const POS_INT_LONG = 0x1d;
const DOUBLE = 0x21;
const FALSE = 0x26;
const TRUE = 0x27;
/** Integers of up to this many bytes carry their length in the tag. */
const SHORT_INT = 8;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const f64 = new DataView(new ArrayBuffer(8));

/** Accumulates encoded bytes without a copy per part. */
class ByteSink {
  buf = new Uint8Array(64);
  len = 0;
  push(b: number): void {
    if (this.len === this.buf.length) this.grow(1);
    this.buf[this.len++] = b;
  }
  pushAll(bytes: Uint8Array): void {
    if (this.len + bytes.length > this.buf.length) this.grow(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }
  grow(need: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + need));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Writes `data` with each 0x00 escaped as 0x00 0xff, then the 0x00 terminator. */
function pushEscaped(out: ByteSink, data: Uint8Array): void {
  if (data.indexOf(0) < 0) out.pushAll(data);
  else {
    for (const b of data) {
      out.push(b);
      if (b === 0) out.push(0xff);
    }
  }
  out.push(0);
}

/** Big-endian magnitude bytes of a non-zero bigint. */
function magnitudeBytes(n: bigint): Uint8Array {
  let hex = (n < 0n ? -n : n).toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function pushBigInt(out: ByteSink, n: bigint): void {
  if (n === 0n) return out.push(INT_ZERO);
  const mag = magnitudeBytes(n);
  if (mag.length > 255) {
    throw Object.assign(new TypeError(BIG_UINT), { code: "EINVAL" });
  }
  if (n > 0n) {
    if (mag.length <= SHORT_INT) out.push(INT_ZERO + mag.length);
    else out.push(POS_INT_LONG), out.push(mag.length);
    return out.pushAll(mag);
  }
  // Negative: ones' complement, so larger magnitudes sort first.
  if (mag.length <= SHORT_INT) out.push(INT_ZERO - mag.length);
  else out.push(NEG_INT_LONG), out.push(mag.length ^ 0xff);
  for (let i = 0; i < mag.length; i++) mag[i] ^= 0xff;
  out.pushAll(mag);
}

function pushDouble(out: ByteSink, x: number): void {
  // One NaN bit pattern, as Deno KV canonicalizes (all NaNs are one key).
  f64.setFloat64(0, Number.isNaN(x) ? NaN : x);
  const negative = (f64.getUint8(0) & 0x80) !== 0;
  out.push(DOUBLE);
  for (let i = 0; i < 8; i++) {
    const b = f64.getUint8(i);
    // Negative: flip all bits so they sort reversed and below positives; positive: flip the sign bit.
    out.push(negative ? b ^ 0xff : i === 0 ? b ^ 0x80 : b);
  }
}

function pushPart(out: ByteSink, part: unknown): void {
  switch (typeof part) {
    case "string":
      out.push(STRING);
      return pushEscaped(out, utf8.encode(part));
    case "number":
      return pushDouble(out, part);
    case "bigint":
      return pushBigInt(out, part);
    case "boolean":
      return out.push(part ? TRUE : FALSE);
    case "symbol":
      if (part === COMMIT_VERSIONSTAMP) {
        throw new TypeError("Cask does not support commitVersionstamp() key parts");
      }
  }
  if (ArrayBuffer.isView(part)) {
    checkPartShape(part);
    out.push(BYTES);
    // A view of a transferred buffer is empty bytes to Deno KV; no view can be made on it.
    const bytes = (part.buffer as ArrayBuffer).detached
      ? new Uint8Array(0)
      : new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
    return pushEscaped(out, bytes);
  }
  throw new TypeError(PART_TYPES);
}

const PART_TYPES = "expected string, number, bigint, ArrayBufferView, boolean";

// Throws what Deno KV throws as it reads a key part of no key type, or bytes it
// takes no slice of (a shared or resizable buffer's, as it refuses for a value).
function checkPartShape(part: unknown): void {
  const t = typeof part;
  if (t === "string" || t === "number" || t === "bigint" || t === "boolean") return;
  if (part === COMMIT_VERSIONSTAMP) return;
  if (!ArrayBuffer.isView(part)) throw new TypeError(PART_TYPES);
  const refused = sliceError(part);
  if (refused) throw refused;
}

/**
 * Throws what Deno KV throws as it reads a key argument (not an array, a part of
 * no key type, unsliceable bytes), without encoding it: a commit reads every
 * key so before it judges stamps, expiries and the keys' encodings.
 */
export function checkKeyShape(key: unknown): void {
  if (!isSerdeArray(key)) throw serdeError("array", key);
  for (const part of key) checkPartShape(part);
}

/** The bytes of `key`; throws TypeError for a non-array or an invalid part, as Deno KV does. */
export function encodeKey(key: KvKey): Uint8Array {
  if (!isSerdeArray(key)) throw serdeError("array", key);
  const out = new ByteSink();
  for (const part of key) pushPart(out, part);
  return out.bytes();
}

/** The bytes of a key that is written: it may not be empty. */
export function encodeWriteKey(key: KvKey): Uint8Array {
  const bytes = encodeKey(key);
  if (bytes.length === 0) throw new TypeError("key cannot be empty");
  return bytes;
}

/** Reads an escaped, 0x00-terminated run from `at`; returns the data and the index past it. */
function readEscaped(b: Uint8Array, at: number): [Uint8Array, number] {
  const end = b.indexOf(0, at);
  // Common case: no escaped zero inside, so the run is one slice.
  if (end >= 0 && b[end + 1] !== 0xff) return [b.slice(at, end), end + 1];
  const out: number[] = [];
  for (let i = at; i < b.length; i++) {
    if (b[i] !== 0) out.push(b[i]);
    else if (b[i + 1] === 0xff) out.push(0), i++;
    else return [new Uint8Array(out), i + 1];
  }
  throw new RangeError("truncated key");
}

function readBigInt(b: Uint8Array, at: number, tag: number): [bigint, number] {
  let len: number;
  let negative: boolean;
  if (tag === POS_INT_LONG) len = b[at++], negative = false;
  else if (tag === NEG_INT_LONG) len = b[at++] ^ 0xff, negative = true;
  else len = Math.abs(tag - INT_ZERO), negative = tag < INT_ZERO;
  if (at + len > b.length) throw new RangeError("truncated key");
  let hex = "0";
  for (let i = 0; i < len; i++) {
    hex += ((negative ? b[at + i] ^ 0xff : b[at + i]) | 0x100).toString(16).slice(1);
  }
  const mag = BigInt("0x" + hex);
  return [negative ? -mag : mag, at + len];
}

function readDouble(b: Uint8Array, at: number): [number, number] {
  if (at + 8 > b.length) throw new RangeError("truncated key");
  const positive = (b[at] & 0x80) !== 0;
  for (let i = 0; i < 8; i++) {
    f64.setUint8(i, positive ? (i === 0 ? b[at] ^ 0x80 : b[at + i]) : b[at + i] ^ 0xff);
  }
  return [f64.getFloat64(0), at + 8];
}

/** UTF-8 text of `data`; short ASCII (most key parts) skips the decoder's runtime call. */
function decodeUtf8(data: Uint8Array): string {
  if (data.length <= 32) {
    let s = "";
    for (const b of data) {
      if (b >= 0x80) return utf8Strict.decode(data);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return utf8Strict.decode(data);
}

/** The key tuple encoded in `bytes`; throws RangeError for bytes no key encodes to. */
export function decodeKey(bytes: Uint8Array): KvKeyPart[] {
  const key: KvKeyPart[] = [];
  let at = 0;
  while (at < bytes.length) {
    const tag = bytes[at++];
    if (tag === BYTES) {
      const [data, next] = readEscaped(bytes, at);
      key.push(data), at = next;
    } else if (tag === STRING) {
      const [data, next] = readEscaped(bytes, at);
      key.push(decodeUtf8(data)), at = next;
    } else if (tag >= NEG_INT_LONG && tag <= POS_INT_LONG) {
      const [n, next] = readBigInt(bytes, at, tag);
      key.push(n), at = next;
    } else if (tag === DOUBLE) {
      const [x, next] = readDouble(bytes, at);
      key.push(x), at = next;
    } else if (tag === FALSE || tag === TRUE) key.push(tag === TRUE);
    else throw new RangeError(`invalid key tag 0x${tag.toString(16)}`);
  }
  return key;
}
