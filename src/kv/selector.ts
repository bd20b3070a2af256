/**
 * List selectors as byte ranges, and list cursors. Cursors have Deno KV's
 * format (URL-safe base64 of the last key's bytes past the selector's common
 * prefix), so a cursor from either store resumes a list on the other.
 * @module
 */

import { compareBytes, concatBytes, startsWith } from "./bytes.ts";
import { encodeKey, type KvKey } from "./key_codec.ts";

/**
 * Which keys `list()` visits: all keys under a prefix (optionally from a start
 * or up to an end inside it), or a [start, end) range.
 *
 * @example
 * ```ts
 * import { type KvListSelector, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const recent: KvListSelector = { prefix: ["logs"], start: ["logs", 1700000000000] };
 * for await (const entry of kv.list(recent)) console.log(entry.key, entry.value);
 * await kv.close();
 * ```
 */
export type KvListSelector =
  | { prefix: KvKey }
  | { prefix: KvKey; start: KvKey }
  | { prefix: KvKey; end: KvKey }
  | { start: KvKey; end: KvKey };

/** A validated selector: its shape, checked when `list()` is called. */
export interface SelectorParts {
  prefix?: KvKey;
  start?: KvKey;
  end?: KvKey;
}

/** A selector's encoded bounds. */
export interface ByteRange {
  /** First key of the range (included). */
  start: Uint8Array;
  /** First key past the range (excluded). */
  end: Uint8Array;
  /** The bytes every key of the range starts with; cursors are relative to it. */
  common: Uint8Array;
  /** Explicit start/end keys of the selector, which a cursor may not leave. */
  lower?: Uint8Array;
  upper?: Uint8Array;
}

const own = (o: object, k: string) =>
  Object.hasOwn(o, k) && (o as Record<string, unknown>)[k] !== undefined;

/** Checks the selector's shape; throws TypeError as Deno KV's `list()` does. */
export function selectorParts(selector: KvListSelector): SelectorParts {
  const s = selector as SelectorParts;
  const hasPrefix = own(s, "prefix"), hasStart = own(s, "start"), hasEnd = own(s, "end");
  if (hasPrefix) {
    if (hasStart && hasEnd) {
      throw new TypeError(
        "Selector can not specify both 'start' and 'end' key when specifying 'prefix'",
      );
    }
    return hasStart
      ? { prefix: s.prefix, start: s.start }
      : hasEnd
      ? { prefix: s.prefix, end: s.end }
      : { prefix: s.prefix };
  }
  if (hasStart && hasEnd) return { start: s.start, end: s.end };
  throw new TypeError("Selector must specify either 'prefix' or both 'start' and 'end' key");
}

/** A selector's keys, encoded. */
export interface EncodedParts {
  prefix?: Uint8Array;
  start?: Uint8Array;
  end?: Uint8Array;
}

/** Encodes the selector's keys; throws the TypeError of a key that is not one. */
export function encodeParts(parts: SelectorParts): EncodedParts {
  const encoded: EncodedParts = {};
  for (const which of ["prefix", "start", "end"] as const) {
    const key = parts[which];
    if (key !== undefined) encoded[which] = encodeKey(key);
  }
  return encoded;
}

/** The range of encoded selector keys; throws TypeError for keys outside the prefix or reversed bounds. */
export function byteRange(parts: EncodedParts): ByteRange {
  if (parts.prefix !== undefined) {
    const prefix = parts.prefix;
    // Under a prefix, every key continues with a tag byte in [0x01, 0x27]; [0x00, 0xff) spans
    // them all, and the empty prefix never reaches the 0xff range Cask reserves for queues.
    const range: ByteRange = {
      start: concatBytes(prefix, [0]),
      end: concatBytes(prefix, [0xff]),
      common: prefix,
    };
    if (parts.start !== undefined) {
      const start = parts.start;
      if (!startsWith(start, prefix) || start.length === prefix.length) {
        throw new TypeError("Start key is not in the keyspace defined by prefix");
      }
      range.start = range.lower = start;
    }
    if (parts.end !== undefined) {
      const end = parts.end;
      if (!startsWith(end, prefix) || end.length === prefix.length) {
        throw new TypeError("End key is not in the keyspace defined by prefix");
      }
      range.end = range.upper = end;
    }
    return range;
  }
  const start = parts.start!, end = parts.end!;
  if (compareBytes(start, end) > 0) throw new TypeError("Start key is greater than end key");
  let n = 0;
  while (n < start.length && n < end.length && start[n] === end[n]) n++;
  return { start, end, common: start.slice(0, n), lower: start, upper: end };
}

/** The cursor naming `lastKey` (encoded) within `range`. */
export function encodeCursor(range: ByteRange, lastKey: Uint8Array): string {
  let bin = "";
  for (let i = range.common.length; i < lastKey.length; i++) bin += String.fromCharCode(lastKey[i]);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_");
}

/** The part of `range` still to visit after the key `cursor` names, in the given direction. */
export function resumeRange(range: ByteRange, cursor: string, reverse: boolean): ByteRange {
  let bytes: Uint8Array;
  try {
    // Padded base64url only, with zero padding bits and no whitespace, as Deno KV
    // requires (atob would also take "Jw" for "Jw==", "+" and "/", spaces, and "Jx==").
    if (!/^[A-Za-z0-9_-]*={0,2}$/.test(cursor)) throw new TypeError("not base64url");
    bytes = Uint8Array.fromBase64(cursor, { alphabet: "base64url", lastChunkHandling: "strict" });
  } catch {
    throw new TypeError("invalid cursor");
  }
  const at = concatBytes(range.common, bytes);
  const next = reverse ? { ...range, end: at } : { ...range, start: concatBytes(at, [0]) };
  if (
    (range.lower && compareBytes(next.start, range.lower) < 0) ||
    (range.upper && compareBytes(next.end, range.upper) > 0)
  ) {
    throw new TypeError("cursor out of bounds");
  }
  // Any bytes are a position, as in Deno KV, but the scan never leaves the selector's
  // own range, which ends below the records Cask keeps under 0xff (its queue).
  if (compareBytes(next.start, range.start) < 0) next.start = range.start;
  if (compareBytes(next.end, range.end) > 0) next.end = range.end;
  return next;
}
