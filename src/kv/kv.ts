/**
 * The `Deno.Kv`-shaped database object `openKv` returns.
 * @module
 */

import { ReadOnlyError } from "../base/errors.ts";
import { type AtomicOperation, newAtomicOperation } from "./atomic.ts";
import { CloseGate } from "./close_gate.ts";
import { Committer } from "./commit.ts";
import { checkConsistency, type KvConsistencyLevel } from "./consistency.ts";
import type { KvEngine } from "./engine.ts";
import { absentEntry, entryOf, type KvCommitResult, type KvEntryMaybe } from "./entry.ts";
import { COMMIT_VERSIONSTAMP, encodeKey, type KvKey } from "./key_codec.ts";
import { checkReadBound, type KvLimits } from "./limits.ts";
import { type KvListIterator, newListIterator } from "./list_iterator.ts";
import type { EnqueueOptions } from "./mutation.ts";
import { QueueDispatcher, Wakeup } from "./queue.ts";
import { readAtOnce, readEntry } from "./read.ts";
import { readEach } from "./serde.ts";
import { type KvListSelector, selectorParts } from "./selector.ts";
import { watchStream } from "./watch.ts";

/**
 * Options of `list()`.
 *
 * @example
 * ```ts
 * import { type KvListOptions, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const newestFirst: KvListOptions = { reverse: true, limit: 20, batchSize: 20 };
 * for await (const e of kv.list({ prefix: ["posts"] }, newestFirst)) console.log(e.key);
 * await kv.close();
 * ```
 */
export interface KvListOptions {
  /** Stop after this many entries. */
  limit?: number;
  /** Resume after the entry this cursor (from `KvListIterator.cursor`) names. */
  cursor?: string;
  /** Descending key order. */
  reverse?: boolean;
  /** Accepted for compatibility; reads are always strong. */
  consistency?: KvConsistencyLevel;
  /** Entries read per batch (each batch is one consistent read). */
  batchSize?: number;
}

/** Entries per list batch when neither `batchSize` nor `limit` is given, as in Deno KV. */
const DEFAULT_BATCH = 100;
/** The most entries per batch a `limit` alone asks for, as in Deno KV. */
const MAX_LIMIT_BATCH = 500;

function positiveInteger(name: string, n: number | undefined): void {
  if (n !== undefined && !(Number.isInteger(n) && n > 0)) {
    throw new Error(`${name} must be a positive integer: received ${n}`);
  }
}

/**
 * Makes a `Kv` over `engine`, whose size limits are `limits` and whose clock
 * (the time its expiries are judged by) is `clock`; for `openKv`.
 */
export let newKv: (engine: KvEngine, limits: KvLimits, clock: () => number) => Kv;

// A key to read, encoded as Deno KV reads its request: a key's type errors
// come before a closed store's error, and a missing key (undefined here) is
// reported after it (see Kv.#boundKey).
function readArgument(key: KvKey): Uint8Array | undefined {
  return key === null || key === undefined ? undefined : encodeKey(key);
}

/**
 * A Deno KV-compatible database over a Cask store: typed tuple keys,
 * structured-clone values, versionstamps, checked atomics, sum/min/max,
 * watch and queues. Get one with `openKv`.
 *
 * @example
 * ```ts
 * import { openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * await kv.set(["users", "ada"], { name: "Ada", born: 1815 });
 * const { value, versionstamp } = await kv.get(["users", "ada"]);
 * for await (const e of kv.list({ prefix: ["users"] })) console.log(e.key, e.value);
 * await kv.close();
 * ```
 */
export class Kv {
  readonly #engine: KvEngine;
  readonly #committer: Committer;
  readonly #wakeup = new Wakeup();
  readonly #queue: QueueDispatcher;
  readonly #gate = new CloseGate();
  #closing: Promise<void> | undefined;

  readonly #limits: KvLimits;
  readonly #clock: () => number;

  static {
    newKv = (engine, limits, clock) => new Kv(engine, limits, clock);
  }

  /** @ignore Use `openKv`. */
  private constructor(engine: KvEngine, limits: KvLimits, clock: () => number) {
    this.#engine = engine;
    this.#limits = limits;
    this.#clock = clock;
    this.#committer = new Committer(engine, this.#gate, limits, clock, () => this.#wakeup.wake());
    this.#queue = new QueueDispatcher(engine, this.#wakeup, () => this.#gate.isClosed, clock);
  }

  /** The entry of `key`: `value` and `versionstamp` are null when it is absent. */
  async get<T = unknown>(
    key: KvKey,
    options?: { consistency?: KvConsistencyLevel },
  ): Promise<KvEntryMaybe<T>> {
    const encoded = readArgument(key);
    checkConsistency(options?.consistency);
    this.#gate.check();
    const kb = this.#boundKey(encoded);
    // Read at the call unless commits called before it are held: a hop here
    // let a write called after it in first.
    const held = this.#committer.issued();
    if (held) await held;
    const record = await readEntry(this.#engine, kb);
    return record === undefined ? absentEntry(key) : entryOf<T>(kb, record);
  }

  /** The entries of several keys, read at one point in time. */
  getMany<T extends readonly unknown[]>(
    keys: readonly [...{ [K in keyof T]: KvKey }],
    options?: { consistency?: KvConsistencyLevel },
  ): Promise<{ [K in keyof T]: KvEntryMaybe<T[K]> }> {
    return this.#readMany(keys, options?.consistency) as Promise<
      { [K in keyof T]: KvEntryMaybe<T[K]> }
    >;
  }

  /** Stores `value` at `key`; `expireIn` makes it read as absent that many ms later. */
  async set(key: KvKey, value: unknown, options?: { expireIn?: number }): Promise<KvCommitResult> {
    const r = await this.atomic().set(key, value, options).commit();
    if (!r.ok) throw new TypeError("Failed to set value");
    return r;
  }

  /** Removes `key` (no error when it is absent). */
  async delete(key: KvKey): Promise<void> {
    await this.atomic().delete(key).commit();
  }

  /** The entries a selector covers, in key order (or reversed). */
  list<T = unknown>(selector: KvListSelector, options: KvListOptions = {}): KvListIterator<T> {
    positiveInteger("Limit", options.limit);
    // Deno KV takes a null batchSize for batches of `limit` (uncapped), and
    // lists forward for any reverse but true.
    const asked = (options.batchSize as number | null | undefined) === null
      ? options.limit ?? DEFAULT_BATCH
      : options.batchSize;
    positiveInteger("batchSize", asked);
    // Batch bounds decide which writes made during the iteration it sees, so they are Deno KV's.
    const batchSize = asked ?? Math.min(options.limit ?? DEFAULT_BATCH, MAX_LIMIT_BATCH);
    return newListIterator<T>({
      engine: this.#engine,
      gate: this.#gate,
      limits: this.#limits,
      parts: selectorParts(selector),
      consistency: options.consistency,
      limit: options.limit,
      cursor: options.cursor,
      reverse: options.reverse === true,
      batchSize,
      issued: () => this.#committer.issued(),
    });
  }

  /** Queues `value` for the `listenQueue` handlers of this store. */
  async enqueue(value: unknown, options?: EnqueueOptions): Promise<KvCommitResult> {
    const r = await this.atomic().enqueue(value, options).commit();
    if (!r.ok) throw new TypeError("Failed to enqueue value");
    return r;
  }

  /**
   * Calls `handler` for each queued message, at least once per message: a
   * throw (or a crash) means a retry later. Resolves when the store closes.
   */
  // deno-lint-ignore no-explicit-any -- the message type is the caller's, as in Deno.Kv
  listenQueue(handler: (value: any) => Promise<void> | void): Promise<void> {
    if (this.#gate.isClosed) return Promise.reject(new Error("Queue already closed"));
    // A delivery is done only once its outcome is written: a reader would run
    // each message again and again, beside the writer that runs it too.
    if (this.#engine.readOnly) {
      return Promise.reject(new ReadOnlyError("listenQueue() needs a writable store"));
    }
    return this.#queue.listen(handler);
  }

  /** A new atomic operation on this store. */
  atomic(): AtomicOperation {
    return newAtomicOperation(this.#committer);
  }

  /** A stream of the entries of `keys`: now, then whenever one of them changes. */
  watch<T extends readonly unknown[]>(
    keys: readonly [...{ [K in keyof T]: KvKey }],
    options: { raw?: boolean } = {},
  ): ReadableStream<{ [K in keyof T]: KvEntryMaybe<T[K]> }> {
    // Read first, as Deno KV reads it: null options throw the TypeError of reading `raw`.
    const raw = options.raw ?? false;
    return watchStream(
      this.#engine,
      keys,
      raw,
      this.#gate,
      this.#clock,
      this.#limits,
    ) as unknown as ReadableStream<{ [K in keyof T]: KvEntryMaybe<T[K]> }>;
  }

  /**
   * A symbol that Deno KV lets a key end with, to be replaced by the commit's
   * versionstamp. Cask does not support such keys: a write with one throws TypeError.
   */
  commitVersionstamp(): symbol {
    return COMMIT_VERSIONSTAMP;
  }

  /**
   * Closes the store: queue listeners resolve, watch streams end, later calls
   * reject. Resolves once the files are flushed and the directory is unlocked,
   * and rejects if that flush fails; `Deno.Kv.close()` returns nothing, so
   * code written for it can ignore the promise: a failure then goes unreported
   * (never an unhandled rejection).
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#gate.close();
    this.#wakeup.wake();
    // Commits called before it that wait behind a read-modify-write are
    // written first, as the store's own close() writes the writes called before it.
    this.#closing = Promise.all([this.#queue.settle(), this.#committer.issued()])
      .then(() => this.#engine.close());
    // Deno KV code calls close() without awaiting it and may delete the
    // directory next (a test's teardown): the flush then fails, and that must
    // not kill the process. Callers who await the promise still see the error.
    this.#closing.catch(() => {});
    return this.#closing;
  }

  /** Closes the store (for `using`). */
  [Symbol.dispose](): void {
    void this.close();
  }

  /** Closes the store and waits for it (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // A key read by readArgument, checked as Deno KV checks it once it has found
  // the store open; Deno KV's words for a missing one.
  #boundKey(kb: Uint8Array | undefined): Uint8Array {
    if (kb === undefined) throw new TypeError("Invalid range");
    checkReadBound(this.#limits, kb.length + 1);
    return kb;
  }

  async #readMany(
    keys: readonly KvKey[],
    consistency: KvConsistencyLevel | undefined,
  ): Promise<KvEntryMaybe<unknown>[]> {
    // Deno KV maps over whatever it is given (a string maps over its characters).
    const args = readEach(keys, (k) => readArgument(k as KvKey), "object");
    checkConsistency(consistency);
    this.#gate.check();
    const encoded = args.map((k) => this.#boundKey(k));
    const held = this.#committer.issued();
    if (held) await held;
    const records = await readAtOnce(this.#engine, encoded);
    return records.map((r, i) => r === undefined ? absentEntry(keys[i]) : entryOf(encoded[i], r));
  }
}
