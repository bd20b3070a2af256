/**
 * Record encoding, validation, bulk scanning and CRC-32. The work is done by the
 * WebAssembly module built from wasm/assembly/ (embedded in codec_wasm.ts); this
 * wrapper moves bytes in and out of its memory. Buffers that already are views
 * of that memory (see {@link scratch}) are used in place; others are copied
 * through a staging area in chunks, so every function takes inputs of any size.
 * @module
 */

import { WASM_BYTES } from "./codec_wasm.ts";
import { InvalidArgumentError } from "../base/errors.ts";
import { FLAG_MASK, HEADER_SIZE, HEADER_SIZE_V1, OFF_CRC, OFF_HCRC } from "./format.ts";

/**
 * How the records of one file are laid out and sealed: its format version's
 * header size, and the salt every checksum of the file starts from.
 */
export interface RecordFormat {
  /** Format version: 1 (read only) or 2. */
  readonly version: 1 | 2;
  /** Bytes in a record header. */
  readonly headerSize: number;
  /** Seed of every CRC in the file; 0 in version 1. */
  readonly salt: number;
}

/** The record format of version-1 files: no salt, no sequence numbers. */
export const FORMAT_V1: RecordFormat = { version: 1, headerSize: HEADER_SIZE_V1, salt: 0 };

/** The record format of a version-2 file with salt `salt`. */
export function formatV2(salt: number): RecordFormat {
  return { version: 2, headerSize: HEADER_SIZE, salt: salt >>> 0 };
}

/** The decoded fields of a record header. */
export interface RecordHeader {
  /** FLAG_* bits. */
  flags: number;
  /** Key length in bytes. */
  keyLen: number;
  /** Value length in bytes. */
  valueLen: number;
  /** Milliseconds since the Unix epoch when the record was written. */
  timestamp: number;
  /** Milliseconds since the Unix epoch when the record expires; 0 = never. */
  expireAt: number;
  /** Store-wide sequence number of the record's commit; 0 in version 1. */
  seq: number;
}

/** Why {@link scanRecords} stopped. */
export type ScanStatus = "end" | "partial" | "corrupt";

/** Where and why {@link scanRecords} stopped. */
export interface ScanResult {
  /** Offset in the buffer where the scan stopped. */
  end: number;
  /** Why it stopped. */
  status: ScanStatus;
  /** "partial": bytes the record at `end` needs in full; otherwise 0. */
  need: number;
}

/** What the codec's WebAssembly module exports (wasm/assembly/index.ts). */
export interface CodecExports {
  memory: WebAssembly.Memory;
  crc32(ptr: number, len: number, seed: number): number;
  encodeHeader(
    at: number,
    flags: number,
    keyLen: number,
    valueLen: number,
    timestamp: number,
    expireAt: number,
    seq: number,
    hsize: number,
    salt: number,
  ): void;
  encodeRecord(
    at: number,
    flags: number,
    keyLen: number,
    valueLen: number,
    timestamp: number,
    expireAt: number,
    seq: number,
    hsize: number,
    salt: number,
  ): void;
  resealRecord(at: number, hsize: number, salt: number, clearFlags: number): void;
  readHeader(at: number, desc: number, hsize: number, salt: number): number;
  scan(
    ptr: number,
    len: number,
    desc: number,
    maxDesc: number,
    hsize: number,
    salt: number,
  ): number;
  reserveScratch(size: number): number;
  checkRecords(ptr: number, table: number, from: number, n: number): number;
  copyRows(ptr: number, table: number, list: number, count: number, from: number): void;
  sealRecords(
    ptr: number,
    table: number,
    from: number,
    to: number,
    hsize: number,
    salt: number,
    clearFlags: number,
    hint: number,
    outAt: number,
  ): number;
  ROW_SIZE: WebAssembly.Global;
  scanStatus: WebAssembly.Global;
  scanEnd: WebAssembly.Global;
  scanNeed: WebAssembly.Global;
  SCAN_END: WebAssembly.Global;
  SCAN_PARTIAL: WebAssembly.Global;
  SCAN_CORRUPT: WebAssembly.Global;
  SCAN_FULL: WebAssembly.Global;
  DESC_PTR: WebAssembly.Global;
  DESC_MAX: WebAssembly.Global;
  DESC_SIZE: WebAssembly.Global;
  STAGE_PTR: WebAssembly.Global;
  STAGE_SIZE: WebAssembly.Global;
  SCRATCH_PTR: WebAssembly.Global;
}

/** The compiled codec module; compaction runs an instance of its own (merge_codec.ts). */
export const CODEC_MODULE: WebAssembly.Module = new WebAssembly.Module(WASM_BYTES);

const wasm = new WebAssembly.Instance(CODEC_MODULE).exports as unknown as CodecExports;

const DESC_PTR: number = wasm.DESC_PTR.value;
const DESC_MAX: number = wasm.DESC_MAX.value;
// Descriptors are u32 offset, flags, keyLen, valueLen then f64 timestamp, expireAt, seq.
const DESC_WORDS: number = wasm.DESC_SIZE.value / 4;
// The slot after the scan descriptors belongs to readHeader, so a visit may call it.
const HEADER_SLOT = DESC_MAX;
const HEADER_DESC = DESC_PTR + HEADER_SLOT * DESC_WORDS * 4;
const STAGE_PTR: number = wasm.STAGE_PTR.value;
const STAGE_SIZE: number = wasm.STAGE_SIZE.value;
const SCRATCH_PTR: number = wasm.SCRATCH_PTR.value;
const SCAN_END: number = wasm.SCAN_END.value;
const SCAN_PARTIAL: number = wasm.SCAN_PARTIAL.value;
const SCAN_FULL: number = wasm.SCAN_FULL.value;
// Key and value lengths are u32 header fields.
const MAX_LEN = 0xffff_ffff;

// Views of wasm memory. Growing memory detaches them; only scratch() grows it,
// and it rebinds them.
let memory: ArrayBufferLike;
let stage: Uint8Array;
let descU32: Uint32Array;
let descF64: Float64Array;
function bindViews(): void {
  memory = wasm.memory.buffer;
  stage = new Uint8Array(memory, STAGE_PTR, STAGE_SIZE);
  descU32 = new Uint32Array(memory, DESC_PTR, (DESC_MAX + 1) * DESC_WORDS);
  descF64 = new Float64Array(memory, DESC_PTR, (DESC_MAX + 1) * DESC_WORDS / 2);
}
bindViews();

/**
 * CRC-32 of data; pass a previous result as `seed` to continue a stream:
 * crc32(b, crc32(a)) === crc32(a ++ b). Any length (chunked through wasm
 * memory). Returns an unsigned 32-bit number.
 */
export function crc32(data: Uint8Array, seed = 0): number {
  return crcRange(data, 0, data.length, seed);
}

/** Bytes of a record of `fmt` with these key and value lengths. */
export function recordSize(fmt: RecordFormat, keyLen: number, valueLen: number): number {
  return fmt.headerSize + keyLen + valueLen;
}

/**
 * Writes a complete record of `fmt` (header with both CRCs, key, value) into
 * out[at ...]; returns at + recordSize. out must have room. Works for values of
 * any size (e.g. 64 MiB) by streaming the CRC.
 * @throws {InvalidArgumentError} flags outside FLAG_MASK, a timestamp or
 * sequence number that is not a non-negative safe integer, or no room in `out`;
 * nothing is written.
 */
export function encodeRecord(
  fmt: RecordFormat,
  out: Uint8Array,
  at: number,
  flags: number,
  timestamp: number,
  expireAt: number,
  seq: number,
  key: Uint8Array,
  value: Uint8Array,
): number {
  const keyLen = key.length;
  const valueLen = value.length;
  const hs = fmt.headerSize;
  const size = recordSize(fmt, keyLen, valueLen);
  const end = at + size;
  if (
    (flags & FLAG_MASK) !== flags || !isTime(timestamp) || !isTime(expireAt) || !isTime(seq) ||
    keyLen > MAX_LEN || valueLen > MAX_LEN || !(at >= 0 && end <= out.length)
  ) {
    throw new InvalidArgumentError(
      `cannot encode record: flags ${flags}, timestamp ${timestamp}, expireAt ${expireAt}, ` +
        `seq ${seq}, ${size} bytes at ${at} of ${out.length}`,
    );
  }
  const inPlace = out.buffer === memory;
  if (inPlace || size <= STAGE_SIZE) {
    const dst = inPlace ? out : stage;
    const d = inPlace ? at : 0;
    dst.set(key, d + hs);
    dst.set(value, d + hs + keyLen);
    wasm.encodeRecord(
      dst.byteOffset + d,
      flags,
      keyLen,
      valueLen,
      timestamp,
      expireAt,
      seq,
      hs,
      fmt.salt,
    );
    if (!inPlace) out.set(stage.subarray(0, size), at);
    return end;
  }
  // Too big to stage whole: write the body in place and stream its CRC.
  out.set(key, at + hs);
  out.set(value, at + hs + keyLen);
  wasm.encodeHeader(STAGE_PTR, flags, keyLen, valueLen, timestamp, expireAt, seq, hs, fmt.salt);
  out.set(stage.subarray(0, hs), at);
  const crc = crcRange(out, at + OFF_HCRC, end, fmt.salt);
  for (let i = 0; i < 4; i++) out[at + OFF_CRC + i] = crc >>> (8 * i);
  return end;
}

/**
 * Re-seals in place the valid record at buf[at] for a file of format `to`
 * (same header size), clearing `clearFlags`. Only buffers in wasm memory (see
 * {@link scratch}) are re-sealed in place; false for any other, which the
 * caller encodes afresh.
 */
export function resealRecord(
  buf: Uint8Array,
  at: number,
  to: RecordFormat,
  clearFlags: number,
): boolean {
  if (buf.buffer !== memory) return false;
  wasm.resealRecord(buf.byteOffset + at, to.headerSize, to.salt, clearFlags);
  return true;
}

/** A header object to pass to the functions that fill one. */
export function emptyHeader(): RecordHeader {
  return { flags: 0, keyLen: 0, valueLen: 0, timestamp: 0, expireAt: 0, seq: 0 };
}

/**
 * Parses and validates the header of format `fmt` at buf[at]: undefined if too
 * few bytes remain, hcrc mismatches, or flag/reserved bits are invalid. `into`
 * is reused when given.
 */
export function readHeader(
  fmt: RecordFormat,
  buf: Uint8Array,
  at: number,
  into?: RecordHeader,
): RecordHeader | undefined {
  const hs = fmt.headerSize;
  if (!(at >= 0 && buf.length - at >= hs)) return undefined;
  let ptr = STAGE_PTR;
  if (buf.buffer === memory) ptr = buf.byteOffset + at;
  else stage.set(buf.subarray(at, at + hs));
  if (!wasm.readHeader(ptr, HEADER_DESC, hs, fmt.salt)) return undefined;
  return decode(HEADER_SLOT, into ?? emptyHeader());
}

/**
 * Full CRC check of the record of format `fmt` at buf[at] whose validated
 * header is `h` (buf must hold the whole record; false if it does not).
 */
export function verifyRecord(
  fmt: RecordFormat,
  buf: Uint8Array,
  at: number,
  h: RecordHeader,
): boolean {
  const end = at + recordSize(fmt, h.keyLen, h.valueLen);
  if (!(at >= 0 && end <= buf.length)) return false;
  const c = at + OFF_CRC;
  const stored = (buf[c] | buf[c + 1] << 8 | buf[c + 2] << 16 | buf[c + 3] << 24) >>> 0;
  return crcRange(buf, at + OFF_HCRC, end, fmt.salt) === stored;
}

/**
 * Walks consecutive records of format `fmt` in buf from `start`; calls visit(at, header) for
 * each complete, valid record, in order (the header object is reused between
 * calls: copy what you keep). Stops with:
 *  "end": the last record ended exactly at buf.length (end === buf.length);
 *  "partial": the bytes left hold an incomplete record: fewer than a header's
 *    bytes, or a VALID header whose body runs past buf.length; need = that
 *    record's full size when its header was valid, else the header size; end = where
 *    that record starts;
 *  "corrupt": a full header that fails validation, or a record whose CRC
 *    mismatches; end = where it starts.
 * Done in bulk in wasm (one call covers many records), not one wasm call per
 * record from JS. visit must not call scanRecords (the descriptors are shared).
 * @throws {InvalidArgumentError} `start` outside [0, buf.length].
 */
export function scanRecords(
  fmt: RecordFormat,
  buf: Uint8Array,
  start: number,
  visit: (at: number, h: RecordHeader) => void,
): ScanResult {
  // Captured because a visit that calls scratch() may detach a wasm-memory buf;
  // the bytes stay where they were, so the scan goes on by address.
  const length = buf.length;
  if (!(start >= 0 && start <= length)) {
    throw new InvalidArgumentError(`scan start ${start} outside buffer of ${length} bytes`);
  }
  const inPlace = buf.buffer === memory;
  const base = buf.byteOffset;
  const h = emptyHeader();
  const { headerSize, salt } = fmt;
  let pos = start;
  for (;;) {
    const len = inPlace ? length - pos : Math.min(length - pos, STAGE_SIZE);
    if (!inPlace) stage.set(buf.subarray(pos, pos + len));
    const n = wasm.scan(
      inPlace ? base + pos : STAGE_PTR,
      len,
      DESC_PTR,
      DESC_MAX,
      headerSize,
      salt,
    );
    const code: number = wasm.scanStatus.value;
    const stop: number = wasm.scanEnd.value;
    for (let i = 0; i < n; i++) visit(pos + descU32[i * DESC_WORDS], decode(i, h));
    pos += stop;
    // A staged window can stop short of the buffer's end without anything wrong.
    if (code === SCAN_FULL || (code === SCAN_END && pos < length)) continue;
    if (code !== SCAN_PARTIAL) {
      return { end: pos, status: code === SCAN_END ? "end" : "corrupt", need: 0 };
    }
    const need: number = wasm.scanNeed.value;
    if (pos + need > length) return { end: pos, status: "partial", need };
    // The record is whole in buf but not in the window.
    if (need <= STAGE_SIZE) continue;
    readHeader(fmt, buf, pos, h);
    if (!verifyRecord(fmt, buf, pos, h)) return { end: pos, status: "corrupt", need: 0 };
    visit(pos, h);
    pos += need;
  }
}

/**
 * A view of at least `size` bytes inside wasm memory that a caller may fill
 * (e.g. read a file chunk straight into it) and then pass to scanRecords /
 * verifyRecord / crc32 without a copy. Valid until the next codec call.
 * @throws {InvalidArgumentError} when memory cannot grow to `size` (the
 * WebAssembly limit is 4 GiB).
 */
export function scratch(size: number): Uint8Array {
  if (!(Number.isSafeInteger(size) && size >= 0 && size <= MAX_LEN && wasm.reserveScratch(size))) {
    throw new InvalidArgumentError(`cannot reserve ${size} bytes of WebAssembly memory`);
  }
  if (wasm.memory.buffer !== memory) bindViews();
  return new Uint8Array(memory, SCRATCH_PTR, size);
}

function crcRange(buf: Uint8Array, from: number, to: number, seed: number): number {
  if (buf.buffer === memory) return wasm.crc32(buf.byteOffset + from, to - from, seed) >>> 0;
  let crc = seed;
  for (let p = from; p < to; p += STAGE_SIZE) {
    const n = Math.min(STAGE_SIZE, to - p);
    stage.set(buf.subarray(p, p + n));
    crc = wasm.crc32(STAGE_PTR, n, crc);
  }
  return crc >>> 0;
}

function decode(slot: number, h: RecordHeader): RecordHeader {
  const u = slot * DESC_WORDS;
  h.flags = descU32[u + 1];
  h.keyLen = descU32[u + 2];
  h.valueLen = descU32[u + 3];
  h.timestamp = descF64[u / 2 + 2];
  h.expireAt = descF64[u / 2 + 3];
  h.seq = descF64[u / 2 + 4];
  return h;
}

function isTime(t: number): boolean {
  return Number.isSafeInteger(t) && t >= 0;
}
