/**
 * The owning thread's side of sharing a store with Workers. Each Worker reads
 * the files itself (see attach.ts); the owner only runs what changes the store
 * or needs its writer (set, delete, atomic, sync, stats, watch), so writes keep
 * the one writer and its group commit, with its durability. One shared buffer
 * tells every attachment the store's state without a message: whether it is
 * closed, and the sequence number of the last commit applied, from which a
 * Worker knows its follower is behind.
 * @module
 */

import { ClosedError, InvalidArgumentError } from "../base/errors.ts";
import type { Bytes } from "../base/keys.ts";
import type {
  AtomicOptions,
  AtomicResult,
  BatchOp,
  Change,
  SetOptions,
  Stats,
  WatchOptions,
} from "../base/types.ts";
import {
  CLOSED_FLAG,
  type Message,
  type Op,
  type ReaderOptions,
  type Request,
  SEQ_LOW,
  type SharedCask,
  STATE_INTS,
} from "./share_protocol.ts";
import { Watch } from "./watch.ts";
import { expiries } from "./change_queue.ts";
import { Outbox } from "./outbox.ts";
import { toWire } from "./wire_errors.ts";

/** The store calls an attachment serves (the store's own methods). */
export interface ShareableStore {
  readonly sequence: number;
  set(key: Bytes, value: Bytes, options?: SetOptions): Promise<void>;
  delete(key: Bytes): Promise<boolean>;
  atomic(ops: readonly BatchOp[], options?: AtomicOptions): Promise<AtomicResult>;
  sync(): Promise<void>;
  stats(): Stats;
  refresh(): Promise<void>;
  watch(options: WatchOptions): AsyncIterableIterator<Change>;
}

/** What sharing needs of the store beyond its public methods. */
export interface StoreInternals {
  dir: string;
  options: ReaderOptions;
  /**
   * Calls `listener` as each commit is applied; returns the unsubscribe.
   * Undefined on a read-only store, which applies another process's commits.
   */
  listen?: (listener: () => void) => () => void;
  /** Resolves once every commit visible now is in the files. */
  written(): Promise<void>;
}

/** A store's attachments, made by its `share()`; closed with the store. */
export class Sharing {
  readonly #db: ShareableStore;
  readonly #internals: StoreInternals;
  readonly #state = new SharedArrayBuffer(STATE_INTS * 4);
  readonly #ints = new Int32Array(this.#state);
  readonly #attachments = new Set<Attachment>();
  readonly #unlisten?: () => void;

  constructor(db: ShareableStore, internals: StoreInternals) {
    this.#db = db;
    this.#internals = internals;
    this.#publish();
    this.#unlisten = internals.listen?.(() => this.#publish());
  }

  /** A new attachment for one Worker. */
  share(): SharedCask {
    const { port1, port2 } = new MessageChannel();
    const a = new Attachment(this.#db, this.#internals, port1, () => this.#attachments.delete(a));
    this.#attachments.add(a);
    return {
      port: port2,
      state: this.#state,
      dir: this.#internals.dir,
      options: this.#internals.options,
    };
  }

  /** The store closed: every attachment ends once it has answered what it was sent. */
  close(): void {
    Atomics.store(this.#ints, CLOSED_FLAG, 1);
    this.#unlisten?.();
    for (const a of this.#attachments) a.ownerClosed();
  }

  #publish(): void {
    Atomics.store(this.#ints, SEQ_LOW, this.#db.sequence | 0);
  }
}

type Handler = (a: Attachment, args: unknown[]) => unknown;

// deno-lint-ignore no-explicit-any -- arguments arrive untyped; the store validates them
type Any = any;

const HANDLERS: Record<Op, Handler> = {
  set: (a, [key, value, options]) => a.db.set(key as Any, value as Any, options as Any),
  delete: (a, [key]) => a.db.delete(key as Any),
  atomic: (a, [ops, options]) => a.db.atomic(ops as Any, options as Any),
  sync: (a) => a.db.sync(),
  stats: (a) => a.db.stats(),
  // A read-only owner catches up with its writer first (a writable one is
  // current); then every commit visible goes into the files, where the
  // Worker's follower looks for the sequence number of the reply.
  refresh: async (a) => {
    await a.db.refresh();
    await a.written();
  },
  watch: (a, [wid, options]) => a.watch(wid as number, options as Any),
  unwatch: (a, [wid]) => a.unwatch(wid as number),
  detach: (a) => a.detach(),
};

// A key or value the store hands out may be a view into a shared slab; posting
// the view would copy the whole slab to the Worker, so only its own bytes go.
function own(v: Uint8Array): Uint8Array {
  return v.byteLength === v.buffer.byteLength ? v : v.slice();
}

class Attachment {
  readonly #internals: StoreInternals;
  readonly #port: MessagePort;
  readonly #out: Outbox<Message>;
  readonly #forget: () => void;
  readonly #watches = new Map<number, AsyncIterableIterator<Change>>();
  // The loops forwarding the feeds' changes to the Worker.
  readonly #forwarding = new Set<Promise<void>>();
  #pending = 0;
  // The "closed" notice is queued (see ownerClosed).
  #toldClosed = false;
  // The calls being served.
  readonly #serving = new Set<Promise<void>>();
  #closed = false;
  #ownerClosed = false;

  constructor(
    readonly db: ShareableStore,
    internals: StoreInternals,
    port: MessagePort,
    forget: () => void,
  ) {
    this.#internals = internals;
    this.#port = port;
    this.#forget = forget;
    this.#out = new Outbox<Message>(port, (m, e) => {
      // A result the structured clone cannot carry: the caller still gets an answer.
      if (m.kind === "reply") this.#out.push({ ...m, value: undefined, error: toWire(e) });
    });
    port.onmessage = (e: MessageEvent<Request[]>) => {
      for (const r of e.data) {
        const serving = this.#serve(r);
        this.#serving.add(serving);
        void serving.finally(() => this.#serving.delete(serving));
      }
    };
  }

  watch(wid: number, options: WatchOptions): void {
    const feed = this.db.watch(options);
    this.#watches.set(wid, feed);
    const forwarding = (async () => {
      try {
        for await (const c of feed) {
          const change = { ...c, key: own(c.key), value: c.value && own(c.value) };
          // The mark that a change reports an expiry stays on this side of postMessage.
          const expired = expiries.has(c) || undefined;
          this.#out.push({ kind: "watch", wid, change, expired });
        }
        this.#out.push({ kind: "watch", wid, end: true });
      } catch (e) {
        this.#out.push({ kind: "watch", wid, error: toWire(e) });
      } finally {
        this.#watches.delete(wid);
      }
    })();
    this.#forwarding.add(forwarding);
    void forwarding.finally(() => this.#forwarding.delete(forwarding));
  }

  written(): Promise<void> {
    return this.#internals.written();
  }

  unwatch(wid: number): void {
    this.#watches.get(wid)?.return?.();
  }

  // The Worker gets the changes committed before it detached: the feeds end
  // keeping what they hold (return() would drop it), and the reply to the
  // detach goes out after what they forwarded.
  async detach(): Promise<void> {
    this.#closed = true;
    // The calls sent before the detach commit first, so their changes count.
    // (The detach's own call is not in the set yet: this runs inside its start.)
    await Promise.allSettled([...this.#serving]);
    for (const feed of this.#watches.values()) {
      if (feed instanceof Watch) feed.end();
      else feed.return?.();
    }
    await Promise.allSettled([...this.#forwarding]);
  }

  // The store ended its feeds before this, keeping the changes they had not
  // delivered: those reach the Worker before it hears of the close.
  //
  // The calls being served are answered before it too (under sync "always" a
  // write's reply waits for the close's fsync): the Worker takes a call still
  // unanswered at "closed" for one the owner never received. Calls that
  // arrive from now on are refused, so none is served after "closed".
  ownerClosed(): void {
    this.#closed = true;
    this.#ownerClosed = true;
    void Promise.allSettled([...this.#forwarding, ...this.#serving]).then(() => {
      this.#out.push({ kind: "closed" });
      this.#toldClosed = true;
      this.#release();
    });
  }

  async #serve(r: Request): Promise<void> {
    this.#pending++;
    let value: unknown, error: unknown, failed = false;
    try {
      if (this.#ownerClosed) throw new ClosedError();
      const handler = Object.hasOwn(HANDLERS, r.op) ? HANDLERS[r.op] : undefined;
      if (!handler) throw new InvalidArgumentError(`unknown operation ${JSON.stringify(r.op)}`);
      value = await handler(this, Array.isArray(r.args) ? r.args : []);
    } catch (e) {
      [error, failed] = [e, true];
    }
    const seq = this.db.sequence;
    this.#pending--;
    this.#out.push(
      failed
        ? { kind: "reply", id: r.id, seq, error: toWire(error) }
        : { kind: "reply", id: r.id, seq, value },
    );
    if (this.#closed) this.#release();
  }

  // Once closed (or detached) with every reply sent, the port goes: nothing
  // more can arrive, and an open port would keep the thread alive.
  #release(): void {
    // After the owner's close the port stays until "closed" went out.
    if (this.#pending > 0 || (this.#ownerClosed && !this.#toldClosed)) return;
    this.#forget();
    for (const w of this.#watches.values()) w.return?.();
    this.#out.flush();
    this.#port.close();
  }
}
