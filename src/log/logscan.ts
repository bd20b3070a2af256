/**
 * Walks the records of a data file in order, in large chunks through the wasm
 * bulk scanner. Recovery and verification both read logs this way and
 * differ only in what they do with records and with damage.
 * @module
 */

import {
  readHeader,
  type RecordHeader,
  recordSize,
  scanRecords,
  scratch,
  verifyRecord,
} from "../codec/codec.ts";
import { FILE_HEADER_SIZE, HEADER_SIZE } from "../codec/format.ts";
import { readFullAt } from "./fsutil.ts";

const CHUNK = 4 * 1024 * 1024;

/**
 * Called for each valid record at file offset `offset`. Its bytes are
 * buf[at, at + recordSize): valid only during the call.
 */
export type RecordVisitor = (offset: number, h: RecordHeader, buf: Uint8Array, at: number) => void;

/**
 * Called where records stop being valid at `offset`; `next` is the offset of the
 * next valid record after it, or -1 when nothing valid follows (a torn tail in
 * the newest file). Return true to continue at `next`, false to stop there.
 */
export type DamageHandler = (offset: number, next: number) => boolean | Promise<boolean>;

/** Walks the records of file descriptor `fd` (`size` bytes) after the file header; returns where the walk ended. */
export async function walkLog(
  fd: number,
  size: number,
  visit: RecordVisitor,
  onDamage: DamageHandler,
): Promise<number> {
  let pos = FILE_HEADER_SIZE;
  let want = CHUNK;
  while (pos < size) {
    const len = Math.min(want, size - pos);
    const buf = len <= CHUNK ? scratch(len).subarray(0, len) : new Uint8Array(len);
    readFullAt(fd, pos, buf);
    const base = pos;
    const res = scanRecords(buf, 0, (at, h) => visit(base + at, h, buf, at));
    pos = base + res.end;
    want = CHUNK;
    if (res.status === "end") continue;
    if (res.status === "partial" && pos + res.need <= size) {
      // The record is whole on disk but did not fit this read: read it alone.
      want = Math.max(res.need, CHUNK);
      continue;
    }
    const next = findNextRecord(fd, pos + 1, size);
    if (!(await onDamage(pos, next)) || next < 0) return pos;
    pos = next;
  }
  return pos;
}

// The offset of the first valid record at or after `from`, or -1. Slow, but it
// only runs where a log is damaged, and it is what tells damage in the middle
// of a log (valid records follow) from a torn tail (nothing valid follows).
function findNextRecord(fd: number, from: number, size: number): number {
  const h: RecordHeader = { flags: 0, keyLen: 0, valueLen: 0, timestamp: 0, expireAt: 0 };
  for (let base = from; base < size; base += CHUNK) {
    const buf = new Uint8Array(Math.min(CHUNK + HEADER_SIZE, size - base));
    readFullAt(fd, base, buf);
    const stop = Math.min(CHUNK, buf.length);
    for (let at = 0; at < stop; at++) {
      if (!readHeader(buf, at, h)) continue;
      const n = recordSize(h.keyLen, h.valueLen);
      if (base + at + n > size) continue;
      const rec = new Uint8Array(n);
      readFullAt(fd, base + at, rec);
      if (verifyRecord(rec, 0, h)) return base + at;
    }
  }
  return -1;
}
