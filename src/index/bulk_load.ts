/**
 * Loading the keydir from a replayed log. Inserting a million random keys one
 * by one into a B+tree is bound by cache misses: each insert lands in a
 * different leaf. So records are gathered in windows, and each window is
 * applied in the order of its keys' leading bytes (a stable counting sort, so
 * records of one key keep their log order and the last one still wins). A
 * window's inserts then walk the tree from left to right. Windows are small
 * enough that gathering costs little memory next to the keydir itself.
 * @module
 */

import type { EntryVisitor } from "../log/checkpoint.ts";
import type { RecoverySink } from "../log/recovery.ts";

/** Where recovery's records go, applied in log order per key. */
export interface LoadTarget {
  /** The record of `key` is its current value. */
  put: EntryVisitor;
  /** The key is deleted (a tombstone, or a record already expired). */
  remove(key: string): void;
  /** Every key in [start, end) is deleted (a range delete; `end` undefined: no end). */
  removeRange(start: string, end: string | undefined): void;
}

const WINDOW = 1 << 17;
const BUCKET_BITS = 16;

/** Gathers records and applies them window by window; see the module doc. */
export class BulkLoader {
  #keys: string[] = [];
  #num = new Float64Array(WINDOW * 5);
  #dead = new Uint8Array(WINDOW);
  #order = new Uint32Array(WINDOW);
  #counts = sortCounts();
  #n = 0;
  // Whether the window's keys arrived in order (a store written in key order): then it needs no sort.
  #sorted = true;
  // Bytes every key seen so far shares; buckets are taken from the bytes after it.
  #prefix?: string;

  constructor(public target: LoadTarget) {}

  /**
   * Drops the records gathered and not applied, and sends the ones that come
   * next to `target`: a loader, whose buffers are megabytes, serves one load
   * after another.
   */
  reset(target: LoadTarget): void {
    this.#keys.fill("", 0, this.#n);
    this.#n = 0;
    this.#sorted = true;
    this.target = target;
  }

  /** Adds a record in log order. */
  add(
    key: string,
    fileId: number,
    offset: number,
    size: number,
    dead: boolean,
    timestamp: number,
    expireAt: number,
  ): void {
    const i = this.#n++;
    if (this.#sorted && i > 0 && !(this.#keys[i - 1] < key)) this.#sorted = false;
    this.#keys[i] = key;
    const f = this.#num, o = i * 5;
    f[o] = fileId;
    f[o + 1] = offset;
    f[o + 2] = size;
    f[o + 3] = timestamp;
    f[o + 4] = expireAt;
    this.#dead[i] = dead ? 1 : 0;
    if (this.#n === WINDOW) this.flush();
  }

  /** Applies every gathered record. */
  flush(): void {
    const n = this.#n;
    if (n === 0) return;
    const keys = this.#keys;
    const order = this.#order;
    if (this.#sorted) {
      for (let i = 0; i < n; i++) order[i] = i;
      this.#apply(n);
      return;
    }
    this.#prefix = sortByKey(keys, n, order, this.#counts, this.#prefix);
    this.#apply(n);
  }

  // Applies the window's n records in the order #order gives, and empties it.
  #apply(n: number): void {
    const keys = this.#keys, order = this.#order, f = this.#num, t = this.target;
    for (let j = 0; j < n; j++) {
      const i = order[j], o = i * 5;
      if (this.#dead[i]) t.remove(keys[i]);
      else t.put(keys[i], f[o], f[o + 1], f[o + 2], f[o + 3], f[o + 4]);
      keys[i] = "";
    }
    this.#n = 0;
    this.#sorted = true;
  }
}

/**
 * Fills order[0, n) with the indexes of keys[0, n) in key order, stably (the
 * records of one key keep their log order): a counting sort on the two bytes
 * after the prefix all the keys share, then a sort inside each bucket.
 * `counts` is scratch of 2^16 + 1 slots; `prefix`, a guess at the shared
 * prefix (from an earlier window), is shortened as needed and returned.
 */
export function sortByKey(
  keys: readonly string[],
  n: number,
  order: Uint32Array,
  counts: Uint32Array,
  prefix = keys[0],
): string {
  let p = prefix;
  for (let i = 0; i < n && p.length > 0; i++) {
    if (!keys[i].startsWith(p)) p = p.slice(0, commonPrefix(p, keys[i]));
  }
  const d = p.length;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[bucket(keys[i], d) + 1]++;
  for (let b = 1; b < counts.length; b++) counts[b] += counts[b - 1];
  for (let i = 0; i < n; i++) order[counts[bucket(keys[i], d)]++] = i;
  for (let b = 0, from = 0; b < counts.length - 1; b++) {
    const to = counts[b];
    if (to - from > 1) sortRun(order, keys, from, to);
    from = to;
  }
  return p;
}

/** Scratch for {@link sortByKey}'s counting sort. */
export function sortCounts(): Uint32Array {
  return new Uint32Array((1 << BUCKET_BITS) + 1);
}

// Sorts order[from, to) by key, stably.
function sortRun(order: Uint32Array, keys: readonly string[], from: number, to: number): void {
  if (to - from <= 16) {
    for (let i = from + 1; i < to; i++) {
      const x = order[i], k = keys[x];
      let j = i - 1;
      while (j >= from && keys[order[j]] > k) {
        order[j + 1] = order[j];
        j--;
      }
      order[j + 1] = x;
    }
    return;
  }
  const run = Array.from(order.subarray(from, to));
  run.sort((a, b) => keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b);
  order.set(run, from);
}

/**
 * A recovery sink feeding `loader`: a tombstone, or a record already expired
 * at `now`, deletes its key.
 */
export function loadingSink(loader: BulkLoader, now: number): RecoverySink {
  return {
    record: (key, fileId, offset, size, tombstone, timestamp, expireAt) =>
      loader.add(
        key,
        fileId,
        offset,
        size,
        tombstone || (expireAt !== 0 && expireAt <= now),
        timestamp,
        expireAt,
      ),
    // Applied in log order: what the loader gathered so far goes first.
    range: (start, end) => {
      loader.flush();
      loader.target.removeRange(start, end);
    },
  };
}

// The two bytes of `k` after its first `d` (0 past the end).
function bucket(k: string, d: number): number {
  const a = d < k.length ? k.charCodeAt(d) & 0xff : 0;
  const b = d + 1 < k.length ? k.charCodeAt(d + 1) & 0xff : 0;
  return (a << 8) | b;
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}
