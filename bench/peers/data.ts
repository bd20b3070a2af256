// Deterministic key/value material shared by every engine, so each child writes and
// reads exactly the same bytes in the same order.

import { prng } from "../../tests/helpers.ts";

export const KEY_SIZE = 16;
export const VALUE_SIZE = 100;

/** mulberry32 as 32-bit integers: the tests' seeded PRNG, scaled back to whole words. */
export function mulberry32(seed: number): () => number {
  const next = prng(seed);
  return () => (next() * 0x1_0000_0000) >>> 0;
}

export function randomBytes(size: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const out = new Uint8Array(size);
  const words = new Uint32Array(out.buffer, 0, size >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = next();
  for (let i = words.length * 4; i < size; i++) out[i] = next() & 0xff;
  return out;
}

/** Fisher-Yates over 0..n-1. */
export function permutation(n: number, seed: number): Uint32Array {
  const next = mulberry32(seed);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Uniform picks with replacement, like db_bench's readrandom. */
export function picks(count: number, n: number, seed: number): Uint32Array {
  const next = mulberry32(seed);
  const p = new Uint32Array(count);
  for (let i = 0; i < count; i++) p[i] = next() % n;
  return p;
}

/** A sequence of writes in workload order; engines pull by index so no arrays of pairs exist. */
export interface Writes {
  readonly count: number;
  key(i: number): Uint8Array;
  value(i: number): Uint8Array;
}

/** A sequence of keys to read or delete. */
export interface Keys {
  readonly count: number;
  key(i: number): Uint8Array;
}

/**
 * N 16-byte keys. Bytes 0-3 are i scaled onto the full u32 range, so index order is byte
 * order (fillseq really is sequential) while the leading bytes still spread like random
 * keys; bytes 4-15 are random. Missing keys differ from key i only in the last byte,
 * which cannot collide because the 4-byte prefix already identifies i.
 */
export class Dataset {
  readonly keys: Uint8Array;
  readonly missing: Uint8Array;
  // Values are views into a random pool: distinct per (i, pass) without 100 bytes of
  // fresh garbage per op, and never mutated, so engines that keep references stay correct.
  readonly #pool = randomBytes(1 << 20, 7);

  constructor(readonly n: number, seed = 42) {
    this.keys = randomBytes(n * KEY_SIZE, seed);
    const view = new DataView(this.keys.buffer);
    const step = 2 ** 32 / n;
    for (let i = 0; i < n; i++) view.setUint32(i * KEY_SIZE, Math.floor(i * step));
    this.missing = this.keys.slice();
    for (let i = 0; i < n; i++) this.missing[i * KEY_SIZE + KEY_SIZE - 1] ^= 0xff;
  }

  key(i: number): Uint8Array {
    return this.keys.subarray(i * KEY_SIZE, (i + 1) * KEY_SIZE);
  }

  value(i: number, pass: number): Uint8Array {
    const off = (i * 7919 + pass * 104729) % (this.#pool.length - VALUE_SIZE);
    return this.#pool.subarray(off, off + VALUE_SIZE);
  }

  /** Writes of every key in `order` (identity when omitted), with values of `pass`. */
  writes(pass: number, order?: Uint32Array): Writes {
    const at = order ? (i: number) => order[i] : (i: number) => i;
    return {
      count: this.n,
      key: (i) => this.key(at(i)),
      value: (i) => this.value(at(i), pass),
    };
  }

  /** Writes of the N missing keys, in index order: a second N distinct keys. */
  missingWrites(pass: number): Writes {
    return {
      count: this.n,
      key: (i) => this.missing.subarray(i * KEY_SIZE, (i + 1) * KEY_SIZE),
      value: (i) => this.value(i, pass),
    };
  }

  lookups(order: Uint32Array, missing = false): Keys {
    const src = missing ? this.missing : this.keys;
    return {
      count: order.length,
      key: (i) => src.subarray(order[i] * KEY_SIZE, (order[i] + 1) * KEY_SIZE),
    };
  }
}
