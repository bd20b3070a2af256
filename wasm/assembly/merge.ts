// Compaction's bulk work: checking the records it gathered and re-sealing them
// for their output file, many per call, so JS crosses into wasm once per batch
// instead of twice per record.

import {
  OFF_CRC,
  OFF_EXPIRE_AT,
  OFF_FLAGS,
  OFF_HCRC,
  OFF_KEY_LEN,
  OFF_SEQ,
  OFF_TIMESTAMP,
  OFF_VALUE_LEN,
} from "../../src/codec/format";
import { headerValid, recordSize, recordValid, resealRecord } from "./record";

/**
 * Bytes per row of the table that says where each gathered record lies and
 * what it must be: u32 position (from the batch start), u32 size, u32 salt,
 * u32 header size, u32 key length, u32 position in the read window it is
 * copied from. src/codec/codec.ts fills it.
 */
export const ROW_SIZE: u32 = 24;

/**
 * Copies the records of the `count` rows listed (u32 row numbers) at `list` from
 * `window` to their places. Records that lie back to back in the window and go
 * back to back are copied in one piece.
 */
export function copyRows(ptr: usize, table: usize, list: usize, count: u32, window: usize): void {
  let to: usize = 0, from: usize = 0, len: usize = 0;
  for (let k: u32 = 0; k < count; k++) {
    const row = table + <usize> load<u32>(list + (<usize> k << 2)) * ROW_SIZE;
    const t = ptr + load<u32>(row), f = window + load<u32>(row, 20);
    const n = <usize> load<u32>(row, 4);
    if (len > 0 && t == to + len && f == from + len) {
      len += n;
      continue;
    }
    if (len > 0) memory.copy(to, from, len);
    to = t;
    from = f;
    len = n;
  }
  if (len > 0) memory.copy(to, from, len);
}

// Bytes of a hint entry before its key; the layout is src/log/hint.ts's.
const HINT_ENTRY: usize = 44;

/**
 * Index of the first row, from `from`, whose record is not whole and valid
 * under its salt or not of the size and key length the row says; n when
 * every one is.
 */
export function checkRecords(ptr: usize, table: usize, from: u32, n: u32): u32 {
  for (let i = from; i < n; i++) {
    const row = table + <usize> i * ROW_SIZE;
    const at = ptr + load<u32>(row);
    const size = load<u32>(row, 4);
    const salt = load<u32>(row, 8);
    const hsize = load<u32>(row, 12);
    if (
      size < hsize || !headerValid(at, hsize, salt) ||
      recordSize(at, hsize) != <u64> size || load<u32>(at, OFF_KEY_LEN) != load<u32>(row, 16) ||
      !recordValid(at, size, salt)
    ) return i;
  }
  return n;
}

/**
 * Re-seals the checked records of rows [from, to), all of header size `hsize`
 * and lying back to back, under `salt` with `clearFlags` cleared, and writes
 * their hint entries at `hint`: the first record goes to offset `outAt` of the
 * output file and the rest follow it. Returns the hint bytes written.
 */
export function sealRecords(
  ptr: usize,
  table: usize,
  from: u32,
  to: u32,
  hsize: u32,
  salt: u32,
  clearFlags: u32,
  hint: usize,
  outAt: f64,
): u32 {
  if (salt != sealSalt) {
    memory.fill(SEAL_CACHE, 0, SEAL_SLOTS * SEAL_SLOT);
    sealSalt = salt;
  }
  let h = hint;
  const first = load<u32>(table + <usize> from * ROW_SIZE);
  for (let i = from; i < to; i++) {
    const row = table + <usize> i * ROW_SIZE;
    const pos = load<u32>(row);
    const at = ptr + pos;
    reseal(at, load<u32>(row, 4), load<u32>(row, 8), hsize, salt, clearFlags);
    const keyLen = load<u32>(at, OFF_KEY_LEN);
    store<u32>(h, keyLen);
    store<u32>(h, load<u32>(at, OFF_VALUE_LEN), 4);
    store<u64>(h, <u64> (outAt + <f64> (pos - first)), 8);
    store<u64>(h, load<u64>(at, OFF_TIMESTAMP), 16);
    store<u64>(h, load<u64>(at, OFF_EXPIRE_AT), 24);
    store<u64>(h, load<u64>(at, OFF_SEQ), 32);
    store<u32>(h, load<u8>(at, OFF_FLAGS), 40);
    memory.copy(h + HINT_ENTRY, at + hsize, keyLen);
    h += HINT_ENTRY + keyLen;
  }
  return <u32> (h - hint);
}

// Re-sealing by difference. A CRC is affine over GF(2) in its seed and its
// message: crc(s, m) = A(s, |m|) ^ L(m). A checked record re-sealed under a new
// salt with the same flag bits cleared therefore changes both CRCs by amounts
// that depend only on the two salts, the record's size, its header size and
// which flag bits were cleared (the header CRC lies inside what the record CRC
// covers, and its change is itself such an amount). The first record of each
// kind is re-sealed in full and the two differences are kept; the others of
// that kind take them with two XORs instead of two passes over their bytes
// (100k records of 150 bytes: 17-20 ms of a compaction against 2-3). The
// record must have been checked under `oldSalt`: its old CRCs are the start.
const SEAL_SLOTS: usize = 64;
const SEAL_SLOT: usize = 24;
const SEAL_CACHE: usize = memory.data(<i32> (SEAL_SLOTS * SEAL_SLOT), 16);
// The salt the kept differences lead to; another one empties the cache.
let sealSalt: u32 = 0;

function reseal(at: usize, size: u32, oldSalt: u32, hsize: u32, salt: u32, clearFlags: u32): void {
  const cleared = <u32> load<u8>(at, OFF_FLAGS) & clearFlags;
  const pick = (size ^ oldSalt ^ (oldSalt >>> 16)) & <u32> (SEAL_SLOTS - 1);
  const slot = SEAL_CACHE + <usize> pick * SEAL_SLOT;
  // An empty slot has size 0, which no record has.
  if (
    load<u32>(slot) == size && load<u32>(slot, 4) == oldSalt && load<u32>(slot, 8) == hsize &&
    load<u32>(slot, 12) == cleared
  ) {
    store<u8>(at, <u8> (<u32> load<u8>(at, OFF_FLAGS) & ~clearFlags), OFF_FLAGS);
    store<u32>(at, load<u32>(at, OFF_HCRC) ^ load<u32>(slot, 16), OFF_HCRC);
    store<u32>(at, load<u32>(at, OFF_CRC) ^ load<u32>(slot, 20), OFF_CRC);
    return;
  }
  const oldH = load<u32>(at, OFF_HCRC), oldC = load<u32>(at, OFF_CRC);
  resealRecord(at, hsize, salt, clearFlags);
  store<u32>(slot, size);
  store<u32>(slot, oldSalt, 4);
  store<u32>(slot, hsize, 8);
  store<u32>(slot, cleared, 12);
  store<u32>(slot, load<u32>(at, OFF_HCRC) ^ oldH, 16);
  store<u32>(slot, load<u32>(at, OFF_CRC) ^ oldC, 20);
}
