/**
 * The index checkpoint: a copy of the keydir in key order, written when a
 * store closes, so the next open loads the index in one sequential pass and a
 * bottom-up build instead of replaying the whole log.
 *
 * A checkpoint is only a shortcut, never trusted over the log. It names every
 * data file its entries point into, with the file's salt and the size it had,
 * and the point in the log it covers: file `fileId` up to `resume`, sequence
 * number `baseSeq`. Open uses it only when its checksum holds, it belongs to
 * the store, and the files are still those it names (a compaction, a lost or
 * replaced file, or a file cut shorter makes it stale); the log after the
 * point is then replayed over it. Entries only ever point at records that
 * were fsynced before the checkpoint was renamed into place.
 *
 * Layout: a file header (kind 3; `fileId` and `baseSeq` give the point), then
 * u64 resume offset, u32 file count, per file u64 id, u32 salt, u32 flags,
 * u64 size, u64 last sequence number; u64 entry count; per entry u32 keyLen,
 * u32 record size, u32 file index, u32 zero, f64 offset, f64 timestamp,
 * f64 expireAt, then the key bytes. A u32 CRC-32 (from the salt) of everything
 * after the file header closes the file.
 * @module
 */

import { closeSync, fstatSync, openSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "../codec/codec.ts";
import {
  decodeFileHeader,
  encodeFileHeader,
  getU64,
  newSalt,
  setU64,
} from "../codec/file_header.ts";
import { FILE_HEADER_SIZE, KIND_CHECKPOINT } from "../codec/format.ts";
import { bytesToKey } from "../base/keys.ts";
import type { DataFile } from "./datafile.ts";
import { readFullAt, syncDir, writeAll } from "./fsutil.ts";

const NAME = "checkpoint";
const TEMP = "checkpoint.writing";
const FILE_ROW = 32;
const ENTRY = 40;
const CHUNK = 4 << 20;

/** A data file as a checkpoint names it. */
export interface CheckpointFile {
  id: number;
  salt: number;
  flags: number;
  /** The file's size when the checkpoint was written: every entry lies below it. */
  size: number;
  /** The last sequence number in the file (for the chain check of skipped files). */
  lastSeq: number;
}

/** What a checkpoint covers. */
export interface CheckpointPoint {
  storeId: string;
  /** The log file the replay resumes in, at offset `resume`. */
  fileId: number;
  resume: number;
  /** The last sequence number the checkpoint covers. */
  seq: number;
  files: CheckpointFile[];
}

/** One keydir entry, as the writer is given it. */
export interface CheckpointEntry {
  fileId: number;
  offset: number;
  size: number;
  timestamp: number;
  expireAt: number;
}

/**
 * Writes the checkpoint of `point` with `entries` (keys ascending, as binary
 * strings) durably: to a temporary name, fsynced, renamed, directory fsynced.
 * The data files it names must already be fsynced.
 */
export async function writeCheckpoint(
  dir: string,
  point: CheckpointPoint,
  entries: Iterable<[string, CheckpointEntry]>,
  count: number,
): Promise<void> {
  const salt = newSalt();
  const header = encodeFileHeader({
    kind: KIND_CHECKPOINT,
    flags: 0,
    salt,
    storeId: point.storeId,
    fileId: point.fileId,
    follows: -1,
    baseSeq: point.seq,
    part: 0,
    parts: 0,
  });
  const index = new Map(point.files.map((f, i) => [f.id, i]));
  const tmp = join(dir, TEMP);
  const out = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    await writeAll(out, header);
    let buf = new Uint8Array(CHUNK);
    let v = new DataView(buf.buffer);
    let used = 0, crc = salt;
    const flush = async () => {
      crc = crc32(buf.subarray(0, used), crc);
      await writeAll(out, buf.subarray(0, used));
      used = 0;
    };
    setU64(v, 0, point.resume);
    v.setUint32(8, point.files.length, true);
    used = 12;
    for (const f of point.files) {
      setU64(v, used, f.id);
      v.setUint32(used + 8, f.salt, true);
      v.setUint32(used + 12, f.flags, true);
      setU64(v, used + 16, f.size);
      setU64(v, used + 24, f.lastSeq);
      used += FILE_ROW;
      if (used + FILE_ROW > buf.length) await flush();
    }
    setU64(v, used, count);
    used += 8;
    let written = 0;
    for (const [key, e] of entries) {
      const need = ENTRY + key.length;
      if (used + need > buf.length) {
        await flush();
        if (need > buf.length) {
          buf = new Uint8Array(need);
          v = new DataView(buf.buffer);
        }
      }
      v.setUint32(used, key.length, true);
      v.setUint32(used + 4, e.size, true);
      v.setUint32(used + 8, index.get(e.fileId)!, true);
      v.setUint32(used + 12, 0, true);
      v.setFloat64(used + 16, e.offset, true);
      v.setFloat64(used + 24, e.timestamp, true);
      v.setFloat64(used + 32, e.expireAt, true);
      for (let i = 0, at = used + ENTRY; i < key.length; i++) buf[at + i] = key.charCodeAt(i);
      used += need;
      written++;
    }
    if (written !== count) throw new RangeError(`checkpoint of ${count} entries got ${written}`);
    await flush();
    const trailer = new Uint8Array(4);
    new DataView(trailer.buffer).setUint32(0, crc, true);
    await writeAll(out, trailer);
    await out.syncData();
  } finally {
    out.close();
  }
  await Deno.rename(tmp, join(dir, NAME));
  await syncDir(dir);
}

/** Removes the checkpoint (when the log contradicts it) and any half-written one. */
export function removeCheckpoint(dir: string): Promise<void> {
  return removeNames(dir, [NAME, TEMP]);
}

/** Removes what a crash while writing a checkpoint left. */
export function removeCheckpointTemp(dir: string): Promise<void> {
  return removeNames(dir, [TEMP]);
}

async function removeNames(dir: string, names: string[]): Promise<void> {
  let removed = false;
  for (const name of names) {
    try {
      await Deno.remove(join(dir, name));
      removed = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  if (removed) await syncDir(dir);
}

/** A checkpoint's header and file table; load its entries with {@link loadCheckpoint}. */
export interface Checkpoint extends CheckpointPoint {
  readonly path: string;
  readonly salt: number;
  readonly count: number;
  /** Where the entries start. */
  readonly start: number;
}

/**
 * Reads the header and file table of the checkpoint in `dir`: undefined when
 * there is none, or it is not this store's or visibly damaged. Its checksum is
 * checked as its entries load (loadCheckpoint); whether its files are still the
 * store's is the caller's question (see {@link matchesFiles}).
 */
export function readCheckpoint(dir: string, storeId: string): Checkpoint | undefined {
  const path = join(dir, NAME);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const head = new Uint8Array(Math.min(size, FILE_HEADER_SIZE + 12));
    readFullAt(fd, 0, head);
    const h = decodeFileHeader(head, KIND_CHECKPOINT);
    if (!h || h.version !== 2 || h.storeId !== storeId || size < head.length + 12) {
      return undefined;
    }
    const hv = new DataView(head.buffer);
    const resume = getU64(hv, FILE_HEADER_SIZE);
    const nFiles = hv.getUint32(FILE_HEADER_SIZE + 8, true);
    const start = head.length + nFiles * FILE_ROW + 8;
    if (start + 4 > size) return undefined;
    const table = new Uint8Array(start - head.length);
    readFullAt(fd, head.length, table);
    const v = new DataView(table.buffer);
    const files: CheckpointFile[] = [];
    for (let at = 0; at < nFiles * FILE_ROW; at += FILE_ROW) {
      files.push({
        id: getU64(v, at),
        salt: v.getUint32(at + 8, true),
        flags: v.getUint32(at + 12, true),
        size: getU64(v, at + 16),
        lastSeq: getU64(v, at + 24),
      });
    }
    const count = getU64(v, nFiles * FILE_ROW);
    const { storeId: id, fileId, baseSeq: seq, salt } = h;
    return { path, salt, count, start, storeId: id, fileId, resume, seq, files };
  } finally {
    closeSync(fd);
  }
}

/** Receives a checkpoint's entries, keys ascending. */
export type CheckpointVisitor = (
  key: string,
  fileId: number,
  offset: number,
  size: number,
  timestamp: number,
  expireAt: number,
) => void;

/**
 * Passes the entries of checkpoint `c` to `visit`, in key order, checking the
 * checksum of the whole file on the way (one pass: the file is as large as a
 * good part of the index). Returns false when the checksum fails, or, having
 * stopped, at an entry out of key order or pointing past its file: what was
 * loaded must then be thrown away.
 */
export function loadCheckpoint(c: Checkpoint, visit: CheckpointVisitor): boolean {
  const fd = openSync(c.path, "r");
  try {
    const end = fstatSync(fd).size - 4;
    let crc = c.salt;
    const stream = new Stream(fd, FILE_HEADER_SIZE, end, (b) => crc = crc32(b, crc));
    if (!stream.need(c.start - FILE_HEADER_SIZE)) return false;
    stream.at += c.start - FILE_HEADER_SIZE;
    let prev = "";
    for (let n = 0; n < c.count; n++) {
      if (!stream.need(ENTRY)) return false;
      const v = stream.v, at = stream.at;
      const keyLen = v.getUint32(at, true);
      const size = v.getUint32(at + 4, true);
      const file = c.files[v.getUint32(at + 8, true)];
      const offset = v.getFloat64(at + 16, true);
      const timestamp = v.getFloat64(at + 24, true);
      const expireAt = v.getFloat64(at + 32, true);
      if (!file || !(offset >= 0 && offset + size <= file.size)) return false;
      if (keyLen > end - stream.offset() || !stream.need(ENTRY + keyLen)) return false;
      const k = stream.at + ENTRY;
      const key = bytesToKey(stream.buf, k, k + keyLen);
      if (n > 0 && !(prev < key)) return false;
      visit(key, file.id, offset, size, timestamp, expireAt);
      prev = key;
      stream.at += ENTRY + keyLen;
    }
    if (stream.offset() !== end) return false;
    const trailer = new Uint8Array(4);
    readFullAt(fd, end, trailer);
    return (crc >>> 0) === new DataView(trailer.buffer).getUint32(0, true);
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether `files` (the store's trusted data files, ascending) are still the
 * ones checkpoint `c` names: each named file present with its salt and kind and
 * at least the size it had, no other file below the newest named one, and the
 * resume file the newest named one.
 */
export function matchesFiles(c: CheckpointPoint, files: DataFile[]): boolean {
  const named = c.files;
  if (named.length === 0 || named[named.length - 1].id !== c.fileId) return false;
  let i = 0;
  for (const f of files) {
    if (f.id > c.fileId) {
      if (f.compacted) return false;
      continue;
    }
    const want = named[i++];
    if (!want || want.id !== f.id || !f.header || f.header.salt !== want.salt) return false;
    if (f.header.flags !== want.flags || f.size < want.size) return false;
  }
  return i === named.length && c.resume <= named[named.length - 1].size;
}

// Sequential reads of [from, end) of `fd` through one buffer; `need` makes n
// bytes available at `at`. `seen` gets every byte once, in order.
class Stream {
  buf = new Uint8Array(CHUNK);
  v = new DataView(this.buf.buffer);
  at = 0;
  /** Bytes of `buf` in use. */
  length = 0;
  #pos: number;

  constructor(
    readonly fd: number,
    from: number,
    readonly end: number,
    readonly seen?: (b: Uint8Array) => void,
  ) {
    this.#pos = from;
  }

  /** File offset of `at`. */
  offset(): number {
    return this.#pos - (this.length - this.at);
  }

  need(n: number): boolean {
    if (this.at + n <= this.length) return true;
    const rest = this.length - this.at;
    if (n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(n, 2 * this.buf.length));
      bigger.set(this.buf.subarray(this.at, this.length));
      this.buf = bigger;
      this.v = new DataView(bigger.buffer);
    } else this.buf.copyWithin(0, this.at, this.length);
    this.at = 0;
    this.length = rest;
    const want = Math.min(this.buf.length - rest, this.end - this.#pos);
    if (want > 0) {
      const got = readFullAt(this.fd, this.#pos, this.buf.subarray(rest, rest + want));
      this.seen?.(this.buf.subarray(rest, rest + got));
      this.#pos += got;
      this.length += got;
    }
    return n <= this.length;
  }
}
