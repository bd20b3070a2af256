/**
 * A Worker's handle on a store another thread owns. Reads never leave the
 * Worker: it opens its own read-only follower of the store's directory (the
 * machinery of `open(dir, { readOnly: true })`) and answers get, getEntry,
 * getMany, has, ttl, scan, keys and count from it, so read-heavy Workers scale
 * with cores instead of queueing on the owner's event loop. Writes, sync,
 * stats and watches go to the owner over the attachment's port.
 *
 * The follower catches up on demand, never on a timer: before a read, when a
 * reply from the owner carried a sequence number the follower has not applied
 * yet (read-your-writes), the read waits for a refresh (and, when the commit
 * is still in the owner's write buffer, for the owner to write it out, which
 * a "refresh" call asks for); when the owner's
 * published sequence number (shared memory) is ahead, a refresh starts in the
 * background and the read is answered from the state already applied.
 * @module
 */

import { ClosedError, InvalidArgumentError, IOError } from "../base/errors.ts";
import type { Bytes } from "../base/keys.ts";
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
import { expiries } from "../api/change_queue.ts";
import { Cask } from "../api/store.ts";
import {
  CLOSED_FLAG,
  type Message,
  type Op,
  type Request,
  SEQ_LOW,
  type SharedCask,
} from "../api/share_protocol.ts";
import { Outbox } from "../api/outbox.ts";
import { RemoteWatch } from "./remote_watch.ts";
import { fromWire } from "../api/wire_errors.ts";

interface Call {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

// After the owner's reply to "refresh" the commits it reported are in the
// files, so one refresh finds them. Only a write the owner must retry (a full
// disk) keeps them out; then the follower tries again, waiting longer each
// time, this long in all before giving up.
const CATCH_UP_MS = 2000;

/**
 * A store owned by another thread, as a Worker sees it: the store's API except
 * `compact` and `close`, which stay with the owner. Get one with {@link attach}.
 *
 * Every write is done by the owner's writer, so it is as durable as the
 * owner's `sync` mode makes it when its promise resolves. Reads are answered
 * by this thread from the files. All threads observe the commits in the
 * owner's order; after a Worker's write resolves, its reads see it (or a later
 * commit). Once the owner closes the store, calls reject with ClosedError.
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
  readonly #ints: Int32Array;
  // Opened once the owner has answered the first call: see attach().
  #reader!: Cask;
  readonly #calls = new Map<number, Call>();
  readonly #watches = new Map<number, RemoteWatch>();
  #nextId = 1;
  // The owner's sequence number in its latest reply: reads wait for it.
  #need = 0;
  #refreshing?: Promise<void>;
  // A background refresh failed: the next read refreshes and waits, and so reports a lasting failure.
  #stale = false;
  #ownerClosed = false;
  // Set once detach() is called (later calls reject); #detached once its
  // message went out, after every call made before it completed.
  #detachment?: Promise<void>;
  #detached = false;
  // Calls this thread answers itself that may still be waiting (to catch up):
  // a detach, or the owner's close, lets them complete first.
  readonly #ops = new Set<Promise<unknown>>();

  /** @ignore Use {@link attach}. */
  private constructor(shared: SharedCask) {
    this.#port = shared.port;
    this.#ints = new Int32Array(shared.state);
    this.#out = new Outbox<Request>(
      this.#port,
      (r, e) => this.#settle(r.id, undefined, unsendable(e)),
    );
    this.#port.onmessage = (e: MessageEvent<Message[]>) => {
      for (const m of e.data) this.#receive(m);
    };
  }

  /** @ignore Use {@link attach}. */
  static async attach(shared: SharedCask): Promise<AttachedCask> {
    if (
      typeof shared !== "object" || shared === null || !(shared.port instanceof MessagePort) ||
      !(shared.state instanceof SharedArrayBuffer) || typeof shared.dir !== "string" ||
      typeof shared.options !== "object" || shared.options === null
    ) {
      throw new InvalidArgumentError("attach() takes what share() returned");
    }
    if (Atomics.load(new Int32Array(shared.state), CLOSED_FLAG) === 1) {
      throw new ClosedError();
    }
    // A share's port carries one attachment's calls and replies: a second one
    // would take its replies over (and one detached has closed it).
    const used = attachments.get(shared.port);
    if (used === "detached") throw new ClosedError("this share was attached and detached");
    if (used) {
      throw new InvalidArgumentError("this share is attached already: share() once per Worker");
    }
    attachments.set(shared.port, "attached");
    const db = new AttachedCask(shared);
    // The follower opens once every commit the owner applied so far is in the
    // files: a Worker's reads start no older than the store it was shared from.
    await db.#call("refresh", []);
    try {
      db.#reader = await Cask.open(shared.dir, { ...shared.options, readOnly: true });
    } catch (e) {
      db.#call("detach", []).catch(() => {});
      db.#detached = true;
      attachments.set(shared.port, "detached");
      throw e;
    }
    if (db.#ownerClosed) {
      // The store closed while the follower opened: the "closed" notice found no follower.
      await db.#reader.close();
      throw new ClosedError();
    }
    return db;
  }

  /**
   * The sequence number of the last commit this thread has observed: every
   * read it makes from now on reflects that commit or a later one.
   */
  get sequence(): number {
    return Math.max(this.#need, this.#reader.sequence);
  }

  /** The value of `key`, or undefined when it is absent or expired. */
  get(key: Bytes): Promise<Uint8Array | undefined> {
    // The hottest read: no closure unless it has to wait.
    const wait = this.#wait();
    return wait ? wait.then(() => this.#reader.get(key)) : this.#reader.get(key);
  }

  /** The value of `key` with the sequence number of its commit and its expiry. */
  getEntry(key: Bytes): Promise<VersionedEntry | undefined> {
    return this.#read(() => this.#reader.getEntry(key));
  }

  /**
   * The values of `keys`, in the order given, read in one step from one state
   * of the store: never half of an atomic batch.
   */
  getMany(keys: readonly Bytes[]): Promise<(Uint8Array | undefined)[]> {
    return this.#read(() => this.#reader.getMany(keys));
  }

  /** Whether `key` is present (and not expired). */
  has(key: Bytes): Promise<boolean> {
    return this.#read(() => this.#reader.has(key));
  }

  /**
   * Remaining time to live of `key` in ms: Infinity when it never expires,
   * undefined when absent. Judged by this thread's clock (`Date.now`).
   */
  ttl(key: Bytes): Promise<number | undefined> {
    return this.#read(() => this.#reader.ttl(key));
  }

  /** Stores `value` under `key`; resolves once the owner's sync mode deems it written. */
  async set(key: Bytes, value: Bytes, options?: SetOptions): Promise<void> {
    // The owner reads ttl and expireAt through getters and prototypes too;
    // a structured clone would leave those behind.
    const sent = typeof options === "object" && options !== null && !Array.isArray(options)
      ? { ...options, ttl: options.ttl, expireAt: options.expireAt }
      : options;
    await this.#call("set", [key, value, sent]);
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
   * Entries in key order within the bounds, read by this thread. Like the
   * store's scan it is not a snapshot: a key present for the whole scan is
   * yielded exactly once.
   */
  async *scan(options?: ScanOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    await this.#read(() => Promise.resolve());
    yield* this.#reader.scan(options);
  }

  /** The same as {@link AttachedCask.scan}, as the store's `entries()` is its `scan()`. */
  entries(options?: ScanOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    return this.scan(options);
  }

  /** Keys in order within the bounds, without their values. */
  async *keys(options?: ScanOptions): AsyncGenerator<Uint8Array> {
    await this.#read(() => Promise.resolve());
    yield* this.#reader.keys(options);
  }

  /** How many live keys lie within the bounds (all keys when omitted). */
  count(range?: Pick<ScanOptions, "start" | "end" | "prefix">): Promise<number> {
    return this.#read(() => this.#reader.count(range));
  }

  /**
   * Follows the changes to some keys, as the store's `watch`: the owner runs the
   * watch from when it receives the call (before any later call of this thread
   * reaches it). Invalid options reject the first `next()`.
   */
  watch(options: WatchOptions): AsyncIterableIterator<Change> {
    this.#checkOpen();
    const wid = this.#nextId++;
    // A resuming consumer has everything up to `since` (checked by the owner).
    const since = typeof options?.since === "number" ? options.since : undefined;
    const w = new RemoteWatch(since ?? this.sequence, () => {
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
  refresh(): Promise<number> {
    return this.#track((async () => {
      await this.#call("refresh", []);
      await this.#read(() => Promise.resolve(), false);
      return this.sequence;
    })());
  }

  /**
   * Gives up this attachment (the owner keeps the store open). Calls made
   * before it still complete; later calls reject with ClosedError, and watches
   * end.
   */
  detach(): Promise<void> {
    if (this.#ownerClosed) return Promise.resolve();
    // A second call gets the first's promise: resolved, the attachment is gone.
    return this.#detachment ??= this.#detach();
  }

  async #detach(): Promise<void> {
    attachments.set(this.#port, "detached");
    try {
      // A read waiting to catch up may still ask the owner for a refresh.
      await this.#settled();
      const last = this.#call("detach", [], true);
      this.#detached = true;
      // An owner that closed meanwhile gave the attachment up as well.
      await last.catch((e) => {
        if (!(e instanceof ClosedError)) throw e;
      });
    } finally {
      // The port may close before the owner's notices come: end here.
      this.#endWatches();
      await this.#reader.close();
    }
  }

  // Resolves once every call tracked so far has settled.
  async #settled(): Promise<void> {
    while (this.#ops.size > 0) await Promise.allSettled([...this.#ops]);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#ops.add(p);
    p.then(() => this.#ops.delete(p), () => this.#ops.delete(p));
    return p;
  }

  // Runs the read `f` on the follower once it is current enough (see the
  // module doc). Not an async function: when the follower is current, the read
  // costs no more than the promise `f` returns.
  #read<T>(f: () => Promise<T>, check = true): Promise<T> {
    const wait = this.#wait(check);
    return wait ? wait.then(f) : f();
  }

  // Undefined when this thread's follower may answer a read now; else what to
  // wait for first (a catch-up, or the rejection of a closed store). `check`:
  // a call made now, refused once the attachment or the store closed.
  #wait(check = true): Promise<void> | undefined {
    if (check) {
      try {
        this.#checkOpen();
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const seq = this.#reader.sequence;
    if (seq < this.#need || this.#stale) return this.#track(this.#catchUp());
    if (((Atomics.load(this.#ints, SEQ_LOW) - seq) | 0) > 0) this.#refreshSoon();
    return undefined;
  }

  #refreshSoon(): void {
    if (this.#refreshing) return;
    this.#refreshing = this.#reader.refresh()
      .catch(() => void (this.#stale = true))
      .finally(() => this.#refreshing = undefined);
  }

  async #catchUp(): Promise<void> {
    const target = this.#need;
    const deadline = performance.now() + CATCH_UP_MS;
    for (let attempt = 0;; attempt++) {
      // A call made before a detach or the owner's close completes: the
      // files hold every commit the owner acknowledged.
      await this.#reader.refresh();
      this.#stale = false;
      if (this.#reader.sequence >= target) return;
      if (attempt === 0) {
        await this.#call("refresh", [], true).catch((e) => {
          if (!(e instanceof ClosedError)) throw e;
        });
        continue;
      }
      if (performance.now() > deadline) {
        throw new IOError(
          `this Worker's reads could not catch up with commit ${target} ` +
            `(the files hold up to ${this.#reader.sequence})`,
        );
      }
      await new Promise((r) => setTimeout(r, 2 ** attempt));
    }
  }

  #endWatches(): void {
    for (const w of this.#watches.values()) w.end();
    this.#watches.clear();
  }

  #checkOpen(): void {
    if (this.#detachment) throw new ClosedError("this attachment was detached");
    if (this.#ownerClosed || Atomics.load(this.#ints, CLOSED_FLAG) === 1) throw new ClosedError();
  }

  // `internal`: a call of this side's own (a catch-up's refresh, the detach)
  // goes out while detach() waits for the calls made before it.
  #call(op: Op, args: unknown[], internal = false): Promise<unknown> {
    try {
      if (!internal) this.#checkOpen();
      else if (this.#detached || this.#ownerClosed) throw new ClosedError();
    } catch (e) {
      return Promise.reject(e);
    }
    // The arguments as they are now: the message goes out at the end of the
    // turn, and a caller may reuse a buffer or change an object meanwhile,
    // which the owner's own calls never see (they copy at the call).
    let now: unknown[];
    try {
      now = structuredClone(ownBytes(args) as unknown[]);
    } catch (e) {
      return Promise.reject(unsendable(e));
    }
    const id = this.#nextId++;
    this.#out.push({ id, op, args: now });
    return new Promise((resolve, reject) => this.#calls.set(id, { resolve, reject }));
  }

  #settle(id: number, value: unknown, error?: Error): void {
    const call = this.#calls.get(id);
    if (call === undefined) return;
    this.#calls.delete(id);
    if (error) call.reject(error);
    else call.resolve(value);
  }

  #receive(m: Message): void {
    switch (m.kind) {
      case "reply": {
        this.#need = Math.max(this.#need, m.seq);
        this.#settle(m.id, m.value, m.error && fromWire(m.error));
        break;
      }
      case "watch": {
        const w = this.#watches.get(m.wid);
        if (m.change) {
          if (m.expired) expiries.add(m.change);
          w?.push(m.change);
        } else if (m.error) w?.fail(fromWire(m.error));
        else w?.end();
        break;
      }
      case "closed":
        this.#ownerClosed = true;
        // The owner answered every call it served before this; one still
        // waiting crossed the close, and the owner refused it or never got it.
        for (const id of [...this.#calls.keys()]) this.#settle(id, undefined, new ClosedError());
        this.#endWatches();
        // Undefined while attach() still opens it (which then closes it).
        // Reads waiting to catch up finish first, from the files.
        this.#settled().then(() => this.#reader?.close()).catch(() => {});
        break;
    }
    // The owner closes its end once it has answered everything; so does this side.
    if ((this.#ownerClosed || this.#detached) && this.#calls.size === 0) {
      this.#out.flush();
      this.#port.close();
    }
  }
}

// The error of a call whose arguments the structured clone refuses.
function unsendable(e: unknown): InvalidArgumentError {
  const message = e instanceof Error ? e.message : String(e);
  return new InvalidArgumentError(`cannot send to another thread: ${message}`);
}

// What became of each share's port: attached, or attached and then detached.
const attachments = new WeakMap<MessagePort, "attached" | "detached">();

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
export function attach(shared: SharedCask): Promise<AttachedCask> {
  return AttachedCask.attach(shared);
}

// Byte arrays that structured cloning would not copy as they are now: a view
// of a SharedArrayBuffer would share its memory (the owner would read what it
// holds later), and a view of part of a buffer would take the whole buffer
// along (a 10-byte view of 32 MiB: 0.7 s a call). They are copied here, in
// arrays and in objects of any class (operations, checks, options) too, whose
// own enumerable fields are what structured cloning keeps of them; `seen`
// gives an object met again (a cycle) the same copy.
function ownBytes(v: unknown, seen = new Map<object, unknown>()): unknown {
  if (v instanceof Uint8Array) {
    const whole = v.byteLength === v.buffer.byteLength && !(v.buffer instanceof SharedArrayBuffer);
    return whole ? v : v.slice();
  }
  if (typeof v !== "object" || v === null) return v;
  const isArray = Array.isArray(v);
  if (!isArray && Object.prototype.toString.call(v) !== "[object Object]") return v;
  if (seen.has(v)) return seen.get(v);
  // An array keeps its length, holes included.
  const copy = (isArray ? new Array(v.length) : {}) as Record<string, unknown>;
  seen.set(v, copy);
  for (const [k, x] of Object.entries(v)) copy[k] = ownBytes(x, seen);
  return copy;
}
