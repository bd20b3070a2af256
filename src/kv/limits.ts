/**
 * Cask's key and value size limits, enforced by the KV layer before a commit
 * reaches the store, with Deno KV's error class and message shape (TypeError,
 * "... too large ... (max N bytes)") but Cask's numbers. Sizes are the
 * user's: the encoded key as Deno KV counts it, the value without the tag byte
 * the store keeps in front of it.
 * @module
 */

/** The store's `maxKeySize` and `maxValueSize`. */
export interface KvLimits {
  maxKeySize: number;
  maxValueSize: number;
}

/** Throws unless a written (or checked) key of `bytes` fits the store. */
export function checkWriteKey(limits: KvLimits, bytes: Uint8Array): void {
  if (bytes.length > limits.maxKeySize) {
    throw new TypeError(`Key too large for write (max ${limits.maxKeySize} bytes)`);
  }
}

/**
 * Throws for a read whose range has a bound longer than any key that can be
 * written plus one byte: Deno KV checks its read limit (its write limit plus
 * one) on the bounds of the range read. So a `get` of a key (the range from
 * it to it and a zero byte) takes keys up to the write limit, a `watch` (of the
 * key itself) one byte more, and a `list` its prefix up to the write limit
 * (the prefix and one byte bound it) and its start and end one byte more.
 */
export function checkReadBound(limits: KvLimits, bytes: number): void {
  const max = limits.maxKeySize + 1;
  if (bytes > max) throw new TypeError(`Key too large for read (max ${max} bytes)`);
}

/** Throws unless a value stored as `stored` (tag byte first) fits the store. */
export function checkValue(limits: KvLimits, stored: Uint8Array): void {
  if (stored.length > limits.maxValueSize) {
    throw new TypeError(`Value too large (max ${limits.maxValueSize - 1} bytes)`);
  }
}

/**
 * Throws unless a queued message fits: it is stored in one record with its
 * delivery state, so the room left for the message (`payload`, tag byte
 * first) is what that state leaves of `maxValueSize`.
 */
export function checkQueueRecord(limits: KvLimits, record: Uint8Array, payload: Uint8Array): void {
  if (record.length > limits.maxValueSize) {
    const room = limits.maxValueSize - (record.length - payload.length) - 1;
    throw new TypeError(`enqueue payload too large (max ${Math.max(0, room)} bytes)`);
  }
}
