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
 * Layout: each entry is one record in a ring buffer (what the cache knows of
 * it, then the key, then the value), oldest evicted first, found through an
 * open-addressing table of (hash, record) pairs in one typed array. A lookup
 * so touches one table slot and one record. With an object per entry holding
 * copies of key and value in a Map, a hit cost about 1 us of server CPU
 * under a pipelined GET benchmark, more than the whole rest of the request
 * (0.85 us, measured by answering with a constant): the chain of objects
 * missed the CPU cache at every step, the allocations of the requests around
 * it having pushed it out.
 * @module
 */

// A record: its state, its length, the key's and the value's lengths (-1:
// absent), the expiry (ms since the epoch; 0: never) and the key's hash, then
// the key and the value, padded to whole 8-byte words.
const HEADER = 32;
const STATE = 0; // word index of each field
const LENGTH = 1;
const KEY_LEN = 2;
const VALUE_LEN = 3;
const EXPIRE_AT = 2; // index in 8-byte words
const HASH = 6;
const LIVE = 1;
const DEAD = -1;
const WRAP = -2;
// A slot of the table: [hash, record position]; -1 as position: empty.
const EMPTY = -1;
// The table's share of an entry: 8 bytes a slot, and a table grows once half
// full. It does not shrink, so after many evictions it can hold more.
const ENTRY_OVERHEAD = 32;
const MIN_SLOTS = 64;

/**
 * The largest budget: ring positions are kept in an Int32Array, and the ring
 * is one allocation.
 */
export const MAX_VALUE_CACHE_BYTES = 2 ** 30;

/** A snapshot taken before a store read, to decide whether its result may be kept. */
export type ReadTicket = number;

/** Exact cache of recently read values, bounded in bytes. */
export class ValueCache {
  readonly #budget: number;
  readonly #largest: number;
  #slots = new Int32Array(2 * MIN_SLOTS).fill(EMPTY);
  #mask = MIN_SLOTS - 1;
  #size = 0;
  // The ring, with word views of it; allocated at the first keep, so the
  // pages a budget never reaches are never touched.
  #ring = new Uint8Array(0);
  #words = new Int32Array(0);
  #doubles = new Float64Array(0);
  #head = 0; // where the next record goes
  #tail = 0; // the oldest record
  #used = 0; // ring bytes from tail to head, wrap gap included
  // Writes issued so far, and those issued but not yet settled.
  #issued = 0;
  #running = 0;

  /**
   * At most `budget` bytes in all (capped at {@link MAX_VALUE_CACHE_BYTES});
   * no single value above `largest` bytes.
   */
  constructor(budget: number, largest = 64 * 1024) {
    budget = Math.min(budget, MAX_VALUE_CACHE_BYTES);
    this.#budget = budget;
    this.#largest = Math.min(largest, budget);
  }

  /** Bytes held now (ring and table). */
  get bytes(): number {
    return this.#used + this.#size * ENTRY_OVERHEAD;
  }

  /** Entries held now. */
  get size(): number {
    return this.#size;
  }

  /**
   * The cached live value of `key`; null when it is known to be absent,
   * undefined when nothing about it is cached. The value is a view into the
   * cache, valid until the cache next keeps something: copy it to hold it
   * longer.
   */
  get(key: Uint8Array): Uint8Array | null | undefined {
    if (this.#size === 0) return undefined;
    const slot = this.#find(hash(key), key);
    if (slot < 0) return undefined;
    const at = this.#slots[slot + 1];
    const expireAt = this.#doubles[(at >> 3) + EXPIRE_AT];
    if (expireAt !== 0 && expireAt <= Date.now()) {
      this.#unlink(slot);
      return undefined;
    }
    const w = at >> 2;
    const length = this.#words[w + VALUE_LEN];
    if (length < 0) return null;
    const from = at + HEADER + this.#words[w + KEY_LEN];
    return this.#ring.subarray(from, from + length);
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
    const recordBytes = (HEADER + key.length + length + 7) & ~7;
    if (recordBytes + ENTRY_OVERHEAD > this.#budget) return;
    const h = hash(key);
    const old = this.#find(h, key);
    if (old >= 0) this.#unlink(old);
    if (this.#ring.length === 0) {
      this.#ring = new Uint8Array((this.#budget + 7) & ~7);
      this.#words = new Int32Array(this.#ring.buffer);
      this.#doubles = new Float64Array(this.#ring.buffer);
    }
    const at = this.#place(recordBytes);
    const w = at >> 2;
    const words = this.#words;
    words[w + STATE] = LIVE;
    words[w + LENGTH] = recordBytes;
    words[w + KEY_LEN] = key.length;
    words[w + VALUE_LEN] = value === null ? -1 : length;
    words[w + HASH] = h;
    this.#doubles[(at >> 3) + EXPIRE_AT] = expireAt;
    this.#ring.set(key, at + HEADER);
    if (value !== null) this.#ring.set(value, at + HEADER + key.length);
    if (2 * (this.#size + 1) > this.#mask + 1) this.#grow();
    this.#insert(h, at);
    this.#size++;
  }

  /**
   * Records that a write to `keys` is being issued now; call {@link settled}
   * once the store applied or refused it.
   */
  issued(keys: readonly Uint8Array[]): void {
    this.#issued++;
    this.#running++;
    if (this.#size === 0) return;
    for (const key of keys) {
      const slot = this.#find(hash(key), key);
      if (slot >= 0) this.#unlink(slot);
    }
  }

  /** A write announced with {@link issued} was applied or refused. */
  settled(): void {
    this.#running--;
  }

  // The slot (index of its hash word) of `key`, or -1.
  #find(h: number, key: Uint8Array): number {
    const slots = this.#slots;
    const mask = this.#mask;
    const words = this.#words;
    const ring = this.#ring;
    const n = key.length;
    next: for (let i = h & mask;; i = (i + 1) & mask) {
      const at = slots[2 * i + 1];
      if (at === EMPTY) return -1;
      if (slots[2 * i] !== h || words[(at >> 2) + KEY_LEN] !== n) continue;
      const from = at + HEADER;
      for (let j = 0; j < n; j++) if (ring[from + j] !== key[j]) continue next;
      return 2 * i;
    }
  }

  #insert(h: number, at: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = h & mask;
    while (slots[2 * i + 1] !== EMPTY) i = (i + 1) & mask;
    slots[2 * i] = h;
    slots[2 * i + 1] = at;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Int32Array(2 * old.length).fill(EMPTY);
    this.#mask = old.length - 1;
    for (let s = 0; s < old.length; s += 2) {
      if (old[s + 1] !== EMPTY) this.#insert(old[s], old[s + 1]);
    }
  }

  // Drops the entry in `slot` and marks its record dead; the ring space
  // comes back when the tail passes it. The slots after it in its probe run
  // move back, so that no run is broken by a hole (no tombstones).
  #unlink(slot: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    this.#words[slots[slot + 1] >> 2] = DEAD;
    this.#size--;
    let hole = slot >> 1;
    for (let i = (hole + 1) & mask;; i = (i + 1) & mask) {
      const at = slots[2 * i + 1];
      if (at === EMPTY) break;
      const home = slots[2 * i] & mask;
      // Moves back only if its home is not in (hole, i], cyclically.
      if (hole <= i ? home > hole && home <= i : home > hole || home <= i) continue;
      slots[2 * hole] = slots[2 * i];
      slots[2 * hole + 1] = at;
      hole = i;
    }
    slots[2 * hole + 1] = EMPTY;
  }

  #evictOldest(): void {
    const words = this.#words;
    const tail = this.#tail;
    const w = tail >> 2;
    if (words[w + STATE] === WRAP) {
      this.#used -= this.#ring.length - tail;
      this.#tail = 0;
    } else {
      const recordBytes = words[w + LENGTH];
      if (words[w + STATE] === LIVE) this.#unlink(this.#slotOf(words[w + HASH], tail));
      this.#used -= recordBytes;
      this.#tail = tail + recordBytes === this.#ring.length ? 0 : tail + recordBytes;
    }
    if (this.#used === 0) this.#head = this.#tail = 0;
  }

  #slotOf(h: number, at: number): number {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = h & mask;
    while (slots[2 * i + 1] !== at) i = (i + 1) & mask;
    return 2 * i;
  }

  // Where a record of `recordBytes` goes; evicts until the ring has room
  // there and the budget room for one more entry.
  #place(recordBytes: number): number {
    const capacity = this.#ring.length;
    for (;;) {
      if (this.#used + (this.#size + 1) * ENTRY_OVERHEAD + recordBytes > this.#budget) {
        this.#evictOldest();
        continue;
      }
      const head = this.#head;
      if (this.#used === 0 || head > this.#tail) {
        // Free: [head, capacity), then [0, tail) after a wrap.
        if (head + recordBytes <= capacity) break;
        this.#words[head >> 2] = WRAP;
        this.#used += capacity - head;
        this.#head = 0;
        if (this.#used === capacity) this.#evictOldest();
        continue;
      }
      // Wrapped: free is [head, tail).
      if (head + recordBytes <= this.#tail) break;
      this.#evictOldest();
    }
    const at = this.#head;
    this.#head = at + recordBytes === capacity ? 0 : at + recordBytes;
    this.#used += recordBytes;
    return at;
  }
}

// FNV-1a, cut to a small integer so it stays unboxed.
function hash(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i], 0x01000193);
  return h & 0x3fffffff;
}
