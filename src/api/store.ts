/**
 * The store: the public API. It validates input and hands the work to the
 * catalog (index layer), which owns the index, the files, reads and writes.
 * @module
 */

import { resolve } from "node:path";
import { ClosedError, InvalidArgumentError, ReadOnlyError, userCall } from "../base/errors.ts";
import { type Bytes, keyToBytes } from "../base/keys.ts";
import { keyOut } from "../base/slab.ts";
import type {
  AtomicOptions,
  AtomicResult,
  BackupResult,
  BatchOp,
  Change,
  CompactOptions,
  CompactResult,
  OpenOptions,
  ScanOptions,
  SetOptions,
  Stats,
  VersionedEntry,
  WatchOptions,
} from "../base/types.ts";
import { Catalog, type KeyedOp } from "../index/catalog.ts";
import type { Entry } from "../index/keydir.ts";
import { stepAsync } from "./async_steps.ts";
import { settled } from "./loop_turns.ts";
import { Batch } from "./batch.ts";
import { type ResolvedOptions, resolveOptions } from "./options.ts";
import {
  checkCompactOptions,
  checkRangeOnly,
  checkScanOptions,
  checkSetOptions,
  checkStreamOptions,
  isWholeRange,
  lookupKey,
  prepareChecks,
  prepareOp,
  resolveRange,
  watchFilter,
} from "./validate.ts";
import { Watch } from "./watch.ts";
import type { SharedCask } from "./share_protocol.ts";
import { Sharing } from "./share.ts";

const utf8 = new TextDecoder();
const EMPTY = new Uint8Array(0);

let catalogOf: (db: Cask) => Catalog;
// The same, throwing ClosedError once the store is closed, as its methods do.
let openCatalogOf: (db: Cask) => Catalog;

/**
 * A write appended and waiting for its fsync; see {@link inFlightWrite}.
 * `drops` is {@link writeDrops} when it was appended.
 */
export interface InFlightWrite {
  readonly seq: number;
  readonly drops: number;
}

/**
 * The newest write of `key` if it is appended but not yet applied (under sync
 * "always" it waits for its fsync), else undefined. Not part of the public
 * surface: it lets `cask serve`, the store's only writer, build a
 * read-modify-write on a value still in flight instead of waiting a group
 * commit for it. That is safe because a write that is dropped (its write
 * failed) takes every write appended after it down with it.
 */
export function inFlightWrite(db: Cask, key: Uint8Array): InFlightWrite | undefined {
  const catalog = catalogOf(db);
  const seq = catalog.inFlightSeq(lookupKey(key));
  return seq === undefined ? undefined : { seq, drops: catalog.writeDrops };
}

/**
 * The absolute expiry of `key` by the store's clock (Infinity: none), or
 * undefined when it is absent or expired. Not part of the public surface:
 * `ttl()` is relative to a clock read inside the call, and `cask serve` needs
 * the exact time, which adding its own clock read to that cannot give.
 */
export function expiryAt(db: Cask, key: Bytes): number | undefined {
  const e = openCatalogOf(db).lookup(lookupKey(key));
  return e && (e.expireAt === 0 ? Infinity : e.expireAt);
}

/**
 * The sequence number of the newest write appended to the log, applied or
 * not: a call that leaves it unchanged appended nothing (it was refused).
 */
export function appendedSeq(db: Cask): number {
  return catalogOf(db).appendedSeq;
}

/** How many times writes in flight were dropped so far (see {@link InFlightWrite}). */
export function writeDrops(db: Cask): number {
  return catalogOf(db).writeDrops;
}

/**
 * Whether `w`, from {@link inFlightWrite} of `key`, is still the newest write
 * of `key` and still in flight: neither applied nor dropped.
 */
export function stillInFlight(db: Cask, key: Uint8Array, w: InFlightWrite): boolean {
  const catalog = catalogOf(db);
  return catalog.writeDrops === w.drops && catalog.inFlightSeq(lookupKey(key)) === w.seq;
}

/**
 * An open store. Get one with {@link open}.
 *
 * @example
 * ```ts
 * import { open } from "@cask/cask";
 * await using db = await open("./data");
 * await db.set("greeting", "hello");
 * console.log(await db.getString("greeting")); // "hello"
 * ```
 */
export class Cask {
  readonly #catalog: Catalog;
  readonly #dir: string;
  readonly #options: ResolvedOptions;
  readonly #clock: () => number;
  #closing?: Promise<void>;
  readonly #watches = new Set<Watch>();
  // The attachments of share(), made on its first call.
  #sharing?: Sharing;

  static {
    catalogOf = (db) => db.#catalog;
    openCatalogOf = (db) => {
      db.#checkOpen();
      return db.#catalog;
    };
  }

  /** @ignore Use {@link open}. */
  private constructor(catalog: Catalog, dir: string, options: ResolvedOptions) {
    this.#catalog = catalog;
    this.#dir = dir;
    this.#options = options;
    this.#clock = options.clock;
  }

  /** @ignore Use {@link open}. */
  static async open(dir: string, options?: OpenOptions): Promise<Cask> {
    if (typeof dir !== "string" || dir === "") {
      throw new InvalidArgumentError("dir must be a non-empty string");
    }
    const o = resolveOptions(options);
    // Resolved once: files are named from it for the store's whole life, and
    // a relative path read after the process changed its directory named
    // another (a store's new files were written into it, unnoticed).
    const at = resolve(dir);
    return new Cask(await Catalog.open(at, o), at, o);
  }

  /** Number of live keys in the store: expired keys are not counted. Throws ClosedError once closed. */
  get size(): number {
    this.#checkOpen();
    return this.#catalog.liveSize();
  }

  /**
   * The size limits the store was opened with (`maxKeySize`, `maxValueSize`):
   * a write past either is refused with `InvalidArgumentError`.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data", { maxValueSize: 1024 });
   * const value = new Uint8Array(2048);
   * if (value.length > db.limits.maxValueSize) console.log("too large to store");
   * ```
   */
  get limits(): { readonly maxKeySize: number; readonly maxValueSize: number } {
    return { maxKeySize: this.#options.maxKeySize, maxValueSize: this.#options.maxValueSize };
  }

  /**
   * The sequence number of the last commit visible to reads. Every commit (a
   * `set`, a `delete` that deletes, an `atomic` batch) takes the next number,
   * store-wide, and numbers keep growing across restarts and compactions.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const before = db.sequence;
   * await db.set("k", "v");
   * console.log(db.sequence > before); // true
   * ```
   */
  get sequence(): number {
    return this.#catalog.sequence;
  }

  /**
   * The value of `key`, or undefined when it is absent or expired. The record's
   * checksum is verified on every read.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const v: Uint8Array | undefined = await db.get("k");
   * ```
   */
  get(key: Bytes): Promise<Uint8Array | undefined> {
    try {
      return settled(this.getSync(key));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * `get` without the promise: the same index lookup and checksum-verified
   * read, returned directly, and the same errors, thrown. Nothing in a read
   * waits for a write, so the value is the one `get` would give at this point.
   * The read's system call blocks the thread (about a microsecond when the
   * record is in the page cache, a disk read when it is not), as reads through
   * a memory map do in lmdb-js: use it in loops of many reads, where the
   * promise of each `get` costs a tenth of the read.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * await db.set("k", "v");
   * const v: Uint8Array | undefined = db.getSync("k");
   * ```
   */
  getSync(key: Bytes): Uint8Array | undefined {
    this.#checkOpen();
    return this.#catalog.get(lookupKey(key));
  }

  /**
   * The value of `key` with the sequence number of the commit that wrote it, or
   * undefined when it is absent or expired. Checked like `get`.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * await db.set("k", "v");
   * const e = await db.getEntry("k");
   * console.log(e?.sequence, e?.expireAt);
   * ```
   */
  getEntry(key: Bytes): Promise<VersionedEntry | undefined> {
    return attempt(() => {
      this.#checkOpen();
      const k = lookupKey(key);
      const e = this.#catalog.lookup(k);
      if (!e) return undefined;
      const r = this.#catalog.readRecord(k, e);
      return { key: keyToBytes(k), value: r.value, sequence: r.seq, expireAt: e.expireAt };
    });
  }

  /**
   * The value of `key` decoded as UTF-8, or undefined when absent.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * await db.set("name", "Ada");
   * console.log(await db.getString("name")); // "Ada"
   * ```
   */
  async getString(key: Bytes): Promise<string | undefined> {
    const v = await this.get(key);
    return v && utf8.decode(v);
  }

  /**
   * Whether `key` is present (and not expired). Reads only the index.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * console.log(await db.has("k"));
   * ```
   */
  has(key: Bytes): Promise<boolean> {
    return attempt(() => {
      this.#checkOpen();
      return this.#catalog.lookup(lookupKey(key)) !== undefined;
    });
  }

  /**
   * Remaining time to live of `key` in ms: Infinity when it never expires,
   * undefined when it is absent.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * await db.set("session", "x", { ttl: 60_000 });
   * console.log(await db.ttl("session")); // about 60000
   * ```
   */
  ttl(key: Bytes): Promise<number | undefined> {
    return attempt(() => {
      this.#checkOpen();
      // One clock read: a second could find no time left for a key judged present.
      const now = this.#clock();
      const e = this.#catalog.lookup(lookupKey(key), now);
      if (!e) return undefined;
      return e.expireAt === 0 ? Infinity : e.expireAt - now;
    });
  }

  /**
   * Stores `value` under `key`, replacing any previous value. With `sync: "always"`
   * the promise resolves once the write is on disk.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * await db.set("user:1", JSON.stringify({ name: "Ada" }));
   * await db.set(new Uint8Array([0, 255]), new Uint8Array([1, 2, 3]), { ttl: 60_000 });
   * ```
   */
  set(key: Bytes, value: Bytes, options?: SetOptions): Promise<void> {
    // attempt() inlined: set and get are the hot paths, and its closure costs.
    try {
      checkSetOptions(options);
      const op = {
        type: "set" as const,
        key,
        value,
        ttl: options?.ttl,
        expireAt: options?.expireAt,
      };
      return this.#catalog.put(this.#prepare(op, false));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Stores the value `stream` yields under `key` without holding it in memory
   * (its record, header and key included, up to 4 GiB - 1): the chunks go to a
   * temporary file as they arrive, and the value becomes a data file of its
   * own, which compaction leaves in place while it is live. Resolves once the
   * value is durable, under every sync mode. A crash before that leaves no
   * trace. `size`, when given, must be the stream's exact length.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * using file = await Deno.open("./video.mp4");
   * await db.setStream("video", file.readable);
   * ```
   */
  setStream(
    key: Bytes,
    stream: ReadableStream<Uint8Array>,
    options?: SetOptions & { size?: number },
  ): Promise<void> {
    const storing = attempt(() => {
      if (!(stream instanceof ReadableStream)) {
        throw new InvalidArgumentError("setStream() takes a ReadableStream<Uint8Array>");
      }
      if (stream.locked) {
        throw new InvalidArgumentError("setStream() needs a stream no reader holds (it is locked)");
      }
      checkStreamOptions(options);
      const { size, ...rest } = options ?? {};
      const op = this.#prepare({ type: "set", key, value: EMPTY, ...rest });
      return this.#catalog.setStream(op, stream, size);
    });
    // Refused before a byte was read (bad options or key, a closed or
    // read-only store): the source is let go, as a pipe whose destination
    // fails lets go of its source. One read from is the stream's reader's.
    // The promise handed back is the store's own, as before.
    storing.catch((e) => {
      if (stream instanceof ReadableStream && !stream.locked) stream.cancel(e).catch(() => {});
    });
    return storing;
  }

  /**
   * The value of `key` as a stream of chunks, or undefined when absent. The
   * record's checksum is checked as the chunks pass; a damaged value errors
   * the stream with CorruptionError before its last chunk is delivered. It is
   * a byte stream: a BYOB reader (`getReader({ mode: "byob" })`) has the value
   * read into its own buffer, so even a huge value costs no allocation per
   * chunk.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const s = await db.getStream("video");
   * if (s) await s.pipeTo(Deno.stdout.writable, { preventClose: true });
   * ```
   */
  getStream(key: Bytes): Promise<ReadableStream<Uint8Array> | undefined> {
    return attempt(() => {
      this.#checkOpen();
      return this.#catalog.getStream(lookupKey(key));
    });
  }

  /**
   * Deletes `key`; resolves to whether it was present.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * await db.set("k", "v");
   * console.log(await db.delete("k")); // true
   * ```
   */
  delete(key: Bytes): Promise<boolean> {
    return attempt(() => this.#catalog.write(this.#prepare({ type: "delete", key }, false)));
  }

  /**
   * Applies several sets and deletes as one: they become visible together and,
   * after a crash, are all present or none is. Invalid input rejects the whole
   * batch before anything is written. All of them share one sequence number.
   *
   * With `checks`, the batch is written only if, at commit time, each checked
   * key's current record carries the given sequence number (or, for `null`,
   * the key is absent); otherwise it resolves `{ ok: false }` and writes
   * nothing. A key's "current record" includes a write still waiting for its
   * fsync, so two checked commits on one key can never both succeed.
   *
   * With no ops (checks only, or none), nothing is written: it resolves
   * `{ ok: true, sequence }` with the newest sequence number handed out, whose
   * write may still be waiting for its fsync.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * await db.atomic([
   *   { type: "set", key: "account:a", value: "90" },
   *   { type: "set", key: "account:b", value: "110" },
   *   { type: "delete", key: "pending:transfer" },
   * ]);
   * ```
   */
  atomic(ops: readonly BatchOp[], options?: AtomicOptions): Promise<AtomicResult> {
    return attempt(async () => {
      this.#checkOpen();
      if (!Array.isArray(ops)) {
        throw new InvalidArgumentError("atomic() takes an array of operations");
      }
      const prepared = Array.from(ops, (o) => this.#prepare(o));
      const seq = await this.#catalog.atomic(prepared, prepareChecks(options));
      return seq === null ? { ok: false } : { ok: true, sequence: seq };
    });
  }

  /**
   * Collects operations to apply atomically with {@link Batch.commit}.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * await db.batch().set("a", "1").set("b", "2").delete("c").commit();
   * ```
   */
  batch(): Batch {
    return new Batch((ops) => this.atomic(ops));
  }

  /**
   * Entries in key order (unsigned bytes) within the bounds, as `[key, value]`.
   *
   * Not a snapshot: the scan walks the live index, and every value is the latest
   * at the moment it is yielded. A key present for the whole scan is yielded
   * exactly once; keys written or deleted meanwhile may or may not appear. Values
   * are checksum-verified like `get`.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * for await (const [key, value] of db.scan({ prefix: "user:", limit: 10 })) {
   *   console.log(new TextDecoder().decode(key), value.length);
   * }
   * ```
   */
  scan(options?: ScanOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    return stepAsync(this.#scan(options));
  }

  /**
   * The same as {@link scan}: entries in key order within the bounds, as
   * `[key, value]`; a name for it beside {@link keys}.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * for await (const [key, value] of db.entries({ prefix: "user:" })) {
   *   console.log(new TextDecoder().decode(key), value.length);
   * }
   * ```
   */
  entries(options?: ScanOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    return this.scan(options);
  }

  *#scan(options?: ScanOptions): Generator<[Uint8Array, Uint8Array], void, undefined> {
    const ahead = this.#catalog.readAhead(options?.reverse === true);
    for (const [k, e] of this.#range(options)) {
      yield [keyOut(k), this.#catalog.read(k, e, ahead)];
    }
  }

  /**
   * Like {@link scan}, yielding each entry with its sequence number and expiry.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * for await (const e of db.scanEntries({ prefix: "user:" })) console.log(e.sequence);
   * ```
   */
  scanEntries(options?: ScanOptions): AsyncGenerator<VersionedEntry> {
    return stepAsync(this.#scanEntries(options));
  }

  *#scanEntries(options?: ScanOptions): Generator<VersionedEntry, void, undefined> {
    const ahead = this.#catalog.readAhead(options?.reverse === true);
    for (const [k, e] of this.#range(options)) {
      const r = this.#catalog.readRecord(k, e, ahead);
      yield { key: keyOut(k), value: r.value, sequence: r.seq, expireAt: e.expireAt };
    }
  }

  /**
   * Follows the changes to some keys: an async iterator of {@link Change}s, in
   * commit order, from the commits after the call (an atomic batch's changes
   * arrive together). A delete, and an expiry once the store notices it, arrive
   * with `value: undefined`. A consumer that falls more than 10,000 changes or
   * 64 MiB of values behind is ended with a `WatchOverflowError`; the writer
   * never waits for it. Stop with `break` (or `return()`); closing the store
   * ends every watch.
   *
   * With `since`, the feed first replays from the log every change committed
   * after that sequence number (a range delete arrives there as one change
   * with `range` set), then goes on live, with no gap and no repeat: a
   * consumer that stores the last `sequence` it handled resumes across a
   * restart. History a compaction merged is gone: such a `since` is refused
   * with HistoryGoneError, and one past the store's sequence number with
   * InvalidArgumentError.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const feed = db.watch({ prefix: "order:" });
   * await db.set("order:1", "new");
   * for await (const c of feed) {
   *   console.log(new TextDecoder().decode(c.key), c.sequence);
   *   break;
   * }
   * ```
   */
  watch(options: WatchOptions): AsyncIterableIterator<Change> {
    this.#checkOpen();
    const { filter, since } = watchFilter(options);
    const now = this.#catalog.sequence;
    if (since !== undefined && since > now) {
      // A position from another store, or from writes this one lost (under
      // "never", a crash): skipping to it would hide what came in between.
      throw new InvalidArgumentError(
        `since ${since} is past this store's last sequence number, ${now}`,
      );
    }
    const w = new Watch(
      (l) => this.#catalog.listen(l),
      filter,
      this.#catalog.sequence,
      (ended) => this.#watches.delete(ended),
      since === undefined ? undefined : (upTo) => this.#catalog.history(since, upTo),
      since,
    );
    this.#watches.add(w);
    return w;
  }

  /**
   * How many live keys lie within the bounds (start/end/prefix; all keys when
   * omitted), counted in the index without reading a value. Expired keys are
   * not counted.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * console.log(await db.count({ prefix: "user:" }));
   * ```
   */
  count(range?: Pick<ScanOptions, "start" | "end" | "prefix">): Promise<number> {
    return attempt(() => {
      this.#checkOpen();
      if (range !== undefined) checkRangeOnly(range);
      const r = resolveRange(range ?? {});
      return r ? this.#catalog.count(r.start, r.end) : 0;
    });
  }

  /**
   * The values of `keys`, in the order given (undefined where absent). The
   * records are read in the order they lie on disk, so a batch of gets is one
   * pass over the files.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const [a, b] = await db.getMany(["a", "b"]);
   * ```
   */
  getMany(keys: readonly Bytes[]): Promise<(Uint8Array | undefined)[]> {
    return attempt(() => {
      this.#checkOpen();
      if (!Array.isArray(keys)) throw new InvalidArgumentError("getMany() takes an array of keys");
      return this.#catalog.getMany(Array.from(keys, lookupKey));
    });
  }

  /**
   * Deletes every key in a range (`{ start, end }`, end excluded) or with a
   * prefix (`{ prefix }`) atomically, as one record in the log rather than a
   * tombstone per key; durable like a `set` under the store's sync mode.
   * Resolves to how many live keys it deleted.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const n = await db.deleteRange({ prefix: "session:" });
   * console.log(`${n} sessions removed`);
   * ```
   */
  deleteRange(range: { start: Bytes; end: Bytes } | { prefix: Bytes }): Promise<number> {
    return attempt(() => {
      this.#checkOpen();
      if (typeof range !== "object" || range === null) {
        throw new InvalidArgumentError("deleteRange() takes { start, end } or { prefix }");
      }
      checkRangeOnly(range);
      if (!isWholeRange(range)) {
        throw new InvalidArgumentError("deleteRange() takes { start, end } or { prefix }");
      }
      // A reader refuses every write, even one that would delete nothing.
      if (this.#catalog.readOnly) throw new ReadOnlyError();
      const r = resolveRange(range);
      if (!r) return 0;
      return this.#catalog.deleteRange(r.start ?? "", r.end);
    });
  }

  /**
   * Keys in order within the bounds, without reading values.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * for await (const key of db.keys({ prefix: "user:" })) console.log(key);
   * ```
   */
  keys(options?: ScanOptions): AsyncGenerator<Uint8Array> {
    return stepAsync(this.#keys(options));
  }

  *#keys(options?: ScanOptions): Generator<Uint8Array, void, undefined> {
    for (const [k] of this.#range(options)) yield keyOut(k);
  }

  /**
   * Merges the data files: live records are copied into new files (with hint
   * files for a fast open), and overwritten, deleted and expired records are
   * dropped. Reads and writes go on meanwhile; a crash at any point leaves the
   * data as it was. A call while a compaction runs joins it.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const r = await db.compact({
   *   onProgress: (p) => console.log(p.phase, p.bytesDone, "/", p.bytesTotal),
   * });
   * console.log(`${r.bytesIn} -> ${r.bytesOut} bytes`);
   * ```
   */
  compact(options?: CompactOptions): Promise<CompactResult> {
    return attempt(() => {
      this.#checkOpen();
      checkCompactOptions(options);
      const onProgress = options?.onProgress;
      return this.#catalog.compact(onProgress ? (p) => userCall(onProgress, p) : () => {});
    });
  }

  /**
   * Writes out buffered appends and fsyncs them; resolves once every write made
   * before the call is durable.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data", { sync: "never" });
   * await db.set("k", "v");
   * await db.sync();
   * ```
   */
  sync(): Promise<void> {
    return attempt(() => {
      this.#checkOpen();
      return this.#catalog.sync();
    });
  }

  /**
   * Space use: live and dead bytes overall and per data file. File headers
   * count as neither.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const s = db.stats();
   * console.log(s.keys, s.liveBytes, s.deadBytes);
   * ```
   */
  stats(): Stats {
    this.#checkOpen();
    return this.#catalog.stats();
  }

  /**
   * A handle for a Worker: post it (transferring its port) and call `attach()`
   * with it there. One call per Worker. The Worker reads the directory itself
   * (it needs read permission for it); its writes come to this thread. See
   * "Threads (Workers)" in the README.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * // Not `await using`: the store must stay open while the Worker uses it.
   * const db = await open("./data");
   * const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
   * const shared = db.share();
   * worker.postMessage(shared, [shared.port]);
   * ```
   */
  share(): SharedCask {
    this.#checkOpen();
    const o = this.#options;
    this.#sharing ??= new Sharing(this, {
      dir: this.#dir,
      options: {
        maxKeySize: o.maxKeySize,
        maxValueSize: o.maxValueSize,
        maxIndexBytes: o.maxIndexBytes,
        strict: o.strict,
      },
      listen: this.readOnly ? undefined : (l) => this.#catalog.listen(l),
      written: () => this.#catalog.written(),
    });
    return this.#sharing.share();
  }

  /**
   * Flushes and fsyncs pending writes, closes the files and releases the lock.
   * Later calls reject with ClosedError. Calling it again is harmless.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * const db = await open("./data");
   * await db.close();
   * ```
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#sharing?.close();
      // Feeds end once every write called before the close is applied (the
      // close writes those still pending), so a live feed misses none of them.
      this.#closing = this.#catalog.close(() => {
        for (const w of this.#watches) w.end();
      });
    }
    return this.#closing;
  }

  /**
   * Whether the store was opened with `readOnly: true`.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data", { readOnly: true });
   * console.log(db.readOnly); // true
   * ```
   */
  get readOnly(): boolean {
    return this.#catalog.readOnly;
  }

  /**
   * On a read-only store: catches up with what the writer (another process)
   * committed since the open or the last refresh: records appended, new files,
   * compactions. The store always shows a prefix of the writer's history: a
   * batch whole or not at all, and no key ever back at an older value.
   * `sequence` then reports the last commit applied. On a writable store,
   * which is always current, it does nothing.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using reader = await open("./data", { readOnly: true });
   * await reader.refresh();
   * console.log(reader.sequence, await reader.getString("k"));
   * ```
   */
  refresh(): Promise<void> {
    return attempt(() => {
      this.#checkOpen();
      return this.#catalog.refresh();
    });
  }

  /**
   * Writes a consistent snapshot of the store, at one sequence number, into
   * directory `target` while reads, writes and compactions go on. Sealed data
   * files and their hints are hard-linked where the file system allows (else
   * copied), the file being appended is copied up to what is written of it
   * (after a `sync()`), and everything is fsynced. A second backup into the
   * same target copies only what changed and removes files the store no
   * longer has. The target opens as a store equal to this one as of the
   * returned `sequence`. Works on read-only stores too (at their `sequence`).
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * await using db = await open("./data");
   * const r = await db.backup("./data-backup");
   * console.log(`backup at sequence ${r.sequence}, ${r.bytesCopied} bytes copied`);
   * ```
   */
  backup(target: string): Promise<BackupResult> {
    return attempt(() => {
      this.#checkOpen();
      if (typeof target !== "string" || target === "") {
        throw new InvalidArgumentError("target must be a non-empty string");
      }
      return this.#catalog.backup(target);
    });
  }

  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError();
  }

  *#range(o: ScanOptions = {}): Generator<[string, Entry]> {
    this.#checkOpen();
    checkScanOptions(o);
    const r = resolveRange(o);
    if (!r) return;
    let n = 0;
    for (const kv of this.#catalog.range(r.start, r.end, r.reverse)) {
      this.#checkOpen();
      yield kv;
      if (++n >= r.limit) return;
    }
  }

  // `fromUser`: the op is the caller's object, whose fields must be checked; the
  // methods that build it from their arguments skip that.
  #prepare(op: BatchOp, fromUser = true): KeyedOp {
    this.#checkOpen();
    return prepareOp(op, this.#options, this.#clock, fromUser);
  }
}

// Runs `f`, turning a throw into a rejection, so every method reports bad input
// the same way; a promise `f` returns is passed on as it is, without another hop,
// and a result it has at once settles as loop_turns.ts says.
function attempt<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    const r = f();
    return r instanceof Promise ? r : settled(r);
  } catch (e) {
    return Promise.reject(e);
  }
}
