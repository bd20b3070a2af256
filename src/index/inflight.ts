/**
 * The writes appended but not yet applied (under sync "always" a write is
 * applied after its fsync), by key: a checked commit, a delete and a
 * read-modify-write of `cask serve` judge a key by its newest write, applied
 * or not.
 *
 * Most writes are never asked about: a map entry per key cost durable
 * pipelined SETs of `cask serve` about a fifth of their CPU (1.1 of 4.8 µs a
 * request). So the batches are only queued, in append order, until something
 * asks; the map is built from them then, kept up to date while it has
 * entries, and dropped once every write in it is applied.
 * @module
 */

/** What the index needs of a write in flight. */
export interface InFlightOp {
  readonly k: string;
  readonly expireAt: number;
  readonly tombstone: boolean;
  /** A range delete, which is not a write of its start key `k`. */
  readonly range?: boolean;
}

/** A key's newest write in flight: its sequence number (negative for a delete) and expiry. */
export interface InFlight {
  seq: number;
  expireAt: number;
}

interface Batch {
  readonly ops: readonly InFlightOp[];
  readonly seq: number;
}

/** The writes in flight, by key, built only when asked for. */
export class InFlightWrites {
  // Batches not yet applied, oldest first from #head, while #byKey is unbuilt.
  #batches: Batch[] = [];
  #head = 0;
  #byKey?: Map<string, InFlight>;

  /** Write `seq`, of `ops`, was appended. */
  add(ops: readonly InFlightOp[], seq: number): void {
    if (this.#byKey) set(this.#byKey, ops, seq);
    else this.#batches.push({ ops, seq });
  }

  /** Write `seq`, of `ops`, was applied or never will be. */
  landed(ops: readonly InFlightOp[], seq: number): void {
    const b = this.#batches;
    if (!this.#byKey && b[this.#head]?.seq === seq) {
      // Writes are applied in append order.
      if (++this.#head === b.length) this.clear();
      else if (this.#head >= 1024 && this.#head * 2 >= b.length) {
        b.splice(0, this.#head);
        this.#head = 0;
      }
      return;
    }
    // A write rejected out of turn (or once the map is built): as the map has
    // it, the key's newest write decides, and an older one of the key still in
    // flight no longer counts.
    const m = this.#built();
    if (m.size > 0) {
      // Only when it is still the key's newest: a newer write stays in flight.
      for (const o of ops) {
        if (!o.range && Math.abs(m.get(o.k)?.seq ?? 0) === seq) m.delete(o.k);
      }
      if (m.size === 0) this.#byKey = undefined;
    }
  }

  /** Forgets every write (all of them were dropped). */
  clear(): void {
    this.#batches = [];
    this.#head = 0;
    this.#byKey = undefined;
  }

  /** `k`'s newest write in flight, if any. */
  get(k: string): InFlight | undefined {
    return this.#built().get(k);
  }

  /** Whether `k` has a write in flight. */
  has(k: string): boolean {
    return this.#built().has(k);
  }

  /** The keys with a write in flight. */
  keys(): IterableIterator<string> {
    return this.#built().keys();
  }

  #built(): Map<string, InFlight> {
    if (this.#byKey) return this.#byKey;
    const m = new Map<string, InFlight>();
    const b = this.#batches;
    for (let i = this.#head; i < b.length; i++) set(m, b[i].ops, b[i].seq);
    this.#batches = [];
    this.#head = 0;
    // Nothing in flight: the next write is queued again.
    if (m.size > 0) this.#byKey = m;
    return m;
  }
}

function set(m: Map<string, InFlight>, ops: readonly InFlightOp[], seq: number): void {
  for (const o of ops) {
    if (!o.range) m.set(o.k, { seq: o.tombstone ? -seq : seq, expireAt: o.expireAt });
  }
}
