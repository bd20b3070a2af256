/**
 * Reading one record back: one positional read (or a copy from the writer's
 * buffer, or from a scan's read-ahead window), then the checks that make a
 * returned value trustworthy: a valid header, the expected size and key, and the
 * record's checksum.
 * @module
 */

import { CorruptionError } from "../base/errors.ts";
import { keyEquals } from "../base/keys.ts";
import { copyOut } from "../base/slab.ts";
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

// Records up to this size are read straight into wasm memory, checked in place and
// copied out: a fresh buffer read into costs its zeroing and page faults as well,
// and its checksum a staged copy into wasm memory (1 MiB values: 4.4 GB/s this way,
// 1.8-4.4 GB/s the other). Bigger ones get a buffer of their own that becomes the
// returned value, so wasm memory, which never shrinks, grows no further than a
// log scan's 4 MiB chunks take it.
const SCRATCH_READ = 4 * 1024 * 1024;

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
  const value = readIfKeys(file, at, k, writer, ahead);
  if (value === undefined) {
    throw new CorruptionError(
      `record at ${file.path}:${at.offset} fails its checksum`,
      file.path,
      at.offset,
    );
  }
  return value;
}

/**
 * {@link readValue}, but undefined when the bytes there are not `k`'s intact
 * record: for a read that does not yet know whether the record is `k`'s.
 */
export function readIfKeys(
  file: DataFile,
  at: RecordPlace,
  k: string,
  writer: Writer | undefined,
  ahead?: ReadAhead,
): Uint8Array | undefined {
  // A mapped file is read record by record: a copy out of the map costs no more
  // than the read-ahead window's, and lands in wasm memory, checked in place.
  let buf = file.mapped ? undefined : ahead?.view(file, at.offset, at.size);
  const shared = buf !== undefined || at.size <= SCRATCH_READ;
  if (!buf) {
    buf = shared ? scratch(at.size) : new Uint8Array(at.size);
    if (!writer?.readBuffered(file, at.offset, buf)) file.read(at.offset, buf);
  }
  const fmt = file.fmt;
  const h = readHeader(fmt, buf, 0, header);
  if (
    !h || h.keyLen !== k.length || recordSize(fmt, h.keyLen, h.valueLen) !== at.size ||
    !keyEquals(buf, fmt.headerSize, k) || !verifyRecord(fmt, buf, 0, h)
  ) return undefined;
  const start = fmt.headerSize + h.keyLen;
  return shared ? copyOut(buf.subarray(start)) : buf.subarray(start);
}

// Reused: the header's fields are read before the next call.
const header: RecordHeader = emptyHeader();
