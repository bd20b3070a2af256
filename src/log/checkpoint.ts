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
 * u64 resume offset; per entry u32 keyLen, u32 record size, u32 file index,
 * u32 zero, f64 offset, f64 timestamp, f64 expireAt, then the key bytes; then
 * the file table, per file u64 id, u32 salt, u32 flags, u64 size, u64 last
 * sequence number; u32 file count, u64 entry count, and a u32 CRC-32 (from the
 * salt) of everything after the file header. The table comes last because a
 * checkpoint written while the store takes writes learns the files' final
 * sizes only once its entries are written.
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
import { CHECKPOINT_FILE as NAME } from "../base/store_dir.ts";
import type { DataFile } from "./datafile.ts";
import { readFullAt, syncDir, writeAllSync } from "./fsutil.ts";
import type { TimeSlicer } from "./time_slice.ts";

const TEMP = "checkpoint.writing";
/** The names a checkpoint, finished or being written, has in a store's directory. */
export const CHECKPOINT_NAMES: readonly string[] = [NAME, TEMP];
const FILE_ROW = 32;
const ENTRY = 40;
const CHUNK = 1 << 20;
// File count and entry count, before the CRC.
const FOOTER = 12;

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

/** Where a checkpoint's log replay resumes. */
export interface CheckpointStart {
  storeId: string;
  /** The log file the replay resumes in, at offset `resume`; the files after it are replayed whole. */
  fileId: number;
  resume: number;
  /** The last sequence number before the resume point. */
  seq: number;
}

/** What a checkpoint covers: its resume point and the files its entries point into. */
export interface CheckpointPoint extends CheckpointStart {
  files: CheckpointFile[];
}

/**
 * The entries a checkpoint is written from, a piece at a time: each call
 * passes the next entries (keys ascending) to `visit`, and returns false once
 * there are none left. Between calls the writer lets other work run.
 */
export type CheckpointSource = (visit: EntryVisitor) => boolean;

/**
 * Writes a checkpoint resuming at `start` with the entries of `source` durably:
 * to a temporary name, fsynced, renamed, directory fsynced. `files` is called
 * once the entries are written, for the store's files with the sizes they have
 * then (appends not yet written out included); `durable` must make every byte
 * of those sizes durable, and is waited for before the rename. `slicer` paces
 * the entries for a checkpoint written beside other work; without one they
 * follow each other in microtasks.
 */
export async function writeCheckpoint(
  dir: string,
  start: CheckpointStart,
  source: CheckpointSource,
  files: () => CheckpointFile[],
  durable: () => Promise<void>,
  slicer?: TimeSlicer,
): Promise<void> {
  const salt = newSalt();
  const header = encodeFileHeader({
    kind: KIND_CHECKPOINT,
    flags: 0,
    salt,
    storeId: start.storeId,
    fileId: start.fileId,
    follows: -1,
    baseSeq: start.seq,
    part: 0,
    parts: 0,
  });
  // File id -> its row in the table, in order of first use.
  const index = new Map<number, number>();
  const tmp = join(dir, TEMP);
  // Synchronous, as every step but the fsyncs (see the wait at the end).
  const out = Deno.openSync(tmp, { write: true, create: true, truncate: true });
  try {
    writeAllSync(out, header);
    let buf = new Uint8Array(CHUNK);
    let v = new DataView(buf.buffer);
    let used = 0, crc = salt, count = 0;
    const flush = () => {
      crc = crc32(buf.subarray(0, used), crc);
      writeAllSync(out, buf.subarray(0, used));
      used = 0;
    };
    const room = (need: number) => {
      if (used + need <= buf.length) return;
      flush();
      if (need > buf.length) {
        buf = new Uint8Array(need);
        v = new DataView(buf.buffer);
      }
    };
    const put: EntryVisitor = (key, fileId, offset, size, timestamp, expireAt) => {
      room(ENTRY + key.length);
      let row = index.get(fileId);
      if (row === undefined) index.set(fileId, row = index.size);
      v.setUint32(used, key.length, true);
      v.setUint32(used + 4, size, true);
      v.setUint32(used + 8, row, true);
      v.setUint32(used + 12, 0, true);
      v.setFloat64(used + 16, offset, true);
      v.setFloat64(used + 24, timestamp, true);
      v.setFloat64(used + 32, expireAt, true);
      for (let i = 0, at = used + ENTRY; i < key.length; i++) buf[at + i] = key.charCodeAt(i);
      used += ENTRY + key.length;
      count++;
    };
    setU64(v, 0, start.resume);
    used = 8;
    // Between pieces, a turn of the event loop once a time slice is used up:
    // a checkpoint of a million keys that yielded only to microtasks held
    // timers and sockets for 106-116 ms. A writer under sync "never"
    // acknowledges in microtasks, so a loop of writes may never let the event
    // loop run: the store's writes nudge a yield that waited too long.
    while (source(put)) await slicer?.pause();
    const table = files();
    for (const f of table) if (!index.has(f.id)) index.set(f.id, index.size);
    const byId = new Map(table.map((f) => [f.id, f]));
    room(index.size * FILE_ROW + FOOTER + 4);
    for (const id of index.keys()) {
      const f = byId.get(id);
      if (!f) throw new RangeError(`checkpoint entries point into data.${id}, not in the table`);
      setU64(v, used, f.id);
      v.setUint32(used + 8, f.salt, true);
      v.setUint32(used + 12, f.flags, true);
      setU64(v, used + 16, f.size);
      setU64(v, used + 24, f.lastSeq);
      used += FILE_ROW;
    }
    v.setUint32(used, index.size, true);
    setU64(v, used + 4, count);
    used += FOOTER;
    v.setUint32(used, crc32(buf.subarray(0, used), crc), true);
    used += 4;
    flush();
    // Both fsyncs in one wait, and the rename without one: each wait for I/O is
    // a turn of the event loop, which a writer acknowledging in microtasks
    // grants only when its own buffer fills. Once renamed the checkpoint is in
    // use; the directory's fsync only makes the rename survive a power cut,
    // before which the old checkpoint (or none) is just as consistent.
    await Promise.all([out.syncData(), durable()]);
  } finally {
    out.close();
  }
  Deno.renameSync(tmp, join(dir, NAME));
  await syncDir(dir);
}

/** Removes the checkpoint (one the store cannot use, or keep in step with the log). */
export function removeCheckpoint(dir: string): Promise<void> {
  return removeNames(dir, [NAME]);
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
  /** Where the entries end (and the file table starts). */
  readonly end: number;
}

/**
 * Reads the header and file table of the checkpoint in `dir`: undefined when
 * there is none, or it is not store `storeId`'s (when given) or visibly
 * damaged. Its checksum is checked as its entries load (loadCheckpoint);
 * whether its files are still the store's is the caller's question (see
 * {@link matchesFiles}).
 */
export function readCheckpoint(dir: string, storeId?: string): Checkpoint | undefined {
  const path = join(dir, NAME);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < FILE_HEADER_SIZE + 8 + FOOTER + 4) return undefined;
    const head = new Uint8Array(FILE_HEADER_SIZE + 8);
    readFullAt(fd, 0, head);
    const h = decodeFileHeader(head, KIND_CHECKPOINT);
    if (!h || h.version !== 2 || (storeId !== undefined && h.storeId !== storeId)) return undefined;
    const foot = new Uint8Array(FOOTER);
    readFullAt(fd, size - 4 - FOOTER, foot);
    const fv = new DataView(foot.buffer);
    const nFiles = fv.getUint32(0, true);
    const count = getU64(fv, 4);
    const end = size - 4 - FOOTER - nFiles * FILE_ROW;
    if (end < head.length) return undefined;
    const table = new Uint8Array(nFiles * FILE_ROW);
    readFullAt(fd, end, table);
    const v = new DataView(table.buffer);
    const files: CheckpointFile[] = [];
    for (let at = 0; at < table.length; at += FILE_ROW) {
      files.push({
        id: getU64(v, at),
        salt: v.getUint32(at + 8, true),
        flags: v.getUint32(at + 12, true),
        size: getU64(v, at + 16),
        lastSeq: getU64(v, at + 24),
      });
    }
    const resume = getU64(new DataView(head.buffer), FILE_HEADER_SIZE);
    const { fileId, baseSeq: seq, salt } = h;
    return { path, salt, count, end, storeId: h.storeId, fileId, resume, seq, files };
  } finally {
    closeSync(fd);
  }
}

/**
 * Receives one index entry as its fields: the key (a binary string), where its
 * record is (file id, offset, record size), its timestamp and its expiry.
 */
export type EntryVisitor = (
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
export function loadCheckpoint(c: Checkpoint, visit: EntryVisitor): boolean {
  const fd = openSync(c.path, "r");
  try {
    const size = fstatSync(fd).size;
    let crc = c.salt;
    const stream = new Stream(fd, FILE_HEADER_SIZE, size - 4, (b) => crc = crc32(b, crc));
    if (!stream.need(8)) return false;
    stream.at = 8;
    let prev = "";
    for (let n = 0; n < c.count; n++) {
      if (!stream.need(ENTRY) || stream.offset() + ENTRY > c.end) return false;
      const v = stream.v, at = stream.at;
      const keyLen = v.getUint32(at, true);
      const size = v.getUint32(at + 4, true);
      const file = c.files[v.getUint32(at + 8, true)];
      const offset = v.getFloat64(at + 16, true);
      const timestamp = v.getFloat64(at + 24, true);
      const expireAt = v.getFloat64(at + 32, true);
      if (!file || !(offset >= 0 && offset + size <= file.size)) return false;
      if (stream.offset() + ENTRY + keyLen > c.end || !stream.need(ENTRY + keyLen)) return false;
      const k = stream.at + ENTRY;
      const key = bytesToKey(stream.buf, k, k + keyLen);
      if (n > 0 && !(prev < key)) return false;
      visit(key, file.id, offset, size, timestamp, expireAt);
      prev = key;
      stream.at += ENTRY + keyLen;
    }
    if (stream.offset() !== c.end) return false;
    // The table and counts were read before the checksum could vouch for them.
    stream.at = stream.length;
    while (stream.need(1)) stream.at = stream.length;
    const trailer = new Uint8Array(4);
    readFullAt(fd, size - 4, trailer);
    return (crc >>> 0) === new DataView(trailer.buffer).getUint32(0, true);
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether `files` (the store's trusted data files) are still the ones
 * checkpoint `c` names: each named file present with its salt and kind and at
 * least the size it had, the resume file among them, and every other file a
 * log file after the resume point (replayed whole).
 */
export function matchesFiles(c: CheckpointPoint, files: DataFile[]): boolean {
  const named = new Map(c.files.map((n) => [n.id, n]));
  const resume = named.get(c.fileId);
  if (!resume || c.resume > resume.size) return false;
  let seen = 0;
  for (const f of files) {
    const want = named.get(f.id);
    if (!want) {
      if (f.id < c.fileId || f.compacted) return false;
      continue;
    }
    if (!f.header || f.header.salt !== want.salt || f.header.flags !== want.flags) return false;
    if (f.size < want.size) return false;
    seen++;
  }
  return seen === named.size;
}

/**
 * The files `c` names that are gone, where no compaction explains it: the
 * header chain cannot tell that the newest files of a log are missing, nor a
 * streamed value's file a compaction kept (no later header names it), but a
 * checkpoint that names them can (a file a present one continues is left to
 * the chain). A compaction only removes files older than
 * its outputs, whose ids are above every file that existed when it began: so
 * with no merge output above the newest file `c` names, every file it names
 * must still be there.
 */
export function namedMissing(c: CheckpointPoint, files: DataFile[]): CheckpointFile[] {
  const top = files.reduce((m, f) => Math.max(m, f.id), -1);
  const newestNamed = c.files.reduce((m, f) => Math.max(m, f.id), -1);
  const compactedSince = files.some((f) => f.compacted && f.id > newestNamed);
  const present = new Set(files.map((f) => f.id));
  // A file a present one continues is the header chain's to report.
  const followed = new Set(files.map((f) => f.header?.follows));
  return c.files.filter((n) =>
    n.id > top || (!compactedSince && !present.has(n.id) && !followed.has(n.id))
  );
}

/**
 * The row of `c` for `file` when the file, its replay done, ends short of the
 * size `c` names for it. A checkpoint is renamed into place only once every
 * byte it names is durable, so no crash leaves a file it names shorter: the
 * records past the end were acknowledged, and are lost.
 */
export function endsShort(c: CheckpointPoint, file: DataFile): CheckpointFile | undefined {
  const named = c.files.find((n) => n.id === file.id && n.salt === file.fmt.salt);
  return named && file.size < named.size ? named : undefined;
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
