/**
 * A Worker's handle on a store another thread owns. Writes, scans, counts,
 * watches and reads the Worker has not cached go to the owner over the
 * attachment's port; reads of keys the Worker has read before are answered
 * from its own cache, which the owner's stream of changed keys keeps exact
 * (see read_cache.ts), so read-heavy Workers scale with cores instead of
 * queueing on the owner's event loop.
 * @module
 */

import { ClosedError, InvalidArgumentError } from "../base/errors.ts";
import { type Bytes, indexKey, keyToBytes } from "../base/keys.ts";
import type {
  AtomicOptions,
  AtomicResult,
  BatchOp,
  Change,
  ScanOptions,
  SetOptions,
  Stats,
  VersionedEntry,
  WatchOptions,
} from "../base/types.ts";
import { Batch } from "../api/batch.ts";
import {
  CLOSED_FLAG,
  type Message,
  type Op,
  type Request,
  SCAN_PAGE,
  type SharedCask,
} from "./protocol.ts";
import { Outbox } from "./outbox.ts";
import { type Cached, ReadCache } from "./read_cache.ts";
import { RemoteWatch } from "./remote_watch.ts";
import { fromWire } from "./wire_errors.ts";

/**
 * Options of {@link attach}.
 *
 * @example
 * ```ts
 * import { attach, type AttachOptions, type SharedCask } from "@cask/cask";
 * const options: AttachOptions = { cacheBytes: 0 }; // every read goes to the owner
 * globalThis.addEventListener("message", async (e) => {
 *   const db = await attach((e as MessageEvent<SharedCask>).data, options);
 * });
 * ```
 */
export interface AttachOptions {
  /**
   * Bytes of values (and keys) this Worker may cache; reads of cached keys do
   * not reach the owner. 0 disables the cache. Default 16 MiB.
   */
  cacheBytes?: number;
}

const DEFAULT_CACHE_BYTES = 16 << 20;

interface Call {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * A store owned by another thread, as a Worker sees it: the store's API except
 * `compact` and `close`, which stay with the owner. Get one with {@link attach}.
 *
 * Every write is done by the owner's writer, so it is as durable as the
 * owner's `sync` mode makes it when its promise resolves. All threads observe
 * the commits in the owner's order; after a Worker's write resolves, its reads
 * see it (or a later commit). Once the owner closes the store, calls reject
 * with ClosedError.
 *
 * @example
 * ```ts
 * // worker.ts
 * import { attach, type SharedCask } from "@cask/cask";
 * globalThis.addEventListener("message", async (e) => {
 *   const db = await attach((e as MessageEvent<SharedCask>).data);
 *   await db.set("job:1", "done");
 *   console.log(await db.get("job:1")); // the bytes of "done"
 * });
 * ```
 */
export class AttachedCask {
  readonly #port: MessagePort;
  readonly #out: Outbox<Request>;
  readonly #flags: Int32Array;
  readonly #cache: ReadCache;
  readonly #calls = new Map<number, Call>();
  readonly #watches = new Map<number, RemoteWatch>();
  #nextId = 1;
  #seq = 0;
  #ownerClosed = false;
  #detached = false;

  /** @ignore Use {@link attach}. */
  private constructor(shared: SharedCask, cacheBytes: number) {
    this.#port = shared.port;
    this.#flags = new Int32Array(shared.state);
    this.#cache = new ReadCache(cacheBytes);
    this.#out = new Outbox<Request>(this.#port, (r, e) => {
      const message = e instanceof Error ? e.message : String(e);
      this.#settle(
        r.id,
        undefined,
        new InvalidArgumentError(`cannot send to another thread: ${message}`),
      );
    });
    this.#port.onmessage = (e: MessageEvent<Message[]>) => {
      for (const m of e.data) this.#receive(m);
    };
  }

  /** @ignore Use {@link attach}. */
  static async attach(shared: SharedCask, options?: AttachOptions): Promise<AttachedCask> {
    if (
      typeof shared !== "object" || shared === null || !(shared.port instanceof MessagePort) ||
      !(shared.state instanceof SharedArrayBuffer)
    ) {
      throw new InvalidArgumentError("attach() takes what share() returned");
    }
    const cacheBytes = options?.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (typeof cacheBytes !== "number" || !(cacheBytes >= 0)) {
      throw new InvalidArgumentError("cacheBytes must be a number >= 0");
    }
    const db = new AttachedCask(shared, cacheBytes);
    const { cache } = await db.#call("hello", [cacheBytes > 0]) as { cache: boolean };
    if (!cache) db.#cache.disable();
    return db;
  }

  /**
   * The sequence number of the last commit this thread has observed: every
   * read it makes from now on reflects that commit or a later one.
   */
  get sequence(): number {
    return this.#seq;
  }

  /** The value of `key`, or undefined when it is absent or expired. */
  get(key: Bytes): Promise<Uint8Array | undefined> {
    return this.#read(key, (_, e) => e?.value.slice());
  }

  /** The value of `key` with the sequence number of its commit and its expiry. */
  getEntry(key: Bytes): Promise<VersionedEntry | undefined> {
    return this.#read(
      key,
      (k, e) =>
        e &&
        { key: keyToBytes(k), value: e.value.slice(), sequence: e.sequence, expireAt: e.expireAt },
    );
  }

  /**
   * The values of `keys`, in the order given. All come from this thread's
   * cache or all from the owner, so they are one state of the store: never
   * half of an atomic batch.
   */
  async getMany(keys: readonly Bytes[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen();
    if (!Array.isArray(keys)) throw new InvalidArgumentError("getMany() takes an array of keys");
    const hits = keys.map((key) => this.#cache.get(indexKey(key)));
    if (hits.every((h) => h !== undefined)) return hits.map((h) => h?.value.slice());
    return await this.#call("getMany", [keys]) as (Uint8Array | undefined)[];
  }

  /** Whether `key` is present (and not expired). */
  async has(key: Bytes): Promise<boolean> {
    this.#checkOpen();
    const hit = this.#cache.get(indexKey(key));
    return hit !== undefined ? hit !== null : await this.#call("has", [key]) as boolean;
  }

  /** Remaining time to live of `key` in ms: Infinity when it never expires, undefined when absent. */
  async ttl(key: Bytes): Promise<number | undefined> {
    this.#checkOpen();
    // Only keys without an expiry are cached.
    const hit = this.#cache.get(indexKey(key));
    if (hit !== undefined) return hit === null ? undefined : Infinity;
    return await this.#call("ttl", [key]) as number | undefined;
  }

  /** Stores `value` under `key`; resolves once the owner's sync mode deems it written. */
  async set(key: Bytes, value: Bytes, options?: SetOptions): Promise<void> {
    await this.#call("set", [key, value, options]);
  }

  /** Deletes `key`; resolves to whether it was present. */
  async delete(key: Bytes): Promise<boolean> {
    return await this.#call("delete", [key]) as boolean;
  }

  /** Applies several sets and deletes as one commit, optionally checked (see the store's `atomic`). */
  async atomic(ops: readonly BatchOp[], options?: AtomicOptions): Promise<AtomicResult> {
    return await this.#call("atomic", [ops, options]) as AtomicResult;
  }

  /** Collects operations to apply atomically with `commit()`. */
  batch(): Batch {
    return new Batch((ops) => this.atomic(ops));
  }

  /**
   * Entries in key order within the bounds, fetched from the owner a page at a
   * time. Like the store's scan it is not a snapshot: a key present for the
   * whole scan is yielded exactly once.
   */
  async *scan(options?: ScanOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    yield* this.#paged<[Uint8Array, Uint8Array]>("scan", options, (e) => e[0]);
  }

  /** Keys in order within the bounds, without their values. */
  async *keys(options?: ScanOptions): AsyncGenerator<Uint8Array> {
    yield* this.#paged<Uint8Array>("keys", options, (k) => k);
  }

  /** How many live keys lie within the bounds (all keys when omitted). */
  async count(range?: Pick<ScanOptions, "start" | "end" | "prefix">): Promise<number> {
    return await this.#call("count", [range]) as number;
  }

  /**
   * Follows the changes to some keys, as the store's `watch`: the owner runs the
   * watch from when it receives the call (before any later call of this thread
   * reaches it). Invalid options reject the first `next()`.
   */
  watch(options: WatchOptions): AsyncIterableIterator<Change> {
    this.#checkOpen();
    const wid = this.#nextId++;
    const w = new RemoteWatch(this.#seq, () => {
      this.#watches.delete(wid);
      this.#call("unwatch", [wid]).catch(() => {});
    });
    this.#watches.set(wid, w);
    this.#call("watch", [wid, options]).catch((e) => {
      this.#watches.delete(wid);
      w.fail(e);
    });
    return w;
  }

  /** Resolves once every write made before the call, by any thread, is durable. */
  async sync(): Promise<void> {
    await this.#call("sync", []);
  }

  /** Space use, as the store's `stats()` (asynchronous here: the owner answers). */
  async stats(): Promise<Stats> {
    return await this.#call("stats", []) as Stats;
  }

  /**
   * Catches up with the owner: once it resolves, this thread's reads reflect
   * every commit made (by any thread) before the call. Use it after learning of
   * another thread's write by other means (say a `postMessage`). Resolves to
   * the sequence number reached.
   */
  async refresh(): Promise<number> {
    await this.#call("refresh", []);
    return this.#seq;
  }

  /**
   * Gives up this attachment (the owner keeps the store open). Calls made
   * before it still complete; later calls reject with ClosedError, and watches
   * end.
   */
  async detach(): Promise<void> {
    if (this.#detached || this.#ownerClosed) return;
    const last = this.#call("detach", []);
    this.#detached = true;
    await last;
    this.#endWatches();
  }

  // A read of one key, answered from the cache when it holds the key, else by
  // the owner (and then cached). Not an async function: a cache hit costs no
  // more than the promise it returns. Values are copied out: callers may write
  // into what they get.
  #read<T>(key: Bytes, answer: (k: string, e: Cached | undefined) => T): Promise<T> {
    let k: string, hit: Cached | null | undefined;
    try {
      this.#checkOpen();
      k = indexKey(key);
      hit = this.#cache.get(k);
    } catch (e) {
      return Promise.reject(e);
    }
    if (hit !== undefined) return Promise.resolve(answer(k, hit ?? undefined));
    return this.#fetch(k, key).then((e) => answer(k, e ?? undefined));
  }

  async #fetch(k: string, key: Bytes): Promise<Cached | null> {
    const f = this.#cache.begin(k);
    try {
      const e = await this.#call("getEntry", [key]) as VersionedEntry | undefined;
      const answer = e ? { value: e.value, sequence: e.sequence, expireAt: e.expireAt } : null;
      this.#cache.settle(f, answer);
      return answer;
    } catch (err) {
      this.#cache.settle(f);
      throw err;
    }
  }

  async *#paged<T>(op: Op, options: ScanOptions | undefined, keyOf: (x: T) => Uint8Array) {
    let o = options;
    let left = options?.limit;
    for (;;) {
      const page = await this.#call(op, [o]) as T[];
      yield* page;
      if (page.length < SCAN_PAGE) return;
      if (left !== undefined && (left -= page.length) <= 0) return;
      // The next page starts past the last key: start is inclusive, end exclusive.
      const last = keyOf(page[page.length - 1]);
      o = options?.reverse
        ? { ...options, end: last, limit: left }
        : { ...options, start: successor(last), limit: left };
    }
  }

  #endWatches(): void {
    for (const w of this.#watches.values()) w.end();
    this.#watches.clear();
  }

  #checkOpen(): void {
    if (this.#detached) throw new ClosedError("this attachment was detached");
    if (this.#ownerClosed || Atomics.load(this.#flags, CLOSED_FLAG) === 1) throw new ClosedError();
  }

  #call(op: Op, args: unknown[]): Promise<unknown> {
    try {
      this.#checkOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.#nextId++;
    this.#out.push({ id, op, args });
    return new Promise((resolve, reject) => this.#calls.set(id, { resolve, reject }));
  }

  #settle(id: number, value: unknown, error?: Error): void {
    const call = this.#calls.get(id)!;
    this.#calls.delete(id);
    if (error) call.reject(error);
    else call.resolve(value);
  }

  #receive(m: Message): void {
    switch (m.kind) {
      case "changed":
        this.#cache.changed(m.keys);
        this.#seq = Math.max(this.#seq, m.seq);
        break;
      case "reply": {
        this.#seq = Math.max(this.#seq, m.seq);
        this.#settle(m.id, m.value, m.error && fromWire(m.error));
        break;
      }
      case "watch": {
        const w = this.#watches.get(m.wid);
        if (m.change) w?.push(m.change);
        else if (m.error) w?.fail(fromWire(m.error));
        else w?.end();
        break;
      }
      case "closed":
        this.#ownerClosed = true;
        this.#cache.clear();
        this.#endWatches();
        break;
    }
    // The owner closes its end once it has answered everything; so does this side.
    if ((this.#ownerClosed || this.#detached) && this.#calls.size === 0) {
      this.#out.flush();
      this.#port.close();
    }
  }
}

// The smallest key after `k` in byte order.
function successor(k: Uint8Array): Uint8Array {
  const s = new Uint8Array(k.length + 1);
  s.set(k);
  return s;
}

/**
 * Attaches to a store another thread owns, from what its `share()` returned
 * (posted to this Worker with its port transferred). See {@link AttachedCask}.
 *
 * @example
 * ```ts
 * // main.ts: the owning thread
 * import { open } from "@cask/cask";
 * const db = await open("./data");
 * const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
 * const shared = db.share();
 * worker.postMessage(shared, [shared.port]);
 *
 * // worker.ts
 * import { attach, type SharedCask } from "@cask/cask";
 * globalThis.addEventListener("message", async (e) => {
 *   const db = await attach((e as MessageEvent<SharedCask>).data);
 *   await db.set("from-worker", "hello");
 * });
 * ```
 */
export function attach(shared: SharedCask, options?: AttachOptions): Promise<AttachedCask> {
  return AttachedCask.attach(shared, options);
}
