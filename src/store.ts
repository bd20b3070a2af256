/**
 * The store: the public API over the catalog (index and files) and the writer.
 * @module
 */

import { Batch } from "./batch.ts";
import { Catalog } from "./catalog.ts";
import { encodeRecord, readHeader, recordSize, scratch, verifyRecord } from "./codec.ts";
import { type CompactionContext, runCompaction, wantsCompaction } from "./compaction.ts";
import { DataFile } from "./datafile.ts";
import { asCaskError, ClosedError, CorruptionError, InvalidArgumentError } from "./errors.ts";
import { FLAG_BATCH, FLAG_COMMIT, FLAG_TOMBSTONE, HEADER_SIZE } from "./format.ts";
import { listIds } from "./fsutil.ts";
import { type Bytes, indexKey, keyEquals, keyToBytes } from "./keys.ts";
import type { Entry } from "./keydir.ts";
import { acquireLock, releaseLock } from "./lock.ts";
import { cleanupMerge, type CompactProgress } from "./merge.ts";
import { type Prepared, prepareOp, resolveRange } from "./ops.ts";
import { ReadAhead } from "./readahead.ts";
import { type OpenOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { recoverFile } from "./recovery.ts";
import type {
  BatchOp,
  CompactOptions,
  CompactResult,
  FileStats,
  ScanOptions,
  SetOptions,
  Stats,
} from "./types.ts";
import { Writer } from "./writer.ts";

const utf8 = new TextDecoder();
// Records up to this size are read straight into wasm memory and checked in place;
// bigger ones get a buffer of their own that becomes the returned value.
const SCRATCH_READ = 1024 * 1024;

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
  readonly #dir: string;
  readonly #opts: ResolvedOptions;
  readonly #catalog: Catalog;
  #writer!: Writer;
  #lock?: Deno.FsFile;
  #closing?: Promise<void>;
  #compacting?: Promise<CompactResult>;
  #lastCompaction?: CompactResult;

  private constructor(dir: string, opts: ResolvedOptions) {
    this.#dir = dir;
    this.#opts = opts;
    this.#catalog = new Catalog(opts.clock);
  }

  /** @internal Opens the store; use {@link open}. */
  static async open(dir: string, options?: OpenOptions): Promise<Cask> {
    if (typeof dir !== "string" || dir === "") {
      throw new InvalidArgumentError("dir must be a non-empty string");
    }
    const db = new Cask(dir, resolveOptions(options));
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw asCaskError(e, `cannot create ${dir}`);
    }
    db.#lock = await acquireLock(dir);
    try {
      await cleanupMerge(dir);
      await db.#recover();
    } catch (e) {
      db.#catalog.dropFiles([...db.#catalog.files.values()]);
      releaseLock(db.#lock);
      throw asCaskError(e, `cannot open the store in ${dir}`);
    }
    return db;
  }

  async #recover(): Promise<void> {
    const ids = await listIds(this.#dir, "data");
    const files = this.#catalog.files;
    for (let i = 0; i < ids.length; i++) {
      const file = new DataFile(this.#dir, ids[i], 0);
      files.set(file.id, file);
      await recoverFile(file, i === ids.length - 1, this.#catalog.sink, this.#opts);
    }
    let active = files.get(ids[ids.length - 1]);
    if (!active) {
      active = new DataFile(this.#dir, 0, 0);
      files.set(0, active);
    }
    this.#writer = new Writer(this.#dir, active, {
      sync: this.#opts.sync,
      maxFileSize: this.#opts.maxFileSize,
      onNewFile: (f) => {
        files.set(f.id, f);
        // Not from inside the append (or the seal of a compaction) that rotated.
        queueMicrotask(() => this.#maybeAutoCompact());
      },
    });
  }

  /** Number of keys in the store (keys expired but not yet noticed included). */
  get size(): number {
    return this.#catalog.index.size;
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
      this.#checkOpen();
      const k = indexKey(key);
      const e = this.#catalog.lookup(k);
      return Promise.resolve(e && this.#readValue(k, e));
    } catch (e) {
      return Promise.reject(e);
    }
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
    try {
      this.#checkOpen();
      return Promise.resolve(this.#catalog.lookup(indexKey(key)) !== undefined);
    } catch (e) {
      return Promise.reject(e);
    }
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
    try {
      this.#checkOpen();
      // One clock read: a second could find no time left for a key judged present.
      const now = this.#opts.clock();
      const e = this.#catalog.lookup(indexKey(key), now);
      if (!e) return Promise.resolve(undefined);
      return Promise.resolve(e.expireAt === 0 ? Infinity : e.expireAt - now);
    } catch (e) {
      return Promise.reject(e);
    }
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
    try {
      const op = this.#prepare({ type: "set", key, value, ...options });
      const ts = this.#opts.clock();
      const { file, offset } = this.#writer.append(
        op.size,
        (buf, at) => encodeRecord(buf, at, 0, ts, op.expireAt, op.kb, op.vb),
      );
      const entry = {
        fileId: file.id,
        offset,
        size: op.size,
        timestamp: ts,
        expireAt: op.expireAt,
      };
      return this.#writer.commit(() => this.#catalog.put(op.k, entry));
    } catch (e) {
      return Promise.reject(e);
    }
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
    try {
      const op = this.#prepare({ type: "delete", key });
      // Nothing to delete and no write in flight that could create it: skip the tombstone.
      if (!this.#catalog.index.get(op.k) && !this.#writer.busy) return Promise.resolve(false);
      const ts = this.#opts.clock();
      this.#writer.append(
        op.size,
        (buf, at) => encodeRecord(buf, at, FLAG_TOMBSTONE, ts, 0, op.kb, op.vb),
      );
      return this.#writer.commit(() => this.#catalog.remove(op.k));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Applies several sets and deletes as one: they become visible together and,
   * after a crash, are all present or none is. Invalid input rejects the whole
   * batch before anything is written.
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
  atomic(ops: readonly BatchOp[]): Promise<void> {
    try {
      if (!Array.isArray(ops)) {
        throw new InvalidArgumentError("atomic() takes an array of operations");
      }
      const prepared = ops.map((o) => this.#prepare(o));
      if (prepared.length === 0) return Promise.resolve();
      const commitSize = recordSize(0, 4);
      const total = prepared.reduce((n, p) => n + p.size, commitSize);
      const ts = this.#opts.clock();
      const count = new Uint8Array(4);
      new DataView(count.buffer).setUint32(0, prepared.length, true);
      const { file, offset } = this.#writer.append(total, (buf, at) => {
        for (const p of prepared) {
          const flags = FLAG_BATCH | (p.tombstone ? FLAG_TOMBSTONE : 0);
          at = encodeRecord(buf, at, flags, ts, p.expireAt, p.kb, p.vb);
        }
        encodeRecord(buf, at, FLAG_COMMIT, ts, 0, new Uint8Array(0), count);
      });
      return this.#writer.commit(() => {
        let at = offset;
        for (const p of prepared) {
          if (p.tombstone) this.#catalog.remove(p.k);
          else {
            this.#catalog.put(p.k, {
              fileId: file.id,
              offset: at,
              size: p.size,
              timestamp: ts,
              expireAt: p.expireAt,
            });
          }
          at += p.size;
        }
      });
    } catch (e) {
      return Promise.reject(e);
    }
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
  async *scan(options: ScanOptions = {}): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const ahead = new ReadAhead(options?.reverse === true);
    for (const [k, e] of this.#range(options)) {
      yield [keyToBytes(k), this.#readValue(k, e, ahead)];
    }
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
  async *keys(options: ScanOptions = {}): AsyncGenerator<Uint8Array> {
    for (const [k] of this.#range(options)) yield keyToBytes(k);
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
  compact(options: CompactOptions = {}): Promise<CompactResult> {
    try {
      this.#checkOpen();
      if (this.#writer.failure) throw this.#writer.failure;
      this.#compacting ??= this.#compact(options.onProgress ?? (() => {})).finally(() => {
        this.#compacting = undefined;
      });
      return this.#compacting;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  get #compaction(): CompactionContext {
    return {
      dir: this.#dir,
      catalog: this.#catalog,
      writer: this.#writer,
      maxFileSize: this.#opts.maxFileSize,
      onWarning: this.#opts.onWarning,
      checkOpen: () => this.#checkOpen(),
    };
  }

  async #compact(onProgress: (p: CompactProgress) => void): Promise<CompactResult> {
    try {
      this.#lastCompaction = await runCompaction(this.#compaction, onProgress);
    } catch (e) {
      throw asCaskError(e, "compaction failed");
    }
    return this.#lastCompaction;
  }

  #maybeAutoCompact(): void {
    const a = this.#opts.autoCompact;
    if (!a || this.#compacting || this.#closing || !wantsCompaction(this.#compaction, a)) return;
    this.compact().catch((e) =>
      this.#opts.onWarning({
        kind: "compaction-failed",
        file: this.#dir,
        offset: 0,
        bytes: 0,
        message: `automatic compaction failed: ${e?.message ?? e}`,
      })
    );
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
    try {
      this.#checkOpen();
      return this.#writer.sync();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Space use: live and dead bytes overall and per data file.
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
    const files: FileStats[] = [];
    let liveBytes = 0, deadBytes = 0;
    for (const f of [...this.#catalog.files.values()].sort((a, b) => a.id - b.id)) {
      const size = this.#writer.sizeOf(f);
      const live = this.#catalog.liveBytes(f.id);
      const dead = Math.max(0, size - live);
      files.push({
        id: f.id,
        size,
        liveBytes: live,
        deadBytes: dead,
        deadRatio: size ? dead / size : 0,
      });
      liveBytes += live;
      deadBytes += dead;
    }
    return {
      keys: this.#catalog.index.size,
      liveBytes,
      deadBytes,
      files,
      lastCompaction: this.#lastCompaction,
    };
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
    this.#closing ??= (async () => {
      try {
        // A running compaction stops at its next chunk and removes its temporary files.
        await this.#compacting?.catch(() => {});
        await this.#writer.close();
      } finally {
        this.#catalog.dropFiles([...this.#catalog.files.values()]);
        if (this.#lock) releaseLock(this.#lock);
      }
    })();
    return this.#closing;
  }

  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError();
  }

  *#range(o: ScanOptions): Generator<[string, Entry]> {
    this.#checkOpen();
    const r = resolveRange(o);
    if (!r) return;
    let n = 0;
    const clock = this.#opts.clock;
    for (const [k, e] of this.#catalog.index.range(r.start, r.end, r.reverse)) {
      this.#checkOpen();
      if (e.expireAt !== 0 && e.expireAt <= clock()) continue;
      yield [k, e];
      if (++n >= r.limit) return;
    }
  }

  // Reads and verifies the record of `k` at `e` with one positional read.
  // A scan passes its read-ahead window, which may hold the record already.
  #readValue(k: string, e: Entry, ahead?: ReadAhead): Uint8Array {
    const file = this.#catalog.files.get(e.fileId);
    if (!file) throw new CorruptionError(`index points at missing data file ${e.fileId}`);
    let buf = ahead?.view(file, e.offset, e.size);
    const shared = buf !== undefined || e.size <= SCRATCH_READ;
    if (!buf) {
      buf = shared ? scratch(e.size).subarray(0, e.size) : new Uint8Array(e.size);
      if (!this.#writer.readBuffered(file, e.offset, buf)) file.read(e.offset, buf);
    }
    const h = readHeader(buf, 0);
    if (
      !h || h.keyLen !== k.length || recordSize(h.keyLen, h.valueLen) !== e.size ||
      !keyEquals(buf, HEADER_SIZE, k) || !verifyRecord(buf, 0, h)
    ) {
      throw new CorruptionError(
        `record at ${file.path}:${e.offset} fails its checksum`,
        file.path,
        e.offset,
      );
    }
    const start = HEADER_SIZE + h.keyLen;
    return shared ? buf.slice(start) : buf.subarray(start);
  }

  #prepare(op: BatchOp): Prepared {
    this.#checkOpen();
    return prepareOp(op, this.#opts, this.#opts.clock);
  }
}
