/**
 * Recently read values, so a GET of a hot key is answered without the
 * store's index lookup and positional read, and without waiting for a
 * promise (profiled: the store read was 36% of a pipelined GET's CPU).
 * A key read and found absent is kept too, as null: a miss otherwise takes
 * the store's promise every time (measured: an unpipelined GET benchmark
 * with one key in seven absent spent 1 us more server CPU per request).
 *
 * The cache is exact because every write of the server reports to it (the
 * store is locked to this process, and `cask serve` is its only writer):
 * a write drops its keys when it is issued, and a value read from the store
 * is kept only if no write at all was in flight when it was read nor issued
 * before it is kept, so it is the value the store would give now. Expiry is
 * checked on every hit against the key's own expiry time.
 *
 * Values are copied when kept: a small value from the store is a view into a
 * shared 64 KiB slab, which it would otherwise pin. Entries are found by a
 * hash of the key's bytes, not by a string made of them: building that string
 * and hashing it cost a third of a pipelined GET's own JavaScript, and the
 * number-keyed map was about 30% faster in a best-of-8 micro-benchmark.
 * @module
 */

import { sameBytes } from "./words.ts";

// Bookkeeping per entry (map slot, key copy, entry object), roughly.
const ENTRY_OVERHEAD = 96;

interface Cached {
  key: Uint8Array;
  /** null: the key is absent. */
  value: Uint8Array | null;
  /** Expiry in ms since the epoch; 0: never. */
  expireAt: number;
  /** What this entry counts against the budget. */
  cost: number;
  /** The next entry whose key has the same hash. */
  next: Cached | undefined;
}

/** A snapshot taken before a store read, to decide whether its result may be kept. */
export type ReadTicket = number;

/** Exact cache of recently read values, bounded in bytes. */
export class ValueCache {
  readonly #budget: number;
  readonly #largest: number;
  // By hash of the key: the entries with that hash. Insertion order of the
  // hashes is eviction order: the oldest goes first.
  readonly #chains = new Map<number, Cached>();
  #size = 0;
  #bytes = 0;
  // Writes issued so far, and those issued but not yet settled.
  #issued = 0;
  #running = 0;

  /** At most `budget` bytes in all; no single value above `largest` bytes. */
  constructor(budget: number, largest = 64 * 1024) {
    this.#budget = budget;
    this.#largest = Math.min(largest, budget);
  }

  /** Bytes held now (values, keys and bookkeeping). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries held now. */
  get size(): number {
    return this.#size;
  }

  /**
   * The cached live value of `key`; null when it is known to be absent,
   * undefined when nothing about it is cached.
   */
  get(key: Uint8Array): Uint8Array | null | undefined {
    if (this.#size === 0) return undefined;
    const h = hash(key);
    for (let e = this.#chains.get(h); e !== undefined; e = e.next) {
      if (!sameBytes(e.key, key)) continue;
      if (e.expireAt !== 0 && e.expireAt <= Date.now()) {
        this.#drop(h, e);
        return undefined;
      }
      return e.value;
    }
    return undefined;
  }

  /** Call right before reading `key` from the store; pass the result to {@link keep}. */
  ticket(): ReadTicket | undefined {
    return this.#running === 0 && this.#budget > 0 ? this.#issued : undefined;
  }

  /** Keeps what a store read taken with `ticket` found, unless a write may have raced it. */
  keep(
    ticket: ReadTicket | undefined,
    key: Uint8Array,
    value: Uint8Array | null,
    expireAt: number,
  ): void {
    const length = value === null ? 0 : value.length;
    if (ticket !== this.#issued || length > this.#largest) return;
    const cost = key.length + length + ENTRY_OVERHEAD;
    if (cost > this.#budget) return;
    const h = hash(key);
    this.#forget(h, key);
    while (this.#bytes + cost > this.#budget) {
      const [oldest, chain] = this.#chains.entries().next().value!;
      for (let e: Cached | undefined = chain; e !== undefined; e = e.next) this.#drop(oldest, e);
    }
    const next = this.#chains.get(h);
    const kept = value === null ? null : value.slice();
    this.#chains.set(h, { key: key.slice(), value: kept, expireAt, cost, next });
    this.#size++;
    this.#bytes += cost;
  }

  /**
   * Records that a write to `keys` is being issued now; call {@link settled}
   * once the store applied or refused it.
   */
  issued(keys: readonly Uint8Array[]): void {
    this.#issued++;
    this.#running++;
    if (this.#size === 0) return;
    for (const key of keys) this.#forget(hash(key), key);
  }

  /** A write announced with {@link issued} was applied or refused. */
  settled(): void {
    this.#running--;
  }

  #forget(h: number, key: Uint8Array): void {
    for (let e = this.#chains.get(h); e !== undefined; e = e.next) {
      if (sameBytes(e.key, key)) return this.#drop(h, e);
    }
  }

  // Unlinks `e` from the chain of hash `h`.
  #drop(h: number, e: Cached): void {
    const head = this.#chains.get(h)!;
    if (head === e) {
      if (e.next === undefined) this.#chains.delete(h);
      else this.#chains.set(h, e.next);
    } else {
      let before = head;
      while (before.next !== e) before = before.next!;
      before.next = e.next;
    }
    this.#size--;
    this.#bytes -= e.cost;
  }
}

// FNV-1a, cut to a small integer so the map keys stay unboxed.
function hash(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i], 0x01000193);
  return h & 0x3fffffff;
}
