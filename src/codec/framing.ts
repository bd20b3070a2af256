/**
 * How writes become records: a single write is one record; an atomic batch is
 * its records flagged FLAG_BATCH followed by a commit record whose value is the
 * u32 count of the batch's records. Every record of one commit carries the
 * commit's sequence number. Recovery counts a batch only when its commit record
 * follows with the right count. Encoding and reading that framing both live
 * here.
 * @module
 */

import type { WriteOp } from "../base/types.ts";
import { encodeRecord, type RecordFormat, type RecordHeader, recordSize } from "./codec.ts";
import { FLAG_BATCH, FLAG_COMMIT, FLAG_RANGE, FLAG_TOMBSTONE } from "./format.ts";

const EMPTY = new Uint8Array(0);
const COMMIT_VALUE = 4;

/** Bytes `ops` take in the log, batch framing included when `batch`. */
export function framedSize(fmt: RecordFormat, ops: readonly WriteOp[], batch: boolean): number {
  let n = batch ? recordSize(fmt, 0, COMMIT_VALUE) : 0;
  for (const o of ops) n += recordSize(fmt, o.kb.length, o.vb.length);
  return n;
}

/**
 * Encodes `ops` at out[at...] as commit `seq`, one batch when `batch`, all
 * stamped `timestamp`; returns the end offset. Room must have been reserved
 * with {@link framedSize}.
 */
export function encodeOps(
  fmt: RecordFormat,
  out: Uint8Array,
  at: number,
  ops: readonly WriteOp[],
  timestamp: number,
  seq: number,
  batch: boolean,
): number {
  const member = batch ? FLAG_BATCH : 0;
  for (const o of ops) {
    const flags = member | (o.tombstone ? FLAG_TOMBSTONE : 0) | (o.range ? FLAG_RANGE : 0);
    at = encodeRecord(fmt, out, at, flags, timestamp, o.expireAt, seq, o.kb, o.vb);
  }
  if (!batch) return at;
  const count = new Uint8Array(COMMIT_VALUE);
  new DataView(count.buffer).setUint32(0, ops.length, true);
  return encodeRecord(fmt, out, at, FLAG_COMMIT, timestamp, 0, seq, EMPTY, count);
}

/** The member count a commit record at buf[at] (header `h`) declares, or -1 when malformed. */
export function commitCount(
  fmt: RecordFormat,
  buf: Uint8Array,
  at: number,
  h: RecordHeader,
): number {
  if (h.valueLen !== COMMIT_VALUE || h.keyLen !== 0) return -1;
  const p = at + fmt.headerSize;
  return (buf[p] | buf[p + 1] << 8 | buf[p + 2] << 16 | buf[p + 3] << 24) >>> 0;
}
