/**
 * Which of an index checkpoint's entries an open checks against the log, and
 * the check. A checkpoint copied in from a fork of the store's history (the
 * same files, salts and sizes, after which the forks wrote different records
 * of the same sizes) passes the checks of its checksum, store id and file
 * table: only the records its entries point at tell. Checking them all would
 * be a read per key, so the open checks a sample: the entries at the newest
 * places in the log, where the records the forks wrote apart are (what they
 * share is older), and a few spread over the keys. Each is one positional
 * read of a record's header and key.
 * @module
 */

import { keyEquals } from "../base/keys.ts";
import { readHeader, type RecordFormat, recordSize } from "../codec/codec.ts";

// The entries at the newest places checked: a fork's last records can be the
// same as the log's (the same writes at the same clock), those before them not.
const NEWEST = 32;
// Entries checked at even steps over the keys, wherever their records are.
const SPREAD = 16;

/** A checkpoint entry: a key and where its record is. */
export interface CheckedEntry {
  key: string;
  fileId: number;
  offset: number;
  size: number;
  timestamp: number;
  expireAt: number;
}

/** Collects the entries to check as a checkpoint's `count` entries load. */
export class EntrySample {
  // The newest entries seen, oldest first, in a ring from `#head`: their keys,
  // and per entry its place in the log (as one number) and its five numbers.
  // Entries come in key order and records in write order, so a store written
  // in key order makes each entry the newest yet: one write at the ring's end,
  // with no object made.
  readonly #keys: string[] = [];
  readonly #rows = new Float64Array(NEWEST * ROW);
  #head = 0;
  readonly #spread: CheckedEntry[] = [];
  readonly #step: number;
  #seen = 0;

  constructor(count: number) {
    this.#step = Math.max(1, Math.ceil(count / SPREAD));
  }

  /** Takes the next entry (the arguments of an EntryVisitor). */
  add(
    key: string,
    fileId: number,
    offset: number,
    size: number,
    timestamp: number,
    expireAt: number,
  ): void {
    if (this.#seen++ % this.#step === 0) {
      this.#spread.push({ key, fileId, offset, size, timestamp, expireAt });
    }
    // Files hold less than 2^32 bytes but for a huge streamed value; inexact
    // places only change which entries are checked, not the checks.
    const place = fileId * 2 ** 32 + offset;
    const keys = this.#keys, rows = this.#rows;
    let n = keys.length;
    if (n === NEWEST) {
      if (place <= rows[this.#head * ROW]) return;
      this.#head = (this.#head + 1) % NEWEST;
      n--;
    }
    // From the end of the ring back past the entries newer than this one.
    let at = (this.#head + n) % NEWEST;
    for (let i = n; i > 0; i--) {
      const prev = (at + NEWEST - 1) % NEWEST;
      if (rows[prev * ROW] <= place) break;
      keys[at] = keys[prev];
      rows.copyWithin(at * ROW, prev * ROW, prev * ROW + ROW);
      at = prev;
    }
    keys[at] = key;
    const r = at * ROW;
    rows[r] = place;
    rows[r + 1] = fileId;
    rows[r + 2] = offset;
    rows[r + 3] = size;
    rows[r + 4] = timestamp;
    rows[r + 5] = expireAt;
  }

  /** The entries to check. */
  entries(): CheckedEntry[] {
    const rows = this.#rows;
    const newest = this.#keys.map((key, i) => {
      const [fileId, offset, size, timestamp, expireAt] = rows.subarray(i * ROW + 1, i * ROW + ROW);
      return { key, fileId, offset, size, timestamp, expireAt };
    });
    return [...newest, ...this.#spread];
  }
}

// Numbers per entry in the ring: its place, then an entry's five.
const ROW = 6;

/**
 * Whether a file of format `fmt` and `fileSize` bytes, read through `read`,
 * holds where entry `e` points a record whose header validates, of the
 * entry's key, size, timestamp and expiry.
 */
export function holdsEntry(
  e: CheckedEntry,
  fmt: RecordFormat,
  fileSize: number,
  read: (offset: number, into: Uint8Array) => void,
): boolean {
  if (e.offset + e.size > fileSize) return false;
  const head = new Uint8Array(fmt.headerSize + e.key.length);
  if (head.length > e.size) return false;
  read(e.offset, head);
  const h = readHeader(fmt, head, 0);
  return h !== undefined && h.keyLen === e.key.length && h.timestamp === e.timestamp &&
    h.expireAt === e.expireAt && recordSize(fmt, h.keyLen, h.valueLen) === e.size &&
    keyEquals(head, fmt.headerSize, e.key);
}
