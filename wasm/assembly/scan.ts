// Bulk scanner: validates consecutive records in one call so JS pays one
// boundary crossing per batch instead of per record.

import { DESC_SIZE } from "./layout";
import { headerValid, recordSize, recordValid, writeDescriptor } from "./record";

/** Why the last scan stopped. */
export const SCAN_END: u32 = 0; // consumed the region exactly
export const SCAN_PARTIAL: u32 = 1; // the record at scanEnd does not fit in the region
export const SCAN_CORRUPT: u32 = 2; // the record at scanEnd is invalid
export const SCAN_FULL: u32 = 3; // every descriptor slot is used

/** Results of the last scan besides the descriptor count. */
export let scanStatus: u32 = SCAN_END;
/** Offset, from the region start, where the scan stopped. */
export let scanEnd: u32 = 0;
/** SCAN_PARTIAL: bytes the stopping record needs (its full size, or the header size if the header is cut). */
export let scanNeed: f64 = 0;

/**
 * Walks records in [ptr, ptr + len) of a file with header size `hsize` and salt
 * `salt`, writing up to maxDesc descriptors at `desc`; returns how many.
 */
export function scan(
  ptr: usize,
  len: usize,
  desc: usize,
  maxDesc: u32,
  hsize: u32,
  salt: u32,
): u32 {
  let pos: usize = 0;
  let n: u32 = 0;
  scanNeed = 0;
  while (true) {
    const left = len - pos;
    const at = ptr + pos;
    if (left == 0) {
      scanStatus = SCAN_END;
      break;
    }
    if (n == maxDesc) {
      scanStatus = SCAN_FULL;
      break;
    }
    if (left < <usize> hsize) {
      scanStatus = SCAN_PARTIAL;
      scanNeed = hsize;
      break;
    }
    if (!headerValid(at, hsize, salt)) {
      scanStatus = SCAN_CORRUPT;
      break;
    }
    const size = recordSize(at, hsize);
    if (size > <u64> left) {
      scanStatus = SCAN_PARTIAL;
      scanNeed = <f64> size;
      break;
    }
    if (!recordValid(at, <usize> size, salt)) {
      scanStatus = SCAN_CORRUPT;
      break;
    }
    writeDescriptor(desc + n * DESC_SIZE, <u32> pos, at, hsize);
    n++;
    pos += <usize> size;
  }
  scanEnd = <u32> pos;
  return n;
}
