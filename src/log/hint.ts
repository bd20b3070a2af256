/**
 * Hint files: for a data file, `hint.<id>` lists every record's key and
 * position, so open can rebuild the index without reading the values. A hint
 * is only a shortcut: when it is missing, damaged or disagrees with its data
 * file, recovery scans the data file instead.
 *
 * Layout after the file header (kind 2; in version 2 a copy of its data file's
 * header but for the kind, so a hint binds to one data file and its salt), per
 * entry: u32 keyLen, u32 valueLen, u64 offset, u64 timestamp, u64 expireAt, then
 * in version 2 u64 seq and u32 flags; then the key bytes. A trailer closes the
 * file: u32 entry count, u32 CRC-32 (from the salt) of everything from the end
 * of the file header up to the CRC.
 * @module
 */

import { crc32, emptyHeader, type RecordHeader, recordSize } from "../codec/codec.ts";
import {
  decodeFileHeader,
  encodeFileHeader,
  type FileHeader,
  fileHeaderSize,
  getU64,
  setU64,
} from "../codec/file_header.ts";
import { KIND_HINT } from "../codec/format.ts";
import { bytesToKey } from "../base/keys.ts";
import type { DataFile } from "./datafile.ts";
import { hintPath, syncDir, TEMP, writeAll } from "./fsutil.ts";

const ENTRY_V1 = 32;
const ENTRY = 44;
const TRAILER = 8;

/**
 * Builds the hint of one version-2 data file incrementally; its bytes are taken
 * out in pieces. It fills one of its two buffers while the piece last taken,
 * a view of the other, is written out.
 */
export class HintWriter {
  #buf: Uint8Array;
  #spare: Uint8Array;
  #view: DataView;
  #used = 0;
  #count = 0;
  #crc: number;
  // Where the bytes the CRC covers start in #buf: after the file header, which
  // the first piece begins with.
  #crcFrom: number;

  /**
   * `data`: the header of the data file the hint describes; `buffers`: the two
   * it starts with (they grow as needed).
   */
  constructor(
    readonly data: FileHeader,
    buffers: [Uint8Array, Uint8Array] = [new Uint8Array(256), new Uint8Array(256)],
  ) {
    [this.#buf, this.#spare] = buffers;
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
    this.#crc = data.salt;
    const head = encodeFileHeader({ ...data, kind: KIND_HINT });
    this.#reserve(head.length);
    this.#buf.set(head);
    this.#used = this.#crcFrom = head.length;
  }

  /** Its two buffers, to reuse once nothing it handed out is read any more. */
  get buffers(): [Uint8Array, Uint8Array] {
    return [this.#buf, this.#spare];
  }

  /** Adds the entry of the record at `offset` whose key is `key`. */
  add(key: Uint8Array, h: RecordHeader, offset: number): void {
    const need = ENTRY + key.length;
    this.#reserve(need);
    const v = this.#view, at = this.#used;
    v.setUint32(at, key.length, true);
    v.setUint32(at + 4, h.valueLen, true);
    setU64(v, at + 8, offset);
    setU64(v, at + 16, h.timestamp);
    setU64(v, at + 24, h.expireAt);
    setU64(v, at + 32, h.seq);
    v.setUint32(at + 40, h.flags, true);
    this.#buf.set(key, at + ENTRY);
    this.#used += need;
    this.#count++;
  }

  /** Adds `count` entries already laid out as {@link HintWriter.add} lays them out (built in bulk by the codec). */
  addEntries(entries: Uint8Array, count: number): void {
    this.#reserve(entries.length);
    this.#buf.set(entries, this.#used);
    this.#used += entries.length;
    this.#count += count;
  }

  #reserve(need: number): void {
    if (this.#used + need <= this.#buf.length) return;
    const bigger = new Uint8Array(Math.max(this.#buf.length * 2, this.#used + need));
    bigger.set(this.#buf.subarray(0, this.#used));
    this.#buf = bigger;
    this.#view = new DataView(bigger.buffer);
  }

  /** The bytes added since the last take (the file header first): a view, valid until the next take. */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#used);
    this.#crc = crc32(out.subarray(this.#crcFrom), this.#crc);
    this.#crcFrom = this.#used = 0;
    [this.#buf, this.#spare] = [this.#spare, this.#buf];
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
    return out;
  }

  /** The final bytes: whatever is left, then the trailer; a view, as {@link HintWriter.take} gives. */
  finish(): Uint8Array {
    this.#reserve(TRAILER);
    const v = this.#view, at = this.#used;
    v.setUint32(at, this.#count, true);
    const crc = crc32(this.#buf.subarray(this.#crcFrom, at + 4), this.#crc);
    v.setUint32(at + 4, crc, true);
    this.#used += TRAILER;
    this.#crcFrom = this.#used;
    return this.take();
  }
}

/** Writes the finished hint `bytes` of data file `id` durably: to a temporary name, fsynced, renamed. */
export async function writeHint(dir: string, id: number, bytes: Uint8Array): Promise<void> {
  const path = hintPath(dir, id);
  const tmp = path + TEMP;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    await writeAll(f, bytes);
    await f.syncData();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
  await syncDir(dir);
}

/** Receives a hint entry: the record's key, offset and header fields (flags and seq 0 in version 1). */
export type HintVisitor = (key: string, offset: number, h: RecordHeader) => void;

/**
 * Reads hint file `path` of data file `data` and calls `visit` for each entry,
 * in file order. Returns false, having called nothing, when the hint is
 * missing, damaged, belongs to another file or points outside its data file;
 * with `whole` (recovery's reading), also when its entries do not tile the data
 * file: a merge writes one entry per record, in order, so an entry whose offset
 * was rewritten, even under a recomputed checksum, shows as a gap or an overlap
 * and the data file is scanned instead. `verify` reads without `whole`, to
 * check each entry against its record and say which ones are wrong.
 */
export async function readHint(
  path: string,
  data: DataFile,
  visit: HintVisitor,
  whole = true,
): Promise<boolean> {
  let b: Uint8Array;
  try {
    b = await Deno.readFile(path);
  } catch {
    return false;
  }
  const dh = data.header;
  const hh = decodeFileHeader(b, KIND_HINT);
  if (!dh || !hh || !sameFile(hh, dh)) return false;
  const start = fileHeaderSize(hh.version);
  const entry = hh.version === 1 ? ENTRY_V1 : ENTRY;
  if (b.length < start + TRAILER) return false;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const end = b.length - TRAILER;
  const count = v.getUint32(end, true);
  if (crc32(b.subarray(start, end + 4), hh.salt) !== v.getUint32(end + 4, true)) return false;
  // Check every entry before applying any, so a bad hint changes nothing.
  let n = 0, at = start, next = data.headerSize, tiles = true;
  for (; at + entry <= end; n++) {
    const keyLen = v.getUint32(at, true);
    const size = recordSize(data.fmt, keyLen, v.getUint32(at + 4, true));
    const offset = getU64(v, at + 8);
    if (offset + size > data.size) return false;
    tiles &&= offset === next;
    next = offset + size;
    at += entry + keyLen;
  }
  if (at !== end || n !== count || (whole && !(tiles && next === data.size))) return false;
  const h = emptyHeader();
  for (at = start; at < end;) {
    h.keyLen = v.getUint32(at, true);
    h.valueLen = v.getUint32(at + 4, true);
    h.timestamp = getU64(v, at + 16);
    h.expireAt = getU64(v, at + 24);
    if (entry === ENTRY) {
      h.seq = getU64(v, at + 32);
      h.flags = v.getUint32(at + 40, true);
    }
    const offset = getU64(v, at + 8);
    visit(bytesToKey(b, at + entry, at + entry + h.keyLen), offset, h);
    at += entry + h.keyLen;
  }
  return true;
}

// A hint describes exactly one data file: same version, and in version 2 the
// same salt, store, id and place in the log.
function sameFile(hint: FileHeader, data: FileHeader): boolean {
  return hint.version === data.version && hint.salt === data.salt &&
    hint.storeId === data.storeId && hint.fileId === data.fileId &&
    hint.follows === data.follows && hint.baseSeq === data.baseSeq;
}
