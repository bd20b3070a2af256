/**
 * The store: the public API over the key index and the data files.
 * @module
 */

import { encodeRecord, readHeader, recordSize, scratch, verifyRecord } from "./codec.ts";
import { DataFile } from "./datafile.ts";
import { ClosedError, CorruptionError, InvalidArgumentError } from "./errors.ts";
import { FLAG_BATCH, FLAG_COMMIT, FLAG_TOMBSTONE, HEADER_SIZE } from "./format.ts";
import { hintPath, listIds } from "./fsutil.ts";
import { readHint } from "./hint.ts";
import {
  type Bytes,
  bytesToKey,
  indexKey,
  isAscii,
  keyEquals,
  keyToBytes,
  toBytes,
} from "./keys.ts";
import { type Entry, KeyDir } from "./keydir.ts";
import { acquireLock, releaseLock } from "./lock.ts";
import { type OpenOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import {
  cleanupMerge,
  type CompactProgress,
  installMerged,
  type MergeOutput,
  removeInputs,
  writeMerged,
} from "./merge.ts";
import { recoverFile, type RecoverySink } from "./recovery.ts";
import { Writer } from "./writer.ts";

/** Per-write options of {@link Cask.set}. */
export interface SetOptions {
  /** Time to live in milliseconds; the key reads as absent once it has passed. */
  ttl?: number;
  /** Absolute expiry time in milliseconds since the epoch (instead of `ttl`). */
  expireAt?: number;
}

/** One operation of an atomic batch. */
export type BatchOp =
  | { type: "set"; key: Bytes; value: Bytes; ttl?: number; expireAt?: number }
  | { type: "delete"; key: Bytes };

/** Bounds of a scan. Keys compare as unsigned bytes. */
export interface ScanOptions {
  /** First key to include. */
  start?: Bytes;
  /** First key past the range (excluded). */
  end?: Bytes;
  /** Only keys starting with these bytes. Combines with start/end. */
  prefix?: Bytes;
  /** Descending order. */
  reverse?: boolean;
  /** Stop after this many entries. */
  limit?: number;
}

/** Space use of one data file. */
export interface FileStats {
  /** Data file id (`data.<id>`). */
  id: number;
  /** Bytes in the file, buffered appends included. */
  size: number;
  /** Bytes of records that are the current value of a key. */
  liveBytes: number;
  /** Bytes of overwritten, deleted and expired records, tombstones and damage. */
  deadBytes: number;
  /** deadBytes / size. */
  deadRatio: number;
}

/** What {@link Cask.stats} reports. */
export interface Stats {
  /** Keys in the index (keys expired but not yet noticed included). */
  keys: number;
  /** Bytes of live records over all files. */
  liveBytes: number;
  /** Bytes of dead records over all files. */
  deadBytes: number;
  /** Per-file figures, by ascending id. */
  files: FileStats[];
  /** The last compaction of this open store, if any. */
  lastCompaction?: CompactResult;
}

/** Options of {@link Cask.compact}. */
export interface CompactOptions {
  /** Called as the compaction advances (e.g. to draw a progress bar). */
  onProgress?: (progress: CompactProgress) => void;
}

/** What a compaction did. */
export interface CompactResult {
  /** When it finished, ms since the epoch. */
  finishedAt: number;
  /** How long it took in ms. */
  durationMs: number;
  /** Data files merged. */
  filesIn: number;
  /** Data files written. */
  filesOut: number;
  /** Bytes of the merged files. */
  bytesIn: number;
  /** Bytes of the files written. */
  bytesOut: number;
}

const utf8 = new TextDecoder();
// Records up to this size are read straight into wasm memory and checked in place.
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
  readonly #index = new KeyDir();
  readonly #files = new Map<number, DataFile>();
  readonly #live = new Map<number, number>();
  #writer!: Writer;
  #lock?: Deno.FsFile;
  #closing?: Promise<void>;
  #compacting?: Promise<CompactResult>;
  #lastCompaction?: CompactResult;

  private constructor(dir: string, opts: ResolvedOptions) {
    this.#dir = dir;
    this.#opts = opts;
  }

  /** @internal Opens the store; use {@link open}. */
  static async open(dir: string, options?: OpenOptions): Promise<Cask> {
    if (typeof dir !== "string" || dir === "") {
      throw new InvalidArgumentError("dir must be a non-empty string");
    }
    const db = new Cask(dir, resolveOptions(options));
    await Deno.mkdir(dir, { recursive: true });
    db.#lock = await acquireLock(dir);
    try {
      await cleanupMerge(dir);
      await db.#recover();
    } catch (e) {
      db.#closeFiles();
      releaseLock(db.#lock);
      throw e;
    }
    return db;
  }

  async #recover(): Promise<void> {
    const ids = await listIds(this.#dir, "data");
    const sink: RecoverySink = {
      record: (key, fileId, offset, h) => {
        const now = this.#opts.clock();
        if (h.flags & FLAG_TOMBSTONE || (h.expireAt !== 0 && h.expireAt <= now)) {
          this.#unindex(key);
        } else {
          this.#indexEntry(key, {
            fileId,
            offset,
            size: recordSize(h.keyLen, h.valueLen),
            timestamp: h.timestamp,
            expireAt: h.expireAt,
          });
        }
      },
    };
    for (let i = 0; i < ids.length; i++) {
      const file = new DataFile(this.#dir, ids[i], 0);
      this.#files.set(file.id, file);
      await recoverFile(file, i === ids.length - 1, sink, this.#opts);
    }
    let active = this.#files.get(ids[ids.length - 1]);
    if (!active) {
      active = new DataFile(this.#dir, 0, 0);
      this.#files.set(0, active);
    }
    this.#writer = new Writer(this.#dir, active, {
      sync: this.#opts.sync,
      maxFileSize: this.#opts.maxFileSize,
      onNewFile: (f) => {
        this.#files.set(f.id, f);
        // Not from inside the append (or the seal of a compaction) that rotated.
        queueMicrotask(() => this.#maybeAutoCompact());
      },
    });
  }

  /** Number of keys in the store (keys expired but not yet noticed included). */
  get size(): number {
    return this.#index.size;
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
      const e = this.#lookup(k);
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
      return Promise.resolve(this.#lookup(indexKey(key)) !== undefined);
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
      const e = this.#lookup(indexKey(key), now);
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
      return this.#writer.commit(() => this.#indexEntry(op.k, entry));
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
      if (!this.#index.get(op.k) && !this.#writer.busy) return Promise.resolve(false);
      const ts = this.#opts.clock();
      this.#writer.append(
        op.size,
        (buf, at) => encodeRecord(buf, at, FLAG_TOMBSTONE, ts, 0, op.kb, op.vb),
      );
      return this.#writer.commit(() => this.#unindex(op.k));
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
          if (p.tombstone) this.#unindex(p.k);
          else {
            this.#indexEntry(p.k, {
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
    return new Batch(this);
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
    for (const [k, e] of this.#range(options)) {
      yield [keyToBytes(k), this.#readValue(k, e)];
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

  async #compact(onProgress: (p: CompactProgress) => void): Promise<CompactResult> {
    const t0 = performance.now();
    const inputs = [...this.#files.values()].sort((a, b) => a.id - b.id);
    const inputIds = new Set(inputs.map((f) => f.id));
    const firstId = this.#writer.nextId;
    // Outputs never outnumber inputs by more than one; the last output grows
    // past maxFileSize rather than run out of ids.
    const lastId = firstId + inputs.length;
    this.#writer.seal(inputs.length + 1);
    await this.#writer.sync();
    const bytesIn = inputs.reduce((n, f) => n + f.size, 0);
    let damaged = false;
    const outputs = await writeMerged({
      dir: this.#dir,
      inputs,
      firstId,
      lastId,
      maxFileSize: this.#opts.maxFileSize,
      isLive: (key, fileId, offset) => {
        const e = this.#index.get(key);
        if (!e || e.fileId !== fileId || e.offset !== offset) return false;
        if (e.expireAt === 0 || e.expireAt > this.#opts.clock()) return true;
        this.#unindex(key);
        return false;
      },
      onDamage: (file, offset, bytes) => {
        damaged = true;
        this.#opts.onWarning({
          kind: "damaged",
          file,
          offset,
          bytes,
          message: `${file}: compaction skipped ${bytes} damaged bytes at ${offset}`,
        });
      },
      checkAbort: () => this.#checkOpen(),
      onProgress,
    });
    const progress = (phase: CompactProgress["phase"]) => () =>
      onProgress({ phase, bytesDone: bytesIn, bytesTotal: bytesIn });
    await installMerged(this.#dir, outputs, progress("install"));
    for (const out of outputs) await this.#adopt(out, inputIds);
    if (damaged) this.#dropEntriesIn(inputIds);
    for (const f of inputs) {
      this.#files.delete(f.id);
      this.#live.delete(f.id);
      f.close();
    }
    await removeInputs(this.#dir, inputs, progress("cleanup"));
    this.#lastCompaction = {
      finishedAt: this.#opts.clock(),
      durationMs: performance.now() - t0,
      filesIn: inputs.length,
      filesOut: outputs.length,
      bytesIn,
      bytesOut: outputs.reduce((n, o) => n + o.size, 0),
    };
    return this.#lastCompaction;
  }

  // Points the index at a merged file for every key still served by an input:
  // such a key was not written since it was copied (new writes go to files
  // after the outputs), so the copy is its current value.
  async #adopt(out: MergeOutput, inputIds: Set<number>): Promise<void> {
    const file = new DataFile(this.#dir, out.id, out.size);
    this.#files.set(out.id, file);
    await readHint(hintPath(this.#dir, out.id), out.size, (key, offset, h) => {
      const e = this.#index.get(key);
      if (!e || !inputIds.has(e.fileId)) return;
      this.#indexEntry(key, {
        fileId: out.id,
        offset,
        size: recordSize(h.keyLen, h.valueLen),
        timestamp: h.timestamp,
        expireAt: h.expireAt,
      });
    });
  }

  // Keys whose records sat in damaged input regions were not copied; they are
  // gone with the inputs, so they leave the index rather than point nowhere.
  #dropEntriesIn(fileIds: Set<number>): void {
    for (const [k, e] of this.#index.range()) if (fileIds.has(e.fileId)) this.#unindex(k);
  }

  // Bytes of `f`, buffered appends included.
  #fileSize(f: DataFile): number {
    return f === this.#writer.active ? this.#writer.end : f.size;
  }

  #maybeAutoCompact(): void {
    const a = this.#opts.autoCompact;
    if (!a || this.#compacting || this.#closing) return;
    let total = 0, live = 0;
    for (const f of this.#files.values()) {
      total += this.#fileSize(f);
      live += this.#live.get(f.id) ?? 0;
    }
    const dead = total - live;
    if (dead < a.minDeadBytes || dead < a.minDeadRatio * total) return;
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
    for (const f of [...this.#files.values()].sort((a, b) => a.id - b.id)) {
      const size = this.#fileSize(f);
      const live = this.#live.get(f.id) ?? 0;
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
      keys: this.#index.size,
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
        this.#closeFiles();
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

  #closeFiles(): void {
    for (const f of this.#files.values()) f.close();
  }

  // The index entry of `k` when present and not expired; an expired key is
  // dropped from the index on sight (its record stays dead until a merge).
  #lookup(k: string, now?: number): Entry | undefined {
    const e = this.#index.get(k);
    if (!e || e.expireAt === 0 || e.expireAt > (now ?? this.#opts.clock())) return e;
    this.#unindex(k);
    return undefined;
  }

  *#range(o: ScanOptions): Generator<[string, Entry]> {
    this.#checkOpen();
    if (typeof o !== "object" || o === null) {
      throw new InvalidArgumentError("scan options must be an object");
    }
    let start = o.start === undefined ? undefined : indexKey(o.start);
    let end = o.end === undefined ? undefined : indexKey(o.end);
    if (o.prefix !== undefined) {
      const p = indexKey(o.prefix);
      if (start === undefined || start < p) start = p;
      const after = prefixEnd(p);
      if (after !== undefined && (end === undefined || end > after)) end = after;
    }
    if (o.reverse !== undefined && typeof o.reverse !== "boolean") {
      throw new InvalidArgumentError(`reverse must be a boolean, got ${o.reverse}`);
    }
    const limit = o.limit === undefined ? Infinity : o.limit;
    if (limit !== Infinity && !(Number.isInteger(limit) && limit >= 0)) {
      throw new InvalidArgumentError(`limit must be a non-negative integer, got ${limit}`);
    }
    if (limit === 0 || (start !== undefined && end !== undefined && start >= end)) return;
    let n = 0;
    const now = this.#opts.clock;
    for (const [k, e] of this.#index.range(start, end, o.reverse === true)) {
      this.#checkOpen();
      if (e.expireAt !== 0 && e.expireAt <= now()) continue;
      yield [k, e];
      if (++n >= limit) return;
    }
  }

  // Reads and verifies the record of `k` at `e` with one positional read.
  #readValue(k: string, e: Entry): Uint8Array {
    const file = this.#files.get(e.fileId);
    if (!file) throw new CorruptionError(`index points at missing data file ${e.fileId}`);
    const inScratch = e.size <= SCRATCH_READ;
    const buf = inScratch ? scratch(e.size).subarray(0, e.size) : new Uint8Array(e.size);
    if (!this.#writer.readBuffered(file, e.offset, buf)) file.read(e.offset, buf);
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
    return inScratch ? buf.slice(start) : buf.subarray(start);
  }

  #indexEntry(k: string, e: Entry): void {
    const old = this.#index.get(k);
    if (old) this.#live.set(old.fileId, (this.#live.get(old.fileId) ?? 0) - old.size);
    this.#index.set(k, e);
    this.#live.set(e.fileId, (this.#live.get(e.fileId) ?? 0) + e.size);
  }

  #unindex(k: string): boolean {
    const old = this.#index.get(k);
    if (!old) return false;
    this.#index.delete(k);
    this.#live.set(old.fileId, (this.#live.get(old.fileId) ?? 0) - old.size);
    return old.expireAt === 0 || old.expireAt > this.#opts.clock();
  }

  #prepare(op: BatchOp): Prepared {
    this.#checkOpen();
    if (typeof op !== "object" || op === null) {
      throw new InvalidArgumentError("operation must be an object");
    }
    const kb = toBytes(op.key, "key");
    if (kb.length === 0) throw new InvalidArgumentError("key must not be empty");
    if (kb.length > this.#opts.maxKeySize) {
      throw new InvalidArgumentError(
        `key is ${kb.length} bytes; maxKeySize is ${this.#opts.maxKeySize}`,
      );
    }
    const k = typeof op.key === "string" && isAscii(op.key) ? op.key : bytesToKey(kb);
    if (op.type === "delete") {
      return { k, kb, vb: EMPTY, size: recordSize(kb.length, 0), expireAt: 0, tombstone: true };
    }
    if (op.type !== "set") {
      throw new InvalidArgumentError(
        `unknown operation type ${JSON.stringify((op as BatchOp).type)}`,
      );
    }
    const vb = toBytes(op.value, "value");
    if (vb.length > this.#opts.maxValueSize) {
      throw new InvalidArgumentError(
        `value is ${vb.length} bytes; maxValueSize is ${this.#opts.maxValueSize}`,
      );
    }
    return {
      k,
      kb,
      vb,
      size: recordSize(kb.length, vb.length),
      expireAt: this.#expiry(op),
      tombstone: false,
    };
  }

  #expiry(o: { ttl?: number; expireAt?: number }): number {
    if (o.ttl !== undefined && o.expireAt !== undefined) {
      throw new InvalidArgumentError("give ttl or expireAt, not both");
    }
    if (o.ttl !== undefined) {
      if (typeof o.ttl !== "number" || !Number.isFinite(o.ttl) || o.ttl <= 0) {
        throw new InvalidArgumentError(
          `ttl must be a positive number of milliseconds, got ${o.ttl}`,
        );
      }
      const at = Math.ceil(this.#opts.clock() + o.ttl);
      if (!Number.isSafeInteger(at)) {
        throw new InvalidArgumentError(`ttl ${o.ttl} puts the expiry past the largest timestamp`);
      }
      return at;
    }
    if (o.expireAt !== undefined) {
      if (!Number.isSafeInteger(o.expireAt) || o.expireAt <= 0) {
        throw new InvalidArgumentError(
          `expireAt must be a positive integer ms timestamp, got ${o.expireAt}`,
        );
      }
      return o.expireAt;
    }
    return 0;
  }
}

interface Prepared {
  k: string;
  kb: Uint8Array;
  vb: Uint8Array;
  size: number;
  expireAt: number;
  tombstone: boolean;
}

const EMPTY = new Uint8Array(0);

// The smallest key greater than every key starting with `p`, or undefined if none exists.
function prefixEnd(p: string): string | undefined {
  let i = p.length;
  while (i > 0 && p.charCodeAt(i - 1) === 0xff) i--;
  if (i === 0) return undefined;
  return p.slice(0, i - 1) + String.fromCharCode(p.charCodeAt(i - 1) + 1);
}

/**
 * Operations collected for one atomic commit. Get one from {@link Cask.batch}.
 *
 * @example
 * ```ts
 * import { open } from "@cask/cask";
 * await using db = await open("./data");
 * const b = db.batch();
 * b.set("a", "1");
 * b.delete("b");
 * await b.commit();
 * ```
 */
export class Batch {
  readonly #ops: BatchOp[] = [];
  /** @internal Use {@link Cask.batch}. */
  constructor(readonly db: Cask) {}

  /** Adds a set; returns the batch for chaining. */
  set(key: Bytes, value: Bytes, options?: SetOptions): this {
    this.#ops.push({ type: "set", key, value, ...options });
    return this;
  }

  /** Adds a delete; returns the batch for chaining. */
  delete(key: Bytes): this {
    this.#ops.push({ type: "delete", key });
    return this;
  }

  /** Number of operations collected. */
  get length(): number {
    return this.#ops.length;
  }

  /** Applies the operations atomically (see {@link Cask.atomic}). */
  commit(): Promise<void> {
    return this.db.atomic(this.#ops);
  }
}
