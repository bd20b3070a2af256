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
    if (t.length > 0) this.#sink(0, lastT, lastK);
    take(top, topKey);
  }

  /** Keeps the entries `keep` says yes to; the others go. */
  retain(keep: (expireAt: number, key: string) => boolean): void {
    const t: number[] = [], k: string[] = [];
    for (let i = 0; i < this.#times.length; i++) {
      if (!keep(this.#times[i], this.#keys[i])) continue;
      t.push(this.#times[i]);
      k.push(this.#keys[i]);
    }
    this.#times = t;
    this.#keys = k;
    // Bottom-up: each parent sinks below its smaller children.
    for (let i = (t.length >> 1) - 1; i >= 0; i--) this.#sink(i, t[i], k[i]);
  }

  // Puts (`at`, `key`) at slot `i` or below, moving smaller children up.
  #sink(i: number, at: number, key: string): void {
    const t = this.#times, k = this.#keys, n = t.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && t[c + 1] < t[c]) c++;
      if (t[c] >= at) break;
      t[i] = t[c];
      k[i] = k[c];
      i = c;
    }
    t[i] = at;
    k[i] = key;
  }
}
