/**
 * Recently read values, so a GET of a hot key is answered without the
 * store's index lookup and positional read, and without waiting for a
 * promise (profiled: the store read was 36% of a pipelined GET's CPU).
 *
 * The cache is exact because every write of the server reports to it (the
 * store is locked to this process, and `cask serve` is its only writer):
 * a write drops its keys when it is issued, and a value read from the store
 * is kept only if no write at all was in flight when it was read nor issued
 * before it is kept, so it is the value the store would give now. Expiry is
 * checked on every hit against the key's own expiry time.
 *
 * Values are copied when kept: a small value from the store is a view into a
 * shared 64 KiB slab, which it would otherwise pin.
 * @module
 */

import { byteString } from "./words.ts";

interface Cached {
  value: Uint8Array;
  /** Expiry in ms since the epoch; 0: never. */
  expireAt: number;
  /** What this entry counts against the budget. */
  cost: number;
}

// Bookkeeping per entry (map slot, key string, entry object), roughly.
const ENTRY_OVERHEAD = 96;

/** A snapshot taken before a store read, to decide whether its result may be kept. */
export type ReadTicket = number;

/** Exact cache of recently read values, bounded in bytes. */
export class ValueCache {
  readonly #budget: number;
  readonly #largest: number;
  // Insertion order is eviction order: the oldest entry goes first.
  readonly #entries = new Map<string, Cached>();
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
    return this.#entries.size;
  }

  /** The cached live value of `key`, or undefined when not cached. */
  get(key: Uint8Array): Uint8Array | undefined {
    if (this.#entries.size === 0) return undefined;
    const id = byteString(key);
    const e = this.#entries.get(id);
    if (e === undefined) return undefined;
    if (e.expireAt !== 0 && e.expireAt <= Date.now()) {
      this.#drop(id, e);
      return undefined;
    }
    return e.value;
  }

  /** Call right before reading `key` from the store; pass the result to {@link keep}. */
  ticket(): ReadTicket | undefined {
    return this.#running === 0 && this.#budget > 0 ? this.#issued : undefined;
  }

  /** Keeps what a store read taken with `ticket` found, unless a write may have raced it. */
  keep(ticket: ReadTicket | undefined, key: Uint8Array, value: Uint8Array, expireAt: number): void {
    if (ticket !== this.#issued || value.length > this.#largest) return;
    const id = byteString(key);
    const cost = id.length + value.length + ENTRY_OVERHEAD;
    if (cost > this.#budget) return;
    const old = this.#entries.get(id);
    if (old !== undefined) this.#drop(id, old);
    while (this.#bytes + cost > this.#budget) {
      const [oldestId, oldest] = this.#entries.entries().next().value!;
      this.#drop(oldestId, oldest);
    }
    this.#entries.set(id, { value: value.slice(), expireAt, cost });
    this.#bytes += cost;
  }

  /**
   * Records that a write to `keys` is being issued now; call {@link settled}
   * once the store applied or refused it.
   */
  issued(keys: readonly Uint8Array[]): void {
    this.#issued++;
    this.#running++;
    if (this.#entries.size === 0) return;
    for (const key of keys) {
      const id = byteString(key);
      const e = this.#entries.get(id);
      if (e !== undefined) this.#drop(id, e);
    }
  }

  /** A write announced with {@link issued} was applied or refused. */
  settled(): void {
    this.#running--;
  }

  #drop(id: string, e: Cached): void {
    this.#entries.delete(id);
    this.#bytes -= e.cost;
  }
}
