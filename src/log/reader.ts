/**
 * Reading one record back: one positional read (or a copy from the writer's
 * buffer, or from a scan's read-ahead window), then the checks that make a
 * returned value trustworthy: a valid header, the expected size and key, and the
 * record's checksum.
 * @module
 */

import { CorruptionError } from "../base/errors.ts";
import { keyEquals } from "../base/keys.ts";
import {
  emptyHeader,
  readHeader,
  type RecordHeader,
  recordSize,
  scratch,
  verifyRecord,
} from "../codec/codec.ts";
import type { DataFile } from "./datafile.ts";
import type { ReadAhead } from "./readahead.ts";
import type { Writer } from "./writer.ts";

// Records up to this size are read straight into wasm memory and checked in place;
// bigger ones get a buffer of their own that becomes the returned value.
const SCRATCH_READ = 1024 * 1024;

/** Where a record is, as the index has it. */
export interface RecordPlace {
  offset: number;
  size: number;
}

/** A verified record read back: its value and the sequence number it carries. */
export interface ReadRecord {
  value: Uint8Array;
  seq: number;
}

/** Like {@link readValue}, with the record's sequence number. */
export function readRecord(
  file: DataFile,
  at: RecordPlace,
  k: string,
  writer: Writer | undefined,
  ahead?: ReadAhead,
): ReadRecord {
  const value = readValue(file, at, k, writer, ahead);
  return { value, seq: header.seq };
}

/**
 * The value of the record of key `k` at `at` in `file`, verified. `ahead` is a
 * scan's read-ahead window, which may hold the record already; `writer` (none
 * in a read-only store) may still hold it in its buffer.
 * @throws {CorruptionError} the bytes there are not that key's intact record.
 */
export function readValue(
  file: DataFile,
  at: RecordPlace,
  k: string,
  writer: Writer | undefined,
  ahead?: ReadAhead,
): Uint8Array {
  let buf = ahead?.view(file, at.offset, at.size);
  const shared = buf !== undefined || at.size <= SCRATCH_READ;
  if (!buf) {
    buf = shared ? scratch(at.size).subarray(0, at.size) : new Uint8Array(at.size);
    if (!writer?.readBuffered(file, at.offset, buf)) file.read(at.offset, buf);
  }
  const fmt = file.fmt;
  const h = readHeader(fmt, buf, 0, header);
  if (
    !h || h.keyLen !== k.length || recordSize(fmt, h.keyLen, h.valueLen) !== at.size ||
    !keyEquals(buf, fmt.headerSize, k) || !verifyRecord(fmt, buf, 0, h)
  ) {
    throw new CorruptionError(
      `record at ${file.path}:${at.offset} fails its checksum`,
      file.path,
      at.offset,
    );
  }
  const start = fmt.headerSize + h.keyLen;
  return shared ? copyOut(buf.subarray(start)) : buf.subarray(start);
}

// Small values are handed out as views of a shared slab rather than each in an
// ArrayBuffer of its own: allocating a buffer costs about 2 us, more than the
// pread itself (measured here: ~470k slices/s against ~3.9M subarrays/s of
// 152 bytes), and a get is a few us in all. The price: a value kept alive
// keeps its slab (64 KiB) alive, and its `.buffer` is the slab, so
// transferring that buffer to a Worker would detach other values too (copy a
// value with slice() first).
const SLAB = 64 * 1024;
const SLAB_VALUE = 4 * 1024;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;

function copyOut(src: Uint8Array): Uint8Array {
  const n = src.length;
  if (n > SLAB_VALUE) return src.slice();
  if (slabUsed + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  out.set(src);
  // 8-byte steps keep each value's start aligned for views a caller may make.
  slabUsed += (n + 7) & ~7;
  return out;
}

// Reused: the header's fields are read before the next call.
const header: RecordHeader = emptyHeader();
