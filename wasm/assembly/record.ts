// Record header encoding and validation; the layout comes from src/codec/format.ts.
// Every function takes the file's header size (36 for format 1, 44 for format 2)
// and salt (0 for format 1), so one module serves both versions.

import {
  FLAG_MASK,
  OFF_CRC,
  OFF_EXPIRE_AT,
  OFF_FLAGS,
  OFF_HCRC,
  OFF_KEY_LEN,
  OFF_SEQ,
  OFF_TIMESTAMP,
  OFF_VALUE_LEN,
} from "../../src/codec/format";
import { crc32 } from "./crc32";

/** Writes every header field and the header CRC at `at`; the record CRC is left to the caller. */
export function encodeHeader(
  at: usize,
  flags: u32,
  keyLen: u32,
  valueLen: u32,
  timestamp: f64,
  expireAt: f64,
  seq: f64,
  hsize: u32,
  salt: u32,
): void {
  // One u32 store writes the flags byte and zeroes the three reserved bytes.
  store<u32>(at, flags, OFF_FLAGS);
  store<u32>(at, keyLen, OFF_KEY_LEN);
  store<u32>(at, valueLen, OFF_VALUE_LEN);
  store<u64>(at, <u64> timestamp, OFF_TIMESTAMP);
  store<u64>(at, <u64> expireAt, OFF_EXPIRE_AT);
  if (hsize > <u32> OFF_SEQ) store<u64>(at, <u64> seq, OFF_SEQ);
  store<u32>(at, crc32(at + OFF_FLAGS, hsize - OFF_FLAGS, salt), OFF_HCRC);
}

/** Completes the record at `at` whose key and value bytes are already in place. */
export function encodeRecord(
  at: usize,
  flags: u32,
  keyLen: u32,
  valueLen: u32,
  timestamp: f64,
  expireAt: f64,
  seq: f64,
  hsize: u32,
  salt: u32,
): void {
  encodeHeader(at, flags, keyLen, valueLen, timestamp, expireAt, seq, hsize, salt);
  const covered = <usize> (hsize - OFF_HCRC) + keyLen + valueLen;
  store<u32>(at, crc32(at + OFF_HCRC, covered, salt), OFF_CRC);
}

/**
 * Re-seals the whole record at `at` for another file: clears `clearFlags`, then
 * recomputes both CRCs from `salt`. Compaction copies records this way.
 */
export function resealRecord(at: usize, hsize: u32, salt: u32, clearFlags: u32): void {
  store<u8>(at, load<u8>(at, OFF_FLAGS) & ~(<u8> clearFlags), OFF_FLAGS);
  store<u32>(at, crc32(at + OFF_FLAGS, hsize - OFF_FLAGS, salt), OFF_HCRC);
  const size = recordSize(at, hsize);
  store<u32>(at, crc32(at + OFF_HCRC, <usize> size - OFF_HCRC, salt), OFF_CRC);
}

/** Header CRC matches and no flag or reserved bit outside FLAG_MASK is set. */
export function headerValid(at: usize, hsize: u32, salt: u32): bool {
  // The u32 at OFF_FLAGS spans the flags byte and the three reserved bytes.
  return (load<u32>(at, OFF_FLAGS) & ~FLAG_MASK) == 0 &&
    crc32(at + OFF_FLAGS, hsize - OFF_FLAGS, salt) == load<u32>(at, OFF_HCRC);
}

/** Full size of the record whose (valid) header is at `at`; u64 because two u32 lengths can overflow. */
export function recordSize(at: usize, hsize: u32): u64 {
  return <u64> hsize + load<u32>(at, OFF_KEY_LEN) + load<u32>(at, OFF_VALUE_LEN);
}

/** Record CRC matches over the `size` bytes at `at`. */
export function recordValid(at: usize, size: usize, salt: u32): bool {
  return crc32(at + OFF_HCRC, size - OFF_HCRC, salt) == load<u32>(at, OFF_CRC);
}

/**
 * Descriptor, DESC_SIZE bytes, read by src/codec/codec.ts:
 *   u32 offset, u32 flags, u32 keyLen, u32 valueLen, f64 timestamp, f64 expireAt, f64 seq.
 * Numbers leave as f64 because JS numbers are what the caller wants.
 */
export function writeDescriptor(desc: usize, offset: u32, at: usize, hsize: u32): void {
  store<u32>(desc, offset);
  store<u32>(desc, load<u8>(at, OFF_FLAGS), 4);
  store<u32>(desc, load<u32>(at, OFF_KEY_LEN), 8);
  store<u32>(desc, load<u32>(at, OFF_VALUE_LEN), 12);
  store<f64>(desc, <f64> load<u64>(at, OFF_TIMESTAMP), 16);
  store<f64>(desc, <f64> load<u64>(at, OFF_EXPIRE_AT), 24);
  store<f64>(desc, hsize > <u32> OFF_SEQ ? <f64> load<u64>(at, OFF_SEQ) : 0, 32);
}

/** Validates the header at `at` and, if valid, writes its descriptor (offset 0) to `desc`. */
export function readHeader(at: usize, desc: usize, hsize: u32, salt: u32): bool {
  if (!headerValid(at, hsize, salt)) return false;
  writeDescriptor(desc, 0, at, hsize);
  return true;
}
