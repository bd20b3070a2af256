/**
 * Holding back what a follower's catch-up loads until the catch-up ends. The
 * bulk loader applies a window of records at a time (see bulk_load.ts), and a
 * catch-up that replays more than a window flushes one while the replay still
 * has awaits ahead. Applied at once, such a window would show readers part of
 * the log (half of a batch that straddles two windows) between those awaits.
 * Held, every window is applied, in order, in one synchronous step with the
 * last one.
 * @module
 */

import type { LoadTarget } from "./bulk_load.ts";

const PUT = 0, REMOVE = 1, RANGE = 2;
// Calls the arrays hold before they grow; they shrink back after a catch-up
// that made them grow (a follower lives long, and most catch-ups are small).
const START = 1024;

/** A load target that passes calls on, or while held keeps them for {@link release}. */
export class HeldLoad implements LoadTarget {
  readonly #to: LoadTarget;
  // The calls kept, in order: their kinds, their keys (a range's start), and
  // in typed arrays the numbers of puts (no boxed number per field); a
  // range's end goes to `#ends`.
  #kinds = new Uint8Array(START);
  #nums = new Float64Array(START * 5);
  #keys: string[] = [];
  #ends: (string | undefined)[] = [];
  #n = 0;
  #puts = 0;
  #holding = false;

  constructor(to: LoadTarget) {
    this.#to = to;
  }

  /** Keeps calls from now on until {@link release}. */
  hold(): void {
    this.#holding = true;
  }

  /** Applies the calls kept, in order, and passes later calls on again. */
  release(): void {
    const to = this.#to, kinds = this.#kinds, nums = this.#nums, keys = this.#keys;
    for (let i = 0, p = 0, r = 0; i < this.#n; i++) {
      const kind = kinds[i];
      if (kind === PUT) {
        to.put(keys[i], nums[p], nums[p + 1], nums[p + 2], nums[p + 3], nums[p + 4]);
        p += 5;
      } else if (kind === REMOVE) to.remove(keys[i]);
      else to.removeRange(keys[i], this.#ends[r++]);
    }
    this.#holding = false;
    this.#n = this.#puts = 0;
    this.#keys = [];
    this.#ends = [];
    if (kinds.length > START) this.#kinds = new Uint8Array(START);
    if (nums.length > START * 5) this.#nums = new Float64Array(START * 5);
  }

  put(
    key: string,
    fileId: number,
    offset: number,
    size: number,
    timestamp: number,
    expireAt: number,
  ): void {
    if (!this.#holding) return this.#to.put(key, fileId, offset, size, timestamp, expireAt);
    if ((this.#puts + 1) * 5 > this.#nums.length) {
      const more = new Float64Array(this.#nums.length * 2);
      more.set(this.#nums);
      this.#nums = more;
    }
    const o = this.#puts++ * 5, f = this.#nums;
    f[o] = fileId;
    f[o + 1] = offset;
    f[o + 2] = size;
    f[o + 3] = timestamp;
    f[o + 4] = expireAt;
    this.#keep(PUT, key);
  }

  remove(key: string): void {
    if (!this.#holding) return this.#to.remove(key);
    this.#keep(REMOVE, key);
  }

  removeRange(start: string, end: string | undefined): void {
    if (!this.#holding) return this.#to.removeRange(start, end);
    this.#ends.push(end);
    this.#keep(RANGE, start);
  }

  #keep(kind: number, key: string): void {
    if (this.#n === this.#kinds.length) {
      const more = new Uint8Array(this.#kinds.length * 2);
      more.set(this.#kinds);
      this.#kinds = more;
    }
    this.#kinds[this.#n] = kind;
    this.#keys[this.#n++] = key;
  }
}
