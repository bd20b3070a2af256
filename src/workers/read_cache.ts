/**
 * A Worker's cache of the values it read, kept exact by the owner's stream of
 * changed keys. Invariant: every cached answer equals the owner's state at the
 * point of the stream this thread has handled. An answer fetched from the owner
 * is cached only if no change to its key arrived while it was in flight (the
 * owner may have read it before a commit whose keys came first); a changed key
 * is dropped. Keys with an expiry are not cached: their end is the owner's
 * clock's business.
 * @module
 */

/** A key's value as the owner answered it (expireAt is 0 for every cached one). */
export interface Cached {
  value: Uint8Array;
  sequence: number;
  expireAt: number;
}

/** One read in flight to the owner. */
export interface Fetch {
  readonly k: string;
  stale: boolean;
}

// Map and string overhead per entry, roughly, for the byte budget.
const ENTRY_OVERHEAD = 80;

/** See the module doc. */
export class ReadCache {
  // null: known absent.
  readonly #entries = new Map<string, Cached | null>();
  readonly #inflight = new Map<string, Set<Fetch>>();
  #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** The cached answer for `k` (null: absent); undefined when not cached. */
  get(k: string): Cached | null | undefined {
    return this.#entries.get(k);
  }

  /** Notes a read of `k` sent to the owner; pass the token to {@link settle}. */
  begin(k: string): Fetch {
    const f = { k, stale: false };
    const set = this.#inflight.get(k);
    if (set) set.add(f);
    else this.#inflight.set(k, new Set([f]));
    return f;
  }

  /**
   * The owner answered `f` (null: absent; undefined: the read failed); caches
   * the answer when it is still exact.
   */
  settle(f: Fetch, answer?: Cached | null): void {
    const set = this.#inflight.get(f.k)!;
    set.delete(f);
    if (set.size === 0) this.#inflight.delete(f.k);
    if (answer === undefined || f.stale || answer?.expireAt || this.#maxBytes === 0) return;
    this.#drop(f.k);
    const size = f.k.length + (answer?.value.length ?? 0) + ENTRY_OVERHEAD;
    if (size > this.#maxBytes) return;
    while (this.#bytes + size > this.#maxBytes) {
      // Oldest first: Map iteration follows insertion order.
      this.#drop(this.#entries.keys().next().value!);
    }
    this.#entries.set(f.k, answer);
    this.#bytes += size;
  }

  /** Keys a commit changed: their answers are no longer exact. */
  changed(keys: readonly string[]): void {
    for (const k of keys) {
      this.#drop(k);
      const set = this.#inflight.get(k);
      if (set) { for (const f of set) f.stale = true; }
    }
  }

  /** Caches nothing from now on. */
  disable(): void {
    this.#maxBytes = 0;
    this.clear();
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #drop(k: string): void {
    if (!this.#entries.has(k)) return;
    const c = this.#entries.get(k)!;
    this.#bytes -= k.length + (c?.value.length ?? 0) + ENTRY_OVERHEAD;
    this.#entries.delete(k);
  }
}
