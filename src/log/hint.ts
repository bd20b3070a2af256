/**
 * Hint files: for each data file written by compaction, `hint.<id>` lists every
 * record's key and position, so open can rebuild the index without reading the
 * values. A hint is only a shortcut: when it is missing, damaged or disagrees
 * with its data file, recovery scans the data file instead.
 *
 * Layout after the 16-byte file header (kind 2), per entry: u32 keyLen,
 * u32 valueLen, u64 offset, u64 timestamp, u64 expireAt, key bytes; then a
 * trailer: u32 entry count, u32 CRC-32 of everything from the end of the file
 * header up to the CRC.
 * @module
 */

import { crc32, type RecordHeader, recordSize } from "../codec/codec.ts";
import { fileHeader, readFileHeader } from "./datafile.ts";
import { FILE_HEADER_SIZE, KIND_HINT } from "../codec/format.ts";
import { bytesToKey } from "../base/keys.ts";

const ENTRY = 32;
const TRAILER = 8;

/** Builds a hint file incrementally; its bytes are taken out in pieces as they are written. */
export class HintWriter {
  #buf = new Uint8Array(64 * 1024);
  #view = new DataView(this.#buf.buffer);
  #used = 0;
  #count = 0;
  #crc = 0;
  #started = false;

  /** Adds the entry of a record at `offset` whose key is `key`. */
  add(key: Uint8Array, h: RecordHeader, offset: number): void {
    const need = ENTRY + key.length;
    if (this.#used + need > this.#buf.length) {
      const bigger = new Uint8Array(Math.max(this.#buf.length * 2, this.#used + need));
      bigger.set(this.#buf.subarray(0, this.#used));
      this.#buf = bigger;
      this.#view = new DataView(bigger.buffer);
    }
    const v = this.#view, at = this.#used;
    v.setUint32(at, key.length, true);
    v.setUint32(at + 4, h.valueLen, true);
    setU64(v, at + 8, offset);
    setU64(v, at + 16, h.timestamp);
    setU64(v, at + 24, h.expireAt);
    this.#buf.set(key, at + ENTRY);
    this.#used += need;
    this.#count++;
  }

  /** The bytes added since the last take (the file header first). */
  take(): Uint8Array {
    const body = this.#buf.slice(0, this.#used);
    this.#crc = crc32(body, this.#crc);
    this.#used = 0;
    if (this.#started) return body;
    this.#started = true;
    const out = new Uint8Array(FILE_HEADER_SIZE + body.length);
    out.set(fileHeader(KIND_HINT));
    out.set(body, FILE_HEADER_SIZE);
    return out;
  }

  /** The final bytes: whatever is left, then the trailer. */
  finish(): Uint8Array {
    const rest = this.take();
    const t = new Uint8Array(TRAILER);
    const v = new DataView(t.buffer);
    v.setUint32(0, this.#count, true);
    v.setUint32(4, crc32(t.subarray(0, 4), this.#crc), true);
    const out = new Uint8Array(rest.length + TRAILER);
    out.set(rest);
    out.set(t, rest.length);
    return out;
  }
}

/**
 * Reads hint file `path` for a data file of `dataSize` bytes and calls `visit`
 * for each entry, in file order. Returns false, having called nothing, when the
 * hint is missing, damaged or points outside its data file.
 */
export async function readHint(
  path: string,
  dataSize: number,
  visit: (key: string, offset: number, h: RecordHeader) => void,
): Promise<boolean> {
  let b: Uint8Array;
  try {
    b = await Deno.readFile(path);
  } catch {
    return false;
  }
  if (b.length < FILE_HEADER_SIZE + TRAILER || readFileHeader(b, KIND_HINT) < 0) return false;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const end = b.length - TRAILER;
  const count = v.getUint32(end, true);
  if (crc32(b.subarray(FILE_HEADER_SIZE, end + 4)) !== v.getUint32(end + 4, true)) return false;
  // Check every entry before applying any, so a bad hint changes nothing.
  let n = 0, at = FILE_HEADER_SIZE;
  for (; at + ENTRY <= end; n++) {
    const keyLen = v.getUint32(at, true);
    const size = recordSize(keyLen, v.getUint32(at + 4, true));
    if (getU64(v, at + 8) + size > dataSize) return false;
    at += ENTRY + keyLen;
  }
  if (at !== end || n !== count) return false;
  const h: RecordHeader = { flags: 0, keyLen: 0, valueLen: 0, timestamp: 0, expireAt: 0 };
  for (at = FILE_HEADER_SIZE; at < end;) {
    h.keyLen = v.getUint32(at, true);
    h.valueLen = v.getUint32(at + 4, true);
    h.timestamp = getU64(v, at + 16);
    h.expireAt = getU64(v, at + 24);
    const offset = getU64(v, at + 8);
    visit(bytesToKey(b, at + ENTRY, at + ENTRY + h.keyLen), offset, h);
    at += ENTRY + h.keyLen;
  }
  return true;
}

// u64 fields hold integers below 2^53; two u32 halves avoid BigInt on a hot path.
function setU64(v: DataView, at: number, x: number): void {
  v.setUint32(at, x >>> 0, true);
  v.setUint32(at + 4, Math.floor(x / 0x1_0000_0000), true);
}

function getU64(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000;
}
