/**
 * Walks the records of a data file in order, in large chunks through the wasm
 * bulk scanner. Recovery and verification both read logs this way and
 * differ only in what they do with records and with damage.
 * @module
 */

import {
  emptyHeader,
  readHeader,
  type RecordFormat,
  type RecordHeader,
  recordSize,
  scanRecords,
  scratch,
  verifyRecord,
} from "../codec/codec.ts";
import { RecordCrc } from "../codec/stream_record.ts";
import { readFullAt } from "./fsutil.ts";

const CHUNK = 4 * 1024 * 1024;
// Records above this are verified in chunks rather than read whole.
const LARGE_RECORD = 64 * 1024 * 1024;

/**
 * Called for each valid record at file offset `offset`. Its bytes are
 * buf[at, at + recordSize): valid only during the call.
 */
export type RecordVisitor = (offset: number, h: RecordHeader, buf: Uint8Array, at: number) => void;

/**
 * Called where records stop being valid at `offset`; `next` is the offset of the
 * next record the walk can prove is the file's own, or -1 when there is none (a
 * torn tail in the newest file). Return true to continue at `next`, false to
 * stop there.
 */
export type DamageHandler = (offset: number, next: number) => boolean | Promise<boolean>;

/** Where a log is walked: the file, its size, its record format and where records start. */
export interface LogFile {
  fd: number;
  size: number;
  fmt: RecordFormat;
  start: number;
  /**
   * Whether a record is the file's own: a checksum that holds under the file's
   * salt is necessary, and this can ask more (for example, a sequence number
   * that continues the log). A record it refuses is damage, where the walk
   * meets it and when it looks for a record to go on from past damage.
   */
  owns?: (h: RecordHeader) => boolean;
}

/** Walks the records of `log`; returns where the walk ended. */
export async function walkLog(
  log: LogFile,
  visit: RecordVisitor,
  onDamage: DamageHandler,
): Promise<number> {
  const { fd, size, fmt } = log;
  let pos = log.start;
  let want = CHUNK;
  while (pos < size) {
    const len = Math.min(want, size - pos);
    const buf = len <= CHUNK ? scratch(len).subarray(0, len) : new Uint8Array(len);
    readFullAt(fd, pos, buf);
    const base = pos;
    let refused = -1;
    const res = scanRecords(fmt, buf, 0, (at, h) => {
      if (refused >= 0) return;
      if (log.owns && !log.owns(h)) refused = at;
      else visit(base + at, h, buf, at);
    });
    pos = base + (refused >= 0 ? refused : res.end);
    want = CHUNK;
    if (refused < 0 && res.status === "end") continue;
    if (refused < 0 && res.status === "partial" && pos + res.need <= size) {
      if (res.need > LARGE_RECORD) {
        // A huge (streamed) value is checked chunk by chunk, never held whole.
        const head = verifyLarge(log, pos, res.need);
        if (head && (!log.owns || log.owns(head.h))) {
          visit(pos, head.h, head.bytes, 0);
          pos += res.need;
          continue;
        }
      } else {
        // The record is whole on disk but did not fit this read: read it alone.
        want = Math.max(res.need, CHUNK);
        continue;
      }
    }
    const next = findNextRecord(log, resyncFrom(log, pos));
    if (!(await onDamage(pos, next)) || next < 0) return pos;
    pos = next;
  }
  return pos;
}

// Verifies the record of `size` bytes at `pos` without holding it whole;
// returns its header and its head's bytes (header and key), or undefined when
// it is not intact.
function verifyLarge(
  log: LogFile,
  pos: number,
  size: number,
): { h: RecordHeader; bytes: Uint8Array } | undefined {
  const { fd, fmt } = log;
  const first = new Uint8Array(fmt.headerSize);
  readFullAt(fd, pos, first);
  const h = readHeader(fmt, first, 0);
  if (!h || recordSize(fmt, h.keyLen, h.valueLen) !== size) return undefined;
  const head = new Uint8Array(fmt.headerSize + h.keyLen);
  readFullAt(fd, pos, head);
  const crc = new RecordCrc(fmt, head);
  const chunk = new Uint8Array(CHUNK);
  for (let at = pos + head.length; at < pos + size; at += CHUNK) {
    const part = chunk.subarray(0, Math.min(CHUNK, pos + size - at));
    readFullAt(fd, at, part);
    crc.update(part);
  }
  return crc.matches() ? { h: { ...h }, bytes: head } : undefined;
}

// Where to look for the next record past damage at `pos`. A header that holds
// (its own CRC) and that the log accepts declares its record's extent: the
// bytes inside are that record's, written by the writer in one append, so a
// record found there is part of a value (a copy of a fork's log file keeps the
// salt and the sequence numbers that continue the log), never the log going
// on. A torn write whose header made it to disk thus ends the file as a torn
// tail. Any other damage is searched past byte by byte.
function resyncFrom(log: LogFile, pos: number): number {
  const head = new Uint8Array(log.fmt.headerSize);
  if (pos + head.length > log.size) return pos + 1;
  readFullAt(log.fd, pos, head);
  const h = readHeader(log.fmt, head, 0);
  if (!h || (log.owns && !log.owns(h))) return pos + 1;
  return pos + recordSize(log.fmt, h.keyLen, h.valueLen);
}

// The offset of the first record at or after `from` that the log accepts as its
// own, or -1. Slow, but it only runs where a log is damaged, and it is what
// tells damage in the middle of a log (records of the file follow) from a torn
// tail (nothing of the file follows).
function findNextRecord(log: LogFile, from: number): number {
  const { fd, size, fmt } = log;
  const hs = fmt.headerSize;
  const h = emptyHeader();
  for (let base = from; base < size; base += CHUNK) {
    const buf = new Uint8Array(Math.min(CHUNK + hs, size - base));
    readFullAt(fd, base, buf);
    const stop = Math.min(CHUNK, buf.length);
    for (let at = 0; at < stop; at++) {
      if (!readHeader(fmt, buf, at, h)) continue;
      const n = recordSize(fmt, h.keyLen, h.valueLen);
      if (base + at + n > size || (log.owns && !log.owns(h))) continue;
      const rec = new Uint8Array(n);
      readFullAt(fd, base + at, rec);
      if (verifyRecord(fmt, rec, 0, h)) return base + at;
    }
  }
  return -1;
}
