/**
 * The owning thread's side of an attachment: it runs each Worker request
 * against the store (so writes go through its one writer and group commit,
 * with its durability), and tells the Worker which keys every commit changed.
 * @module
 */

import { InvalidArgumentError } from "../base/errors.ts";
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
import {
  CLOSED_FLAG,
  type Message,
  type Op,
  type Request,
  SCAN_PAGE,
  type SharedCask,
} from "./protocol.ts";
import { Outbox } from "./outbox.ts";
import { toWire } from "./wire_errors.ts";

/** The store calls an attachment serves (the store's own methods). */
export interface ShareableStore {
  readonly sequence: number;
  readonly readOnly: boolean;
  getEntry(key: Bytes): Promise<VersionedEntry | undefined>;
  getMany(keys: readonly Bytes[]): Promise<(Uint8Array | undefined)[]>;
  has(key: Bytes): Promise<boolean>;
  ttl(key: Bytes): Promise<number | undefined>;
  set(key: Bytes, value: Bytes, options?: SetOptions): Promise<void>;
  delete(key: Bytes): Promise<boolean>;
  atomic(ops: readonly BatchOp[], options?: AtomicOptions): Promise<AtomicResult>;
  count(range?: Pick<ScanOptions, "start" | "end" | "prefix">): Promise<number>;
  scan(options?: ScanOptions): AsyncIterable<[Uint8Array, Uint8Array]>;
  keys(options?: ScanOptions): AsyncIterable<Uint8Array>;
  sync(): Promise<void>;
  stats(): Stats;
  watch(options: WatchOptions): AsyncIterableIterator<Change>;
}

/** Subscribes to the keys of every commit as it is applied; returns the unsubscribe. */
export type CommitListener = (
  listener: (changes: { k: string; seq: number }[]) => void,
) => () => void;

/** Registers a function the store calls as it closes; returns the unregister. */
export type CloseHook = (f: () => void) => () => void;

/**
 * Serves a new attachment of `db`. `listen` must call its listener
 * synchronously as each commit is applied: that is what orders a commit's
 * keys before every reply posted after it.
 */
export function shareStore(
  db: ShareableStore,
  listen: CommitListener,
  onClose: CloseHook,
): SharedCask {
  const { port1, port2 } = new MessageChannel();
  const state = new SharedArrayBuffer(4);
  new Attachment(db, listen, onClose, port1, new Int32Array(state));
  return { port: port2, state };
}

type Handler = (a: Attachment, args: unknown[]) => unknown;

// deno-lint-ignore no-explicit-any -- arguments arrive untyped; the store validates them
type Any = any;

const HANDLERS: Record<Op, Handler> = {
  hello: (a, [cache]) => a.hello(cache === true),
  getEntry: (a, [key]) => a.db.getEntry(key as Any).then((e) => e && { ...e, value: own(e.value) }),
  getMany: (a, [keys]) => a.db.getMany(keys as Any).then((vs) => vs.map((v) => v && own(v))),
  has: (a, [key]) => a.db.has(key as Any),
  ttl: (a, [key]) => a.db.ttl(key as Any),
  set: (a, [key, value, options]) => a.db.set(key as Any, value as Any, options as Any),
  delete: (a, [key]) => a.db.delete(key as Any),
  atomic: (a, [ops, options]) => a.db.atomic(ops as Any, options as Any),
  count: (a, [range]) => a.db.count(range as Any),
  scan: (a, [options]) =>
    page(a.db.scan(options as Any)).then((es) => es.map(([k, v]) => [own(k), own(v)])),
  keys: (a, [options]) => page(a.db.keys(options as Any)).then((ks) => ks.map(own)),
  sync: (a) => a.db.sync(),
  stats: (a) => a.db.stats(),
  refresh: (a) => a.db.sequence,
  watch: (a, [wid, options]) => a.watch(wid as number, options as Any),
  unwatch: (a, [wid]) => a.unwatch(wid as number),
  detach: (a) => a.detach(),
};

// A key or value the store hands out may be a view into a shared slab; posting the view
// would copy the whole slab to the Worker, so only its own bytes go.
function own(v: Uint8Array): Uint8Array {
  return v.byteLength === v.buffer.byteLength ? v : v.slice();
}

// One page of a scan: the Worker asks for the next page from past the last key.
async function page<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length >= SCAN_PAGE) break;
  }
  return out;
}

class Attachment {
  readonly #listen: CommitListener;
  readonly #port: MessagePort;
  readonly #out: Outbox<Message>;
  readonly #flags: Int32Array;
  readonly #watches = new Map<number, AsyncIterableIterator<Change>>();
  #unlisten?: () => void;
  readonly #offClose: () => void;
  #pending = 0;
  #closed = false;

  constructor(
    readonly db: ShareableStore,
    listen: CommitListener,
    onClose: CloseHook,
    port: MessagePort,
    flags: Int32Array,
  ) {
    this.#listen = listen;
    this.#port = port;
    this.#out = new Outbox<Message>(port, (m, e) => {
      // A result the structured clone cannot carry: the caller still gets an answer.
      if (m.kind === "reply") this.#out.push({ ...m, value: undefined, error: toWire(e) });
    });
    this.#flags = flags;
    port.onmessage = (e: MessageEvent<Request[]>) => {
      for (const r of e.data) this.#serve(r);
    };
    this.#offClose = onClose(() => this.#ownerClosed());
  }

  // The Worker may cache only if this side reports every change: a read-only
  // store's refreshes apply the writer's commits without telling listeners.
  hello(cache: boolean): { sequence: number; cache: boolean } {
    const reported = cache && !this.db.readOnly;
    if (reported && !this.#unlisten) {
      // Queued in the outbox before any reply made after the commit.
      this.#unlisten = this.#listen((changes) => {
        if (changes.length === 0) return;
        const last = this.#out.last();
        const keys = changes.map((c) => c.k);
        const seq = changes[0].seq;
        if (last?.kind === "changed") {
          last.keys.push(...keys);
          last.seq = seq;
        } else this.#out.push({ kind: "changed", seq, keys });
      });
    }
    return { sequence: this.db.sequence, cache: reported };
  }

  watch(wid: number, options: WatchOptions): void {
    const feed = this.db.watch(options);
    this.#watches.set(wid, feed);
    (async () => {
      try {
        for await (const change of feed) this.#post({ kind: "watch", wid, change });
        this.#post({ kind: "watch", wid, end: true });
      } catch (e) {
        this.#post({ kind: "watch", wid, error: toWire(e) });
      } finally {
        this.#watches.delete(wid);
      }
    })();
  }

  unwatch(wid: number): void {
    this.#watches.get(wid)?.return?.();
  }

  detach(): void {
    this.#closed = true;
  }

  async #serve(r: Request): Promise<void> {
    this.#pending++;
    let value: unknown, error: unknown, failed = false;
    try {
      const handler = Object.hasOwn(HANDLERS, r.op) ? HANDLERS[r.op] : undefined;
      if (!handler) throw new InvalidArgumentError(`unknown operation ${JSON.stringify(r.op)}`);
      value = await handler(this, Array.isArray(r.args) ? r.args : []);
    } catch (e) {
      [error, failed] = [e, true];
    }
    this.#pending--;
    this.#post(
      failed
        ? { kind: "reply", id: r.id, seq: this.db.sequence, error: toWire(error) }
        : { kind: "reply", id: r.id, seq: this.db.sequence, value },
    );
    if (this.#closed) this.#release();
  }

  #ownerClosed(): void {
    Atomics.store(this.#flags, CLOSED_FLAG, 1);
    this.#post({ kind: "closed" });
    this.#closed = true;
    this.#release();
  }

  // Once closed (or detached) with every reply sent, the port goes: nothing
  // more can arrive, and an open port would keep the thread alive.
  #release(): void {
    if (this.#pending > 0) return;
    this.#unlisten?.();
    this.#offClose();
    for (const w of this.#watches.values()) w.return?.();
    this.#out.flush();
    this.#port.close();
  }

  #post(m: Message): void {
    this.#out.push(m);
  }
}
