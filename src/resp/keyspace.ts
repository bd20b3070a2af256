/**
 * The keyspace as command handlers see it. A handler reads through a
 * {@link KeyView} and records its writes there; the runner then commits them
 * in one `db.atomic()` call. One view serves one command, or every command of
 * a MULTI/EXEC, which is what makes EXEC all-or-nothing across a crash.
 * @module
 */

import type { BatchOp, Cask } from "../../mod.ts";
import { expiryAt } from "../api/store.ts";
import { offerSteps, syncSteps } from "../base/sync_steps.ts";
import type { ValueCache } from "./value_cache.ts";
import { byteString } from "./words.ts";

// A key's absolute expiry, exact (`db.ttl()` is relative to a clock read inside
// the call): a seam into the store for `cask serve` alone, kept out of the public surface.
export { expiryAt };

/** A key's value and its absolute expiry (ms since the epoch; undefined: none). */
export interface Entry {
  value: Uint8Array;
  expireAt?: number;
}

/** The reads a command may make. */
export interface ReadView {
  /** The clock expiries are computed against. */
  now(): number;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  has(key: Uint8Array): Promise<boolean>;
  /** Value and expiry together, read at one instant. */
  entry(key: Uint8Array): Promise<Entry | undefined>;
}

/** Entries written by writes still in flight, newer than the store's (pending_writes.ts). */
export interface InFlightEntries {
  /** `key`'s newest write if it is in flight: the entry it writes (null: a delete). */
  record(
    db: Cask,
    key: Uint8Array,
    id: string,
  ): { entry: Entry | null; write: { drops: number }; settled: Promise<unknown> } | undefined;
  /** Whether writes in flight were dropped since a record with these `drops` was read. */
  droppedSince(db: Cask, drops: number): boolean;
}

/** Reads and buffered writes of one command or transaction. */
export interface KeyView extends ReadView {
  put(key: Uint8Array, entry: Entry): void;
  remove(key: Uint8Array): void;
  /** Removes every key (FLUSHDB inside the view). */
  clear(): Promise<void>;
  /** The keys of `range` as this view has them, buffered writes included. */
  keys(range: KeyRange): AsyncIterable<Uint8Array>;
  /** How many keys this view has. */
  size(): Promise<number>;
  /** `key`'s absolute expiry as this view has it (Infinity: none), undefined when absent. */
  expiryAt(key: Uint8Array): number | undefined;
}

/** Which keys {@link KeyView.keys} yields, in what order: as the store's `keys()` takes them. */
export interface KeyRange {
  /** Only keys starting with these bytes. */
  prefix?: Uint8Array;
  /** The first key to include. */
  start?: Uint8Array;
  /** Descending order. */
  reverse?: boolean;
}

// A key's value and expiry, read at one point.
async function readEntry(db: Cask, key: Uint8Array): Promise<Entry | undefined> {
  const e = await db.getEntry(key);
  if (e === undefined) return undefined;
  return e.expireAt === 0 ? { value: e.value } : { value: e.value, expireAt: e.expireAt };
}

/** Reads the store, through the server's value cache; for commands that only read. */
export class StoreView implements ReadView {
  readonly #db: Cask;
  readonly #cache: ValueCache;
  constructor(db: Cask, cache: ValueCache) {
    this.#db = db;
    this.#cache = cache;
  }
  now(): number {
    return Date.now();
  }
  /**
   * The value of `key` if what it is is in memory, without waiting: null when
   * it is known to be absent, undefined when the store must be asked. The
   * value is the cache's view, valid until the cache next keeps something.
   */
  cached(key: Uint8Array): Uint8Array | null | undefined {
    return this.#cache.get(key);
  }
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const value = this.#cache.get(key);
    // Copied: the cache's view lasts only until it next keeps something.
    if (value !== undefined) return Promise.resolve(value?.slice());
    const ticket = this.#cache.ticket();
    // Nothing could be kept: the plain read is the cheaper one.
    if (ticket === undefined) return this.#db.get(key);
    return this.#db.getEntry(key).then((e) => {
      this.#cache.keep(ticket, key, e?.value ?? null, e?.expireAt ?? 0);
      return e?.value;
    });
  }
  has(key: Uint8Array): Promise<boolean> {
    const value = this.#cache.get(key);
    return value !== undefined ? Promise.resolve(value !== null) : this.#db.has(key);
  }
  entry(key: Uint8Array): Promise<Entry | undefined> {
    return readEntry(this.#db, key);
  }
}

// A buffered write: the entry the key holds after it, or null when deleted.
interface Change {
  key: Uint8Array;
  entry: Entry | null;
}

// A buffered write as the store takes it (a BatchOp).
type ViewOp =
  | { type: "set"; key: Uint8Array; value: Uint8Array; expireAt?: number }
  | { type: "delete"; key: Uint8Array };

function toOp({ key, entry }: Change): ViewOp {
  if (entry === null) return { type: "delete", key };
  if (entry.expireAt === undefined) return { type: "set", key, value: entry.value };
  return { type: "set", key, value: entry.value, expireAt: entry.expireAt };
}

// Whether the store, checking `later`, checks all it would check of
// `earlier`, a write of the same key: its key, and a value no longer.
function coveredBy(earlier: ViewOp, later: ViewOp): boolean {
  return earlier.type === "set" && earlier.expireAt === undefined && later.type === "set" &&
    earlier.value.length <= later.value.length;
}

/** Buffers writes over the store; later reads of the same view see them. */
export class Overlay implements KeyView {
  readonly #db: Cask;
  readonly #pending: InFlightEntries;
  // By byteString(key): the pending entry, or null for a pending delete.
  readonly #changes = new Map<string, Change>();
  // In steps (see steps()): the ops of the commands done, in order, where
  // each key's last op is, and what the running command changed, with what
  // each key held before it.
  #stepped?: ViewOp[];
  #lastOp?: Map<string, number>;
  #before?: Map<string, Change | undefined>;
  // The writer's drop count when a record of a write in flight was read (the
  // same for every record valid at once); -1 once records of two counts were.
  #basedOn?: number;
  // When the writes of the records read settle.
  #reads: Promise<unknown>[] = [];

  /** Reads `db`, where `pending` has no newer entry. */
  constructor(db: Cask, pending: InFlightEntries) {
    this.#db = db;
    this.#pending = pending;
  }

  now(): number {
    return Date.now();
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const id = byteString(key);
    const known = this.#known(key, id);
    if (known === undefined) return await this.#db.get(key);
    return this.#live(known)?.value;
  }

  async has(key: Uint8Array): Promise<boolean> {
    const id = byteString(key);
    const known = this.#known(key, id);
    if (known === undefined) return await this.#db.has(key);
    return this.#live(known) !== undefined;
  }

  async entry(key: Uint8Array): Promise<Entry | undefined> {
    const id = byteString(key);
    const known = this.#known(key, id);
    if (known === undefined) return await readEntry(this.#db, key);
    return this.#live(known);
  }

  /**
   * Whether this view read a write in flight that may since have been
   * dropped: what it would write may build on a value that never was.
   */
  builtOnDropped(): boolean {
    const b = this.#basedOn;
    return b !== undefined && (b === -1 || this.#pending.droppedSince(this.#db, b));
  }

  /**
   * For a command that read writes in flight and then writes nothing (or
   * fails): waits until those writes settle, and says whether one may have
   * been dropped, so its answer rests on a value that never was.
   */
  async answeredFromDropped(): Promise<boolean> {
    if (this.#basedOn === undefined) return false;
    await Promise.allSettled(this.#reads);
    return this.builtOnDropped();
  }

  // The entry this view wrote, else the one a write in flight did, else
  // undefined: the store's is the latest.
  #known(key: Uint8Array, id: string): Entry | null | undefined {
    const change = this.#changes.get(id);
    if (change !== undefined) return change.entry;
    const record = this.#pending.record(this.#db, key, id);
    if (record === undefined) return undefined;
    const drops = record.write.drops;
    this.#basedOn = this.#basedOn === undefined || this.#basedOn === drops ? drops : -1;
    this.#reads.push(record.settled);
    return record.entry;
  }

  put(key: Uint8Array, entry: Entry): void {
    // An expiry already past is a delete, as in Redis (EXPIRE k -1, PEXPIREAT k 1).
    const live = entry.expireAt === undefined || entry.expireAt > this.now();
    this.#change(byteString(key), { key, entry: live ? entry : null });
  }

  remove(key: Uint8Array): void {
    this.#change(byteString(key), { key, entry: null });
  }

  #change(id: string, change: Change): void {
    if (this.#before !== undefined && !this.#before.has(id)) {
      this.#before.set(id, this.#changes.get(id));
    }
    this.#changes.set(id, change);
  }

  /**
   * Runs the commands of a batch in steps, one per command ({@link step} after
   * each): {@link ops} then holds each command's own writes, in order, rather
   * than each key's last, so the store checks every value a command wrote (a
   * value it refuses, overwritten by a later command, would pass unseen), and
   * a command that fails can be taken back ({@link undo}).
   */
  steps(): void {
    this.#stepped = [];
    this.#lastOp = new Map();
    this.#before = new Map();
  }

  /**
   * Ends the running command's step: its writes become ops. One replaces the
   * key's op before it where the store would refuse the earlier one only if
   * it refused the later one too (a shorter value, no expiry to check), so a
   * pipeline of INCRs of one key still writes one record.
   */
  step(): void {
    const ops = this.#stepped!, last = this.#lastOp!;
    for (const id of this.#before!.keys()) {
      const op = toOp(this.#changes.get(id)!), at = last.get(id);
      if (at !== undefined && coveredBy(ops[at], op)) ops[at] = op;
      else {
        last.set(id, ops.length);
        ops.push(op);
      }
    }
    this.#before!.clear();
  }

  /** Takes back what the running command wrote (it failed, so it writes nothing). */
  undo(): void {
    for (const [id, prior] of this.#before!) {
      if (prior === undefined) this.#changes.delete(id);
      else this.#changes.set(id, prior);
    }
    this.#before!.clear();
  }

  async clear(): Promise<void> {
    for (const change of this.#changes.values()) change.entry = null;
    for await (const key of this.#db.keys()) this.remove(key);
  }

  // In steps of its own, as the store's: KEYS reads them all at one point.
  keys(range: KeyRange): AsyncIterable<Uint8Array> {
    return offerSteps(this.#keysNow(range));
  }

  *#keysNow(range: KeyRange): Generator<Uint8Array, void, undefined> {
    const head = range.prefix === undefined ? "" : byteString(range.prefix);
    const first = range.start === undefined ? "" : byteString(range.start);
    // Byte strings order as their bytes, so both sides merge in key order.
    const before = range.reverse
      ? (a: string, b: string) => a > b
      : (a: string, b: string) => a < b;
    // Ids are distinct, so no two compare equal.
    const pending = [...this.#changes].filter(([id]) => id.startsWith(head) && id >= first)
      .sort(([a], [b]) => before(a, b) ? -1 : 1);
    let j = 0;
    // The store's keys() always steps synchronously (api/async_steps.ts).
    for (const key of syncSteps(this.#db.keys(range))!) {
      const id = byteString(key);
      for (; j < pending.length && before(pending[j][0], id); j++) {
        if (this.#live(pending[j][1].entry)) yield pending[j][1].key;
      }
      if (j < pending.length && pending[j][0] === id) {
        if (this.#live(pending[j++][1].entry)) yield key;
      } else yield key;
    }
    for (; j < pending.length; j++) if (this.#live(pending[j][1].entry)) yield pending[j][1].key;
  }

  async size(): Promise<number> {
    const changes = [...this.#changes.values()];
    // The size and every has() are read before any await: the store is read
    // at one point, with no commit applied in between.
    let n = this.#db.size;
    const had = await Promise.all(changes.map(({ key }) => this.#db.has(key)));
    changes.forEach(({ entry }, i) => n += (this.#live(entry) ? 1 : 0) - (had[i] ? 1 : 0));
    return n;
  }

  expiryAt(key: Uint8Array): number | undefined {
    // This view's own writes only, as size() and keys() count them: other
    // clients' writes still in flight are not the store's yet.
    const change = this.#changes.get(byteString(key));
    if (change === undefined) return expiryAt(this.#db, key);
    const live = this.#live(change.entry);
    return live && (live.expireAt ?? Infinity);
  }

  /** Keys this view wrote or deleted. */
  written(): Uint8Array[] {
    return [...this.#changes.values()].map((c) => c.key);
  }

  /** Whether this view holds any write (or delete). */
  writes(): boolean {
    return this.#changes.size > 0;
  }

  /** The keys written with what each holds after: null when deleted. */
  changes(): Iterable<{ key: Uint8Array; entry: Entry | null }> {
    return this.#changes.values();
  }

  /** The buffered writes as one atomic batch: each key's last, or in steps each command's own. */
  ops(): BatchOp[] {
    return this.#stepped ?? Array.from(this.#changes.values(), toOp);
  }

  #live(entry: Entry | null): Entry | undefined {
    if (entry === null) return undefined;
    return entry.expireAt !== undefined && entry.expireAt <= this.now() ? undefined : entry;
  }
}
