// Compaction's bulk work: checking the records it gathered and re-sealing them
// for their output file, many per call, so JS crosses into wasm once per batch
// instead of twice per record.

import {
  OFF_EXPIRE_AT,
  OFF_FLAGS,
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

/** Copies the records of the `count` rows listed (u32 row numbers) at `list` from `window` to their places. */
export function copyRows(ptr: usize, table: usize, list: usize, count: u32, window: usize): void {
  for (let k: u32 = 0; k < count; k++) {
    const row = table + <usize> load<u32>(list + (<usize> k << 2)) * ROW_SIZE;
    memory.copy(ptr + load<u32>(row), window + load<u32>(row, 20), load<u32>(row, 4));
  }
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
  let h = hint;
  const first = load<u32>(table + <usize> from * ROW_SIZE);
  for (let i = from; i < to; i++) {
    const pos = load<u32>(table + <usize> i * ROW_SIZE);
    const at = ptr + pos;
    resealRecord(at, hsize, salt, clearFlags);
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
