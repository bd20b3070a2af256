/**
 * The index's keys that expire, soonest first: a binary min-heap of (expiry,
 * key). An expired key is dropped from the index when a read notices it; this
 * queue lets the store find every expired key without a walk of all keys, so
 * that its key count can leave them out. Entries are never updated in place: a
 * key overwritten or deleted leaves its old entry behind, and whoever pops it
 * checks it against the index (see KeyDir.expired).
 * @module
 */

/** A min-heap of expiry times with the key each belongs to. */
export class ExpiryQueue {
  #times: number[] = [];
  #keys: string[] = [];

  /** Entries held, stale ones included. */
  get length(): number {
    return this.#times.length;
  }

  push(expireAt: number, key: string): void {
    const t = this.#times, k = this.#keys;
    let i = t.length;
    t.push(expireAt);
    k.push(key);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (t[up] <= expireAt) break;
      t[i] = t[up];
      k[i] = k[up];
      i = up;
    }
    t[i] = expireAt;
    k[i] = key;
  }

  /** The soonest expiry held (Infinity when empty). */
  peek(): number {
    return this.#times.length === 0 ? Infinity : this.#times[0];
  }

  /** Removes the soonest entry and calls `take` with it. */
  pop(take: (expireAt: number, key: string) => void): void {
    const t = this.#times, k = this.#keys;
    const top = t[0], topKey = k[0];
    const lastT = t.pop()!, lastK = k.pop()!;
    const n = t.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && t[c + 1] < t[c]) c++;
        if (t[c] >= lastT) break;
        t[i] = t[c];
        k[i] = k[c];
        i = c;
      }
      t[i] = lastT;
      k[i] = lastK;
    }
    take(top, topKey);
  }

  /** Drops every entry. */
  clear(): void {
    this.#times = [];
    this.#keys = [];
  }
}
