/**
 * The catalog: everything one open store knows, behind the API layer. It holds
 * the keydir, the data files it points into with how many live bytes each
 * holds, and the writer; it serves reads, applies writes to the log and then the
 * keydir, and runs compactions. Every change of the keydir goes through here,
 * so the per-file accounting behind stats and compaction stays exact.
 * @module
 */

import {
  asCaskError,
  ClosedError,
  CorruptionError,
  HistoryGoneError,
  IndexFullError,
  IOError,
  ReadOnlyError,
  userErrorOr,
} from "../base/errors.ts";
import { bytesToKey, keyToBytes } from "../base/keys.ts";
import type {
  AutoCompact,
  BackupResult,
  CompactProgress,
  CompactResult,
  FileStats,
  Stats,
  WriteOp,
} from "../base/types.ts";
import { writeBackup } from "../log/backup.ts";
import type { DataFile } from "../log/datafile.ts";
import { acquireLock, recordStoreId, releaseLock } from "../log/lock.ts";
import { cleanupMerge } from "../log/merge_files.ts";
import { mappingAvailable } from "../log/mapped_file.ts";
import { ReadAhead } from "../log/readahead.ts";
import { readIfKeys, type ReadRecord, readRecord, readValue } from "../log/reader.ts";
import { historyStart, readHistory } from "../log/history.ts";
import { spoolValue, valueStream } from "../log/value_stream.ts";
import { type CheckpointTarget, recoverLog, type RecoveryOptions } from "../log/recovery.ts";
import { removeCheckpoint, removeCheckpointTemp } from "../log/checkpoint.ts";
import { isGone } from "../log/tail.ts";
import { Writer, type WriterOptions } from "../log/writer.ts";
import { type CompactionContext, runCompaction, wantsCompaction } from "./compactor.ts";
import { BulkLoader, loadingSink, type LoadTarget } from "./bulk_load.ts";
import { TailMerge } from "./tail_merge.ts";
import { Checkpointer } from "./checkpointer.ts";
import { InFlightWrites } from "./inflight.ts";
import { Follower, type FollowTarget } from "./follower.ts";
import { type Entry, KeyDir } from "./keydir.ts";
import { type Claim, inRange, type KeyRange, WriteOrder } from "./write_order.ts";

/** What a catalog is opened with (validated by the API layer). */
export interface CatalogOptions extends RecoveryOptions {
  sync: WriterOptions["sync"];
  maxFileSize: number;
  clock: () => number;
  autoCompact: Required<AutoCompact> | false;
  /** Receives failures of work the store started by itself (automatic compaction, following). */
  onBackgroundError: (e: Error) => void;
  /** Index bytes past which a write may not add a key (Infinity: no budget). */
  maxIndexBytes: number;
  /** With `readOnly`: refresh every this many ms (0: only when asked). */
  followMs?: number;
  /** Keys from which close writes an index checkpoint; Infinity: none is written or read. */
  checkpointMinKeys: number;
  /** Serve reads of sealed files from memory maps (a writable store, with FFI granted). */
  mmap?: boolean;
  /** Keep a point cache beside the index (see point_cache.ts); default true. */
  pointCache?: boolean;
  /** Fsync on the JavaScript thread (see WriterOptions.inlineFsync); default false. */
  inlineFsync?: boolean;
}

// A backup whose files a compaction removed while it linked them starts over
// this many times.
const BACKUP_ATTEMPTS = 5;

/** A write already validated, with its key in index form. */
export interface KeyedOp extends WriteOp {
  /** Index form of the key. */
  k: string;
}

/** A condition of a checked commit: the key's current record carries `seq`, or (null) the key is absent. */
export interface KeyedCheck {
  k: string;
  seq: number | null;
}

/** One key's change as a commit applies it; `value` undefined for a delete or an expiry. */
export interface KeyChange {
  k: string;
  value: Uint8Array | undefined;
  seq: number;
  /** An expiry noticed: it carries the last commit's number, not one of its own. */
  expired?: true;
}

// Gets read the record before comparing keys while their credit is not
// negative: each read of the key's own record earns one (up to CREDIT), each
// that lands on another key's record costs MISS, and a negative credit turns
// reading first off for PAUSE gets. Reading first then stays on while fewer
// than about one get in 17 lands on another key's record.
const READ_FIRST_CREDIT = 64;
const READ_FIRST_MISS = 16;
const READ_FIRST_PAUSE = 1024;

// Gets ask the point cache first while their credit is not negative: a hit
// earns CACHE_HIT (up to CACHE_CREDIT), a miss costs one, and a negative credit
// turns asking off for CACHE_PAUSE gets. A miss costs about a cache miss (0.1-
// 0.2 us) and a hit saves the tree's walk (0.7 us at 1M keys), so asking stays
// on while one get in five or more hits; gets of absent keys (all misses) ran
// 14-16% slower with the cache always asked.
const CACHE_HIT = 4;
const CACHE_CREDIT = 1024;
const CACHE_PAUSE = 4096;

// The result of a write that resolves to nothing.
const nothing = (): void => {};

// Streamed values up to this size are written like any other value.
const SMALL_STREAM = 1024 * 1024;

// How far past maxIndexBytes the index may hold memory: node storage that
// deletes freed counts as room for new keys, but only a node of the same size
// takes it, so churn can leave much of it unused (3.4x the budget after
// refills in other key orders, when it was not bounded).
const HELD_PAST_BUDGET = 1.25;

// A write that waits (behind a stream) is encoded only when its turn comes,
// and its caller may have reused the key or value buffer by then: it gets
// copies of its own. A write that goes at once is encoded within the call.
function owned(op: KeyedOp): KeyedOp {
  return { ...op, kb: op.kb.slice(), vb: op.vb.slice() };
}

/** Index, files, writer and reads of one open store. */
// See #deadSinceCheck.
const AUTO_CHECK_BYTES = 1024 * 1024;

export class Catalog {
  #index: KeyDir;
  readonly #files = new Map<number, DataFile>();
  readonly #live = new Map<number, number>();
  // Bytes of records the index let go of since auto-compaction last looked.
  // It looks again past AUTO_CHECK_BYTES (or minDeadBytes, when smaller) as well
  // as at each new data file: a
  // store that deletes most of its data and then writes little would otherwise
  // keep the dead bytes for good.
  #deadSinceCheck = 0;
  readonly #dir: string;
  readonly #opts: CatalogOptions;
  // Neither in a read-only store, which has a follower instead.
  readonly #lock?: Deno.FsFile;
  #writer!: Writer;
  #follower?: Follower;
  #storeId = "";
  #seq = 0;
  // Keys with a write appended but not yet applied, with that write.
  readonly #inflight = new InFlightWrites();
  // The backups asked for so far, settled once the last has, and how many are unsettled.
  #backups: Promise<void> = Promise.resolve();
  #backupsQueued = 0;
  // The onProgress of every compact() call the running compaction answers.
  readonly #progress = new Set<(p: CompactProgress) => void>();
  // Range deletes appended but not yet applied, with their sequence numbers
  // and the clock when they were called.
  readonly #inflightRanges = new Set<KeyRange & { seq: number; calledAt: number }>();
  // Expired keys left in the index for a range delete in flight (#holds).
  readonly #held = new Set<string>();
  // Streams in flight and the writes of their keys waiting behind them.
  readonly #order = new WriteOrder();
  readonly #listeners = new Set<(changes: KeyChange[]) => void>();
  #compacting?: Promise<CompactResult>;
  // See READ_FIRST_CREDIT.
  #readFirst = 0;
  // See CACHE_HIT.
  #cacheFirst = 0;
  // Set while a backup links files: a compaction waits for it, since it would remove them.
  #pinned?: Promise<void>;
  #lastCompaction?: CompactResult;
  // Keys dropped because their expiry passed, counted from the moment the
  // open loaded the index (what the log it replays dropped is history, not
  // this run's).
  #expiredKeys = 0;
  #closing = false;
  readonly #checkpoints: Checkpointer;
  // Only a writable store maps files: a reader's files belong to another
  // process's writer, which may cut the newest one back.
  readonly #mmap: boolean;

  private constructor(dir: string, opts: CatalogOptions, lock?: Deno.FsFile) {
    this.#dir = dir;
    this.#opts = opts;
    this.#lock = lock;
    this.#mmap = opts.mmap === true && lock !== undefined && mappingAvailable();
    this.#index = new KeyDir({ pointCache: opts.pointCache });
    this.#checkpoints = new Checkpointer({
      dir,
      minKeys: opts.checkpointMinKeys,
      index: () => this.#index,
      files: this.#files,
      writer: () => this.#writer,
      storeId: () => this.#storeId,
      seq: () => this.#seq,
      busy: () => this.#closing || this.#compacting !== undefined,
      onError: (e) => opts.onBackgroundError(e),
    });
  }

  /** Locks `dir`, removes what an interrupted compaction left, and rebuilds the index from the files. */
  static async open(dir: string, opts: CatalogOptions): Promise<Catalog> {
    if (opts.readOnly) return await Catalog.#openReadOnly(dir, opts);
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      // Say a Deno KV SQLite file, say, passed where a store directory goes.
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new IOError(`cannot open ${dir}: it is a file, not a store directory`, { cause: e });
      }
      throw asCaskError(e, `cannot create ${dir}`);
    }
    const c = new Catalog(dir, opts, await acquireLock(dir));
    try {
      // A strict open that fails must leave the files as it found them: what
      // recovery would change is made only once it succeeded (see #recover).
      if (!opts.strict) {
        await cleanupMerge(dir);
        await removeCheckpointTemp(dir);
      }
      await c.#recover();
      c.#expiredKeys = 0;
      recordStoreId(c.#lock!, dir, c.#storeId);
    } catch (e) {
      c.#dropFiles([...c.#files.values()]);
      releaseLock(c.#lock!);
      throw userErrorOr(e, `cannot open the store in ${dir}`);
    }
    // A store may open with dead bytes enough already (a crash ended its last
    // compaction, or it was closed right after mass deletes).
    queueMicrotask(() => c.#maybeAutoCompact());
    return c;
  }

  // Read-only: no lock, no writer, nothing created or changed (see follower.ts).
  static async #openReadOnly(dir: string, opts: CatalogOptions): Promise<Catalog> {
    const c = new Catalog(dir, opts);
    const follower = new Follower(c.#followTarget());
    try {
      await follower.start();
    } catch (e) {
      c.#dropFiles([...c.#files.values()]);
      throw userErrorOr(e, `cannot open the store in ${dir} read-only`);
    }
    c.#follower = follower;
    c.#expiredKeys = 0;
    if (opts.followMs) follower.follow(opts.followMs, opts.onBackgroundError);
    return c;
  }

  #followTarget(): FollowTarget {
    return {
      dir: this.#dir,
      options: this.#opts,
      clock: this.#opts.clock,
      files: this.#files,
      sequence: () => this.#seq,
      setSequence: (seq) => this.#seq = seq,
      entries: () => this.#index.range(),
      put: (k, e) => this.#put(k, e),
      remove: (k) => this.#remove(k),
      removeRange: (a, b) => this.#removeRange(a, b),
      liveBytes: (id) => this.liveBytes(id),
      dropFiles: (files) => this.#dropFiles(files),
    };
  }

  /** Whether the store was opened read-only. */
  get readOnly(): boolean {
    return this.#follower !== undefined;
  }

  /** A read-only store catches up with the writer's log; a writable one is always current. */
  refresh(): Promise<void> {
    return this.#follower?.refresh() ?? Promise.resolve();
  }

  /**
   * Writes a snapshot of the store at one sequence number into `target`: the
   * files the index points into, the open one up to what is written of it.
   */
  backup(target: string): Promise<BackupResult> {
    // One at a time: a second backup into the same target must not run beside
    // the first (the target's lock would refuse it), so calls queue. The first
    // starts at once, holding off a compaction asked for right after it.
    const attempt = () =>
      this.#backupRetrying(target).catch((e) => {
        throw asCaskError(e, `backup of ${this.#dir} to ${target} failed`);
      });
    const run = this.#backupsQueued === 0 ? attempt() : this.#backups.then(attempt);
    this.#backupsQueued++;
    this.#backups = run.then(nothing, nothing).finally(() => this.#backupsQueued--);
    return run;
  }

  async #backupRetrying(target: string): Promise<BackupResult> {
    for (let attempt = 1;; attempt++) {
      // A compaction would remove files while they are linked: let a running
      // one finish, and hold off new ones (this store's; a reader's writer is
      // another process, whose removals the held descriptors and a retry cover).
      while (this.#compacting) await this.#compacting.catch(() => {});
      const pin = Promise.withResolvers<void>();
      this.#pinned = pin.promise;
      const once = () => this.#backupOnce(target);
      try {
        // A reader's refresh would close the files the backup copies when it
        // catches up with a compaction: it waits for the backup.
        return await (this.#follower ? this.#follower.exclusive(once) : once());
      } catch (e) {
        if (!isGone(e) || attempt === BACKUP_ATTEMPTS) {
          throw asCaskError(e, `backup of ${this.#dir} into ${target} failed`);
        }
      } finally {
        this.#pinned = undefined;
        pin.resolve();
      }
      // A reader starts over from the files the writer has now.
      await this.#follower?.refresh();
    }
  }

  async #backupOnce(target: string): Promise<BackupResult> {
    // A streamed value not yet in place would be copied as an empty file, with
    // the file after it claiming its sequence number: the snapshot waits.
    do await this.#writer?.sync(); while (this.#writer?.installing);
    // Writes called since the sync ended (not awaited, under "never" or the
    // interval mode) may have filled files and begun new ones, their bytes
    // still in the writer's buffer: the snapshot ends with the file the oldest
    // of them go to, copied as far as it is written.
    const pending = this.#writer?.unwrittenFile;
    let open: DataFile | undefined = pending ?? this.#writer?.active ?? this.#follower?.tail;
    const seq = this.#seq;
    let all = [...this.#files.values()].filter((f) => !pending || f.id <= pending.id)
      .sort((a, b) => a.id - b.id);
    // A file just begun holds nothing yet (its header is still in the writer's
    // buffer): the snapshot ends with the file before it.
    if (open && open.size === 0) {
      all = all.filter((f) => f !== open);
      open = all.filter((f) => !f.compacted).at(-1);
    }
    const files = all.map((file) => ({ file, size: file.size, sealed: file !== open }));
    const storeId = this.#follower?.storeId ?? this.#storeId;
    // Whether the store holds a key no more (deleted, or expired): the judge of
    // the target's old files of streamed values the snapshot lacks.
    const gone = (k: string) => {
      const e = this.#index.get(k);
      return e === undefined || (e.expireAt !== 0 && e.expireAt <= this.#opts.clock());
    };
    const { openSeq, ...counts } = await writeBackup(this.#dir, storeId, target, files, gone);
    // What the copy of the open file holds, not what is applied: a writer
    // applies writes still in its buffer (sync "never"), and the copy may
    // hold writes not yet applied (waiting for their fsync).
    return { sequence: open ? openSeq : seq, ...counts };
  }

  #writable(): void {
    if (this.#follower) throw new ReadOnlyError();
    // Also for writes that would write nothing (a delete of an absent key, a
    // failing check): after a failed fsync every write rejects.
    if (this.#writer?.failure) throw this.#writer.failure;
  }

  async #recover(): Promise<void> {
    // One entry object for every record: the keydir copies its fields.
    const e: Entry = { fileId: 0, offset: 0, size: 0, timestamp: 0, expireAt: 0 };
    const set = (fileId: number, offset: number, size: number, ts: number, expireAt: number) => {
      e.fileId = fileId;
      e.offset = offset;
      e.size = size;
      e.timestamp = ts;
      e.expireAt = expireAt;
      return e;
    };
    const now = this.#opts.clock();
    const target: LoadTarget = {
      put: (key, fileId, offset, size, ts, expireAt) =>
        this.#put(key, set(fileId, offset, size, ts, expireAt)),
      remove: (key) => this.#remove(key),
      removeRange: (a, b) => this.#removeRange(a, b),
    };
    const loader = () => new BulkLoader(target);
    const merge = new TailMerge({
      append: (key, fileId, offset, size, ts, expireAt) => {
        this.#index.append(key, set(fileId, offset, size, ts, expireAt));
        this.#addLive(fileId, size);
      },
      end: () => this.#index.endAppend(),
      replay: target,
    }, now);
    const checkpoint: CheckpointTarget | undefined = this.#opts.checkpointMinKeys === Infinity
      ? undefined
      : { entry: merge.entry, done: merge.done, tail: merge.sink };
    let records = loader();
    let fixes: (() => Promise<void>)[] | undefined = this.#opts.strict ? [] : undefined;
    const opts = { ...this.#opts, fixes };
    this.#index.holdPoints();
    let log = await recoverLog(this.#dir, loadingSink(records, now), opts, checkpoint);
    if (log.checkpoint === "contradicted") {
      // Everything loaded so far, the records still gathered included, goes.
      this.#index = new KeyDir({ pointCache: this.#opts.pointCache });
      this.#index.holdPoints();
      this.#live.clear();
      records = loader();
      // The checkpoint still tells what the log lost that it covered (a cut file).
      fixes = fixes && [];
      const evidence = { ...this.#opts, checkpointEvidence: true, fixes };
      log = await recoverLog(this.#dir, loadingSink(records, now), evidence);
    }
    records.flush();
    this.#index.releasePoints();
    if (fixes) {
      // Recovery succeeded: now what it found to cut and remove goes, with
      // what an interrupted compaction or checkpoint left.
      for (const fix of fixes) await fix();
      await cleanupMerge(this.#dir);
      await removeCheckpointTemp(this.#dir);
    }
    // A checkpoint that was not used (damaged, another store's, naming files
    // the store no longer has as they were, or not read at all under
    // `checkpoint: false`) goes before any new write: a cut torn tail followed
    // by appends could make a file it covers look as it was again. One that
    // told of a loss goes once the new file's header keeps it on record.
    const stale = typeof log.checkpoint !== "object";
    if (stale && !log.lost) await removeCheckpoint(this.#dir);
    const loaded = typeof log.checkpoint === "object" ? log.checkpoint : undefined;
    this.#checkpoints.opened(loaded, log.seq - (loaded?.seq ?? 0));
    for (const f of log.files) this.#files.set(f.id, f);
    this.#storeId = log.storeId;
    this.#seq = log.seq;
    this.#writer = new Writer(this.#dir, {
      sync: this.#opts.sync,
      inlineFsync: this.#opts.inlineFsync === true,
      maxFileSize: this.#opts.maxFileSize,
      storeId: log.storeId,
      seq: log.seq,
      append: log.append,
      nextId: log.nextId,
      follows: log.follows,
      onDropFile: (f) => this.#files.delete(f.id),
      // Every write in flight was dropped: none of them decides checks, and a
      // rejection's cleanup below could otherwise remove the entry of a new
      // write that reuses a dropped one's sequence number.
      onDropped: () => this.#inflight.clear(),
      onNewFile: (f) => {
        this.#files.set(f.id, f);
        this.#checkpoints.begun(f);
        // Not from inside the append (or the seal of a compaction) that rotated.
        queueMicrotask(() => {
          this.#maybeAutoCompact();
          this.#checkpoints.consider(false);
        });
      },
    });
    if (stale && log.lost) {
      await this.#writer.sync();
      await removeCheckpoint(this.#dir);
    }
  }

  /** The sequence number of the last commit that is visible (applied to the index). */
  get sequence(): number {
    return this.#seq;
  }

  /** Keys in the index (expired keys not yet noticed included). */
  get size(): number {
    return this.#index.size;
  }

  /** Whether the store is closing or closed. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * The entry of `k` when present and not expired. An expired key is dropped
   * from the index on sight; its record stays on disk, dead, until a compaction.
   * `now` judges expiry (default: the clock).
   */
  lookup(k: string, now?: number): Entry | undefined {
    const e = this.#index.get(k);
    // The clock is read only for a key that can expire: most never do.
    if (!e || e.expireAt === 0 || e.expireAt > (now ?? this.#opts.clock())) return e;
    this.#expire([k]);
    return undefined;
  }

  /** Live keys: the expired ones are dropped from the index first. */
  liveSize(): number {
    this.#expire(this.#index.expired(this.#opts.clock()));
    return this.#index.size - this.#held.size;
  }

  // Drops expired keys from the index (their records stay on disk, dead, until
  // a compaction) and reports them, but those #holds keeps.
  #expire(keys: readonly string[]): void {
    const gone = this.#inflightRanges.size === 0 ? keys : keys.filter((k) => !this.#holds(k));
    if (gone.length === 0) return;
    for (const k of gone) this.#remove(k);
    this.#notify(gone.map((k) => ({ k, value: undefined, seq: this.#seq, expired: true })));
  }

  // Whether expired `k` stays in the index (counted in #held) until a range
  // delete in flight over it is applied: one called before `k` expired, which
  // deletes it and reports it (see #removeRange), as a delete of `k` would.
  #holds(k: string): boolean {
    if (this.#held.has(k)) return true;
    const at = this.#index.get(k)?.expireAt ?? 0;
    for (const r of this.#inflightRanges) {
      if (inRange(k, r) && at > r.calledAt) {
        this.#held.add(k);
        return true;
      }
    }
    return false;
  }

  // When range delete `seq` in flight was called: what #holds judged by.
  #calledAt(seq: number): number | undefined {
    for (const r of this.#inflightRanges) if (r.seq === seq) return r.calledAt;
    return undefined;
  }

  // Once a range delete is applied or rejected, the expired keys it held that
  // are still there (it was rejected) leave as any expired key does.
  #release(): void {
    if (this.#held.size === 0) return;
    const keys = [...this.#held];
    this.#held.clear();
    const now = this.#opts.clock();
    this.#expire(keys.filter((k) => {
      const at = this.#index.get(k)?.expireAt ?? 0;
      return at !== 0 && at <= now;
    }));
  }

  /**
   * The verified value of `k` when present and not expired. The index is
   * probed (KeyDir.probe) and the record read before the key is compared in
   * the index: the record carries its key, while the comparison in the index
   * costs the cache misses of the leaf's key array and the key string, which
   * the system call of a pread evicts (1M keys: 3.75-3.90 us a get with pread
   * reading first, 4.29-4.42 comparing first). An absent key that lands on
   * another key's record costs a wasted read (with pread, a system call) and a
   * comparison, which gets of absent keys that share their leading bytes with
   * stored ones pay often (bench:peers readmissing: 0.70x lmdb-js when always
   * reading first from maps, 1.18x comparing first), so reading first stops for
   * a while when that happens (see READ_FIRST_*). Before all that, the point
   * cache (point_cache.ts) is asked where `k`'s record lies; a hit is read and
   * checked the same way, and skips the tree (1M keys: 2.97 us a get against
   * 3.60-3.78).
   */
  get(k: string): Uint8Array | undefined {
    if (this.#cacheFirst >= 0) {
      const value = this.#getCached(k);
      if (value !== undefined) {
        if (this.#cacheFirst < CACHE_CREDIT) this.#cacheFirst += CACHE_HIT;
        return value;
      }
      if (--this.#cacheFirst < 0) this.#cacheFirst = -CACHE_PAUSE;
    } else this.#cacheFirst++;
    const e = this.#index.probe(k);
    if (!e) return undefined;
    if (e.expireAt !== 0) {
      const live = this.lookup(k);
      return live && this.read(k, live);
    }
    const file = this.#fileOf(e);
    if (this.#readFirst >= 0) {
      let value: Uint8Array | undefined;
      try {
        value = readIfKeys(file, e, k, this.#writer);
      } catch (err) {
        // A file that ends before the record: whether that is k's problem or
        // a neighbour's is for the index to say, below.
        if (!(err instanceof CorruptionError)) throw err;
      }
      if (value !== undefined) {
        if (this.#readFirst < READ_FIRST_CREDIT) this.#readFirst++;
        this.#index.remember(k, e);
        return value;
      }
      this.#readFirst -= READ_FIRST_MISS;
      if (this.#readFirst < 0) this.#readFirst = -READ_FIRST_PAUSE;
    } else if (this.#readFirst < 0) this.#readFirst++;
    // Unread, or not `k`'s intact record: `k` is absent, or its record damaged
    // (readValue throws then).
    if (!this.#index.probed(k)) return undefined;
    const value = readValue(file, e, k, this.#writer);
    this.#index.remember(k, e);
    return value;
  }

  // `k`'s value by the point cache's say, undefined when it has no place for
  // `k` or the record there is not `k`'s (the tree then tells).
  #getCached(k: string): Uint8Array | undefined {
    const at = this.#index.cached(k);
    // A slot naming a file a compaction removed (see KeyDir.relocate).
    if (at === undefined || !this.#files.has(at.fileId)) return undefined;
    try {
      return readIfKeys(this.#fileOf(at), at, k, this.#writer);
    } catch (err) {
      // A missing file or a damaged record: the tree's read reports it.
      if (!(err instanceof CorruptionError)) throw err;
      return undefined;
    }
  }

  /**
   * The sequence number of `k`'s newest write while it waits for its fsync
   * (appended, not yet applied), or undefined. A drop clears every entry, and
   * the numbers of dropped writes are handed out again: {@link writeDrops}
   * tells a new write from a dropped one of the same number.
   */
  inFlightSeq(k: string): number | undefined {
    const pending = this.#inflight.get(k);
    return pending === undefined ? undefined : Math.abs(pending.seq);
  }

  /** The sequence number of the newest write appended, applied or not. */
  get appendedSeq(): number {
    return this.#writer.seq;
  }

  /** How many times writes waiting for their fsync were dropped (see Writer.drops). */
  get writeDrops(): number {
    return this.#writer.drops;
  }

  /**
   * The sequence number of `k`'s newest write, applied or in flight (a range
   * delete over it included); null when that leaves it absent.
   */
  seqOf(k: string): number | null {
    if (this.#goneInFlight(k)) return null;
    const pending = this.#inflight.get(k);
    if (pending !== undefined) return pending.seq;
    const e = this.lookup(k);
    return e ? this.readRecord(k, e).seq : null;
  }

  /**
   * The changes committed after `since` up to `upTo`, from the log, in commit
   * order (values read as they are reached).
   * @throws {HistoryGoneError} a compaction merged commits after `since`.
   */
  async *history(
    since: number,
    upTo: number,
  ): AsyncGenerator<KeyChange & { rangeEnd?: string; isRange?: boolean; commitEnd: boolean }> {
    // Everything committed up to now must be on disk to be read back.
    await this.#writer.sync();
    // Judged on the files read, as they are after the sync: a compaction that
    // finished during it merged log files, which a replay would skip silently.
    const files = [...this.#files.values()].sort((a, b) => a.id - b.id);
    const oldest = historyStart(files);
    if (since < oldest) throw new HistoryGoneError(since, oldest);
    // The last commit handed over whole: where a replay cut short resumes.
    let delivered = since;
    try {
      for await (const c of readHistory(files, since, upTo)) {
        if (c.range) {
          const { k, seq, last } = c;
          yield { k, value: undefined, seq, rangeEnd: c.range.end, isRange: true, commitEnd: last };
          if (last) delivered = seq;
        } else {
          // A streamed value stays out of memory (getStream reads it), as in a live feed.
          const value = c.streamed
            ? new Uint8Array(0)
            : c.at
            ? readValue(c.at.file, c.at, c.k, this.#writer)
            : undefined;
          yield { k: c.k, value, seq: c.seq, commitEnd: c.last };
          if (c.last) delivered = c.seq;
        }
      }
    } catch (e) {
      // A compaction that ran during the replay merged the files it was reading.
      const now = historyStart([...this.#files.values()]);
      if (since < now) throw new HistoryGoneError(delivered, now);
      throw e;
    }
  }

  /** Calls `listener` with the changes of every commit as it is applied, until the returned function is called. */
  listen(listener: (changes: KeyChange[]) => void): () => void {
    if (this.#follower) throw new ReadOnlyError("watch() needs a writable store");
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The verified value of `k`, whose entry is `e`; `ahead` is a scan's read-ahead. */
  read(k: string, e: Entry, ahead?: ReadAhead): Uint8Array {
    return readValue(this.#fileOf(e), e, k, this.#writer, ahead);
  }

  /** Like {@link read}, with the sequence number the record carries. */
  readRecord(k: string, e: Entry, ahead?: ReadAhead): ReadRecord {
    return readRecord(this.#fileOf(e), e, k, this.#writer, ahead);
  }

  // The file `e` points into, mapped first when the store maps files and the
  // file is sealed and all on disk: never the active file, which still grows
  // and whose torn tail the next open cuts off.
  #fileOf(e: { fileId: number }): DataFile {
    const file = this.#files.get(e.fileId);
    if (!file) throw new CorruptionError(`index points at missing data file ${e.fileId}`);
    if (this.#mmap && !file.mapTried) {
      const w = this.#writer;
      if (file !== w.active && w.sizeOf(file) === file.size) file.map();
    }
    return file;
  }

  /** A read-ahead window for a scan in the given direction. */
  readAhead(reverse: boolean): ReadAhead {
    return new ReadAhead(reverse);
  }

  /**
   * Live entries in key order within [start, end). Expiry is judged as each
   * entry is reached, so a key that expires while a slow consumer scans is not
   * yielded after that.
   */
  *range(start?: string, end?: string, reverse = false): Generator<[string, Entry]> {
    const clock = this.#opts.clock;
    for (const [k, e] of this.#index.range(start, end, reverse)) {
      if (e.expireAt === 0 || e.expireAt > clock()) yield [k, e];
    }
  }

  /** Writes one set. */
  put(op: KeyedOp): Promise<void> {
    if (this.#order.idle) return this.#append([op], false, nothing);
    const mine = owned(op);
    return this.#order.after({ keys: [op.k] }, () => this.#append([mine], false, nothing));
  }

  /** Writes one set or delete; resolves to whether a deleted key was present. */
  write(op: KeyedOp): Promise<boolean> {
    if (this.#order.idle) return this.#write(op);
    const mine = owned(op);
    return this.#order.after({ keys: [op.k] }, () => this.#write(mine));
  }

  #write(op: KeyedOp): Promise<boolean> {
    this.#writable();
    // Nothing to delete (an expired key is dropped here) and no write of the key
    // in flight that could create it (#inflight holds those waiting for their
    // fsync; others are applied at once): no tombstone, which would take a
    // sequence number. Writes still waiting for their fsync are acknowledged
    // first, as they would be before a tombstone: acknowledgements keep call order.
    if (op.tombstone && this.#absentAfterInflight(op.k)) {
      return this.#writer.busy ? this.#writer.commit(() => false) : Promise.resolve(false);
    }
    // A delete that gets here deletes a key present now. It is applied after
    // the writes before it, perhaps once the key has expired (a short TTL, an
    // fsync): it took its number as a delete that deletes, and says so.
    return this.#append([op], false, () => op.tombstone);
  }

  // Whether `k` is absent once the writes of it in flight are applied: the
  // newest of them decides (a delete or a range delete deletes it, so a
  // second delete finds nothing), or with none, the index.
  #absentAfterInflight(k: string): boolean {
    return this.#goneInFlight(k) || (!this.#inflight.has(k) && !this.lookup(k));
  }

  // Whether the newest write of `k` in flight leaves it absent: a delete, a set
  // whose expiry has passed, or a range delete over it called after the key's
  // newest set or delete in flight (#inflight holds that one).
  #goneInFlight(k: string): boolean {
    const newest = this.#inflight.get(k);
    const range = this.#rangeInFlight(k);
    if (newest === undefined) return range > 0;
    return range > Math.abs(newest.seq) || newest.seq < 0 ||
      (newest.expireAt !== 0 && newest.expireAt <= this.#opts.clock());
  }

  // Whether no key in [start, end) is live once the writes in flight are applied.
  #noneInRange(start: string, end: string | undefined): boolean {
    for (const [k] of this.range(start, end)) if (!this.#goneInFlight(k)) return false;
    const range = { start, end };
    for (const k of this.#inflight.keys()) {
      if (inRange(k, range) && !this.#absentAfterInflight(k)) return false;
    }
    return true;
  }

  /**
   * Deletes every key in [start, end) (`end` undefined: no end) with one range
   * record in the log; resolves to how many live keys it deleted.
   */
  deleteRange(start: string, end: string | undefined): Promise<number> {
    if (this.#order.idle) return this.#deleteRange(start, end);
    return this.#order.after(
      { keys: [], ranges: [{ start, end }] },
      () => this.#deleteRange(start, end),
    );
  }

  #deleteRange(start: string, end: string | undefined): Promise<number> {
    this.#writable();
    // Nothing to delete, as for a delete of an absent key: no record, and no
    // sequence number, which a change feed would have nothing to hand out for
    // (a consumer resuming at its last change would find the log's history
    // begun past it once a compaction dropped the record).
    if (this.#noneInRange(start, end)) {
      return this.#writer.busy ? this.#writer.commit(() => 0) : Promise.resolve(0);
    }
    const op: KeyedOp = {
      k: start,
      kb: keyToBytes(start),
      vb: end === undefined ? new Uint8Array(0) : keyToBytes(end),
      expireAt: 0,
      tombstone: false,
      range: true,
    };
    const range = { start, end, seq: 0, calledAt: this.#opts.clock() };
    this.#inflightRanges.add(range);
    // In flight until applied: under "never" that is at once, and writes
    // called next must not be judged by it. A rejected one never applies.
    const applied = (n: number) => {
      this.#inflightRanges.delete(range);
      return n;
    };
    try {
      const done = this.#append([op], false, applied);
      // Appended by now (the number is the writer's newest); applied, perhaps, too.
      range.seq = this.#writer.seq;
      return done.finally(() => {
        this.#inflightRanges.delete(range);
        this.#release();
      });
    } catch (e) {
      // Refused at once (a stalled writer): no range is in flight to hold checks up.
      this.#inflightRanges.delete(range);
      throw e;
    }
  }

  /**
   * Stores the value `source` streams under `k`, never holding it whole: it is
   * spooled to a temporary file and becomes a data file of its own. Resolves
   * once the value is durable, whatever the sync mode. It commits after the
   * writes of `k` issued before it, and those issued after it wait for it
   * (see write_order.ts).
   */
  setStream(op: KeyedOp, source: ReadableStream<Uint8Array>, size?: number): Promise<void> {
    // The key is written when the stream ends: a copy, as for a write that waits.
    const mine = owned(op);
    return this.#order.hold(
      { keys: [op.k] },
      (before) => this.#setStream(mine, source, size, before),
    );
  }

  // `before`: the earlier writes of the key still held, which commit first.
  async #setStream(
    op: KeyedOp,
    source: ReadableStream<Uint8Array>,
    size: number | undefined,
    before: Promise<void> | undefined,
  ): Promise<void> {
    this.#writable();
    const v = await spoolValue(this.#dir, op.kb.length, source, size, this.#order.closing);
    await before;
    // A small value is written like any value (a file of its own would cost
    // more than it saves): read back before the check below, so no wait comes
    // between the check and the write.
    let small: Uint8Array | undefined;
    if (v.length <= SMALL_STREAM) {
      try {
        small = (await Deno.readFile(v.tmp)).subarray(v.offset);
      } catch (e) {
        // close() does not wait for a stream, and the next open of the
        // directory removes the temporary files it finds.
        if (this.#closing) throw new ClosedError();
        throw new IOError(`read of ${v.tmp} failed: ${(e as Error)?.message ?? e}`, { cause: e });
      } finally {
        await Deno.remove(v.tmp).catch(() => {});
      }
    }
    // A close began meanwhile: it lets the writes called before it go, and
    // this value, not yet in place, must not overtake them.
    if (this.#closing) {
      if (small === undefined) await Deno.remove(v.tmp).catch(() => {});
      throw new ClosedError();
    }
    if (small !== undefined) {
      // Not write(): that would wait for this very stream. Applied once
      // durable, as a big value is: a sync() after an applied write failed
      // for another write's failure, and rejected a value stored all the same.
      await this.#append([{ ...op, vb: small }], false, nothing, true);
      return;
    }
    const ts = this.#opts.clock();
    let at: ReturnType<Writer["appendBlob"]>;
    try {
      // appendBlob throws ClosedError once the store closed (say, while the
      // stream was received).
      if (this.#opts.maxIndexBytes !== Infinity) this.#checkBudget([op]);
      at = this.#writer.appendBlob(v.tmp, op.kb, v.length, v.crc, ts, op.expireAt);
    } catch (e) {
      // Not the writer's yet: nothing else removes it before the next open.
      await Deno.remove(v.tmp).catch(() => {});
      throw e;
    }
    const recordSize = at.headerSize + op.kb.length + v.length;
    const written = [op];
    this.#inflight.add(written, at.seq);
    await this.#writer.commit(
      () => {
        this.#inflight.landed(written, at.seq);
        this.#put(op.k, {
          fileId: at.file.id,
          offset: at.offset,
          size: recordSize,
          timestamp: ts,
          expireAt: op.expireAt,
        });
        this.#seq = at.seq;
        // A watcher gets the change, not the value: getStream reads it.
        this.#notify([{ k: op.k, value: new Uint8Array(0), seq: at.seq }]);
      },
      true,
      at.end,
    );
  }

  /** The value of `k` as a checked stream of chunks, or undefined when absent. */
  getStream(k: string): ReadableStream<Uint8Array> | undefined {
    const e = this.lookup(k);
    if (!e) return undefined;
    const file = this.#files.get(e.fileId);
    if (!file) throw new CorruptionError(`index points at missing data file ${e.fileId}`);
    return valueStream(file, e, k, this.#writer);
  }

  /** How many live keys lie in [start, end). */
  count(start?: string, end?: string): number {
    let n = 0;
    for (const _ of this.range(start, end)) n++;
    return n;
  }

  /**
   * Writes `ops` as one atomic batch when every check holds, judged now against
   * each key's newest write; resolves to the commit's sequence number, or null
   * (nothing written) when a check fails. With no ops it writes nothing and
   * resolves to the newest sequence number.
   */
  atomic(ops: readonly KeyedOp[], checks: readonly KeyedCheck[] = []): Promise<number | null> {
    if (this.#order.idle) return this.#atomic(ops, checks);
    const claim: Claim = { keys: [...ops.map((o) => o.k), ...checks.map((c) => c.k)] };
    const mine = ops.map(owned);
    return this.#order.after(claim, () => this.#atomic(mine, checks));
  }

  #atomic(ops: readonly KeyedOp[], checks: readonly KeyedCheck[]): Promise<number | null> {
    this.#writable();
    for (const c of checks) {
      // This commit applies after the writes in flight, so a key is judged by
      // its newest write, which may be one of them.
      if (this.seqOf(c.k) === c.seq) continue;
      const pending = this.#inflight.has(c.k) || this.#rangeInFlight(c.k) > 0;
      // Lost to a write still waiting for its fsync: answer once it is applied,
      // so a caller that reads and retries sees it rather than spin.
      if (pending) return this.#writer.sync().then(() => null);
      return Promise.resolve(null);
    }
    if (ops.length === 0) return Promise.resolve(this.#writer.seq);
    // One record is all or nothing by its own checksum: a batch of one needs
    // no commit record (which cost a read-modify-write of `cask serve` a
    // second encoding and 48 bytes of log).
    return this.#append(ops, ops.length > 1, (_, seq) => seq);
  }

  // The sequence number of the newest range delete in flight over `k` (0: none).
  #rangeInFlight(k: string): number {
    let newest = 0;
    for (const r of this.#inflightRanges) {
      if (inRange(k, r)) newest = Math.max(newest, r.seq);
    }
    return newest;
  }

  // Appends `ops` and applies them once committed (`durable`: once durable,
  // whatever the sync mode); resolves to what `result` makes of how many live
  // keys they deleted and of their sequence number.
  #append<T>(
    ops: readonly KeyedOp[],
    batch: boolean,
    result: (deleted: number, seq: number) => T,
    durable = false,
  ): Promise<T> {
    this.#writable();
    if (this.#opts.maxIndexBytes !== Infinity) this.#checkBudget(ops);
    const ts = this.#opts.clock();
    const { file, offset, seq, headerSize } = this.#writer.appendOps(ops, ts, batch);
    this.#checkpoints.appended(ops.length);
    const deferred = durable || this.#writer.deferred;
    // A range delete is not a write of its start key: #inflightRanges has it.
    if (deferred) this.#inflight.add(ops, seq);
    // Applied after the call returns: by then the caller may have reused its
    // value buffers, and the feeds must get the bytes written. They are copied
    // now only when a feed listens (a copy of every value cost durable
    // pipelined SETs a quarter of their CPU); a feed that starts meanwhile gets
    // them read back from the log.
    const fed = deferred && this.#listeners.size > 0 ? ops.map((o) => o.vb.slice()) : undefined;
    const done = this.#writer.commit(() => {
      let at = offset, deleted = 0;
      const changes: KeyChange[] | undefined = this.#listeners.size > 0 ? [] : undefined;
      const places: Entry[] | undefined = changes && deferred && !fed ? [] : undefined;
      for (let i = 0; i < ops.length; i++) {
        const o = ops[i];
        const size = headerSize + o.kb.length + o.vb.length;
        if (o.range) {
          deleted += this.#removeRange(
            o.k,
            o.vb.length ? bytesToKey(o.vb) : undefined,
            seq,
            changes,
            this.#calledAt(seq) ?? ts,
          );
        } else if (o.tombstone) deleted += this.#remove(o.k) ? 1 : 0;
        else {
          const e = { fileId: file.id, offset: at, size, timestamp: ts, expireAt: o.expireAt };
          this.#put(o.k, e);
          if (places) places[i] = e;
        }
        at += size;
      }
      if (deferred) this.#inflight.landed(ops, seq);
      this.#seq = seq;
      if (changes) {
        ops.forEach((o, i) => {
          if (!o.range) {
            const value = o.tombstone
              ? undefined
              : fed?.[i] ?? (places ? this.#writtenValue(o, places[i]) : o.vb);
            changes.push({ k: o.k, value, seq });
          }
        });
        this.#notify(changes);
      }
      this.#checkpoints.applied();
      return result(deleted, seq);
    }, durable);
    // A write rejected (its write failed) never happened: it no longer decides
    // checks. A drop of every write in flight has cleared them already.
    if (deferred) {
      const drops = this.#writer.drops;
      done.catch(() => {
        if (this.#writer.drops === drops) this.#inflight.landed(ops, seq);
      });
    }
    return done;
  }

  // The value `o` wrote at `e`, for a feed that started after the write was
  // appended. The write is durable and applied by now: a failed read costs the
  // feed only the exact bytes, which the caller's buffer holds unless reused.
  #writtenValue(o: KeyedOp, e: Entry): Uint8Array {
    try {
      return this.read(o.k, e);
    } catch {
      return o.vb;
    }
  }

  // A write that adds a key must fit the index budget; overwrites and deletes always may.
  #checkBudget(ops: readonly KeyedOp[]): void {
    const budget = this.#opts.maxIndexBytes;
    const used = this.#index.usedBytes(), held = this.#index.memoryBytes();
    if (used < budget && held < budget * HELD_PAST_BUDGET) return;
    for (const o of ops) {
      if (o.tombstone || o.range || this.#index.get(o.k) || this.#inflight.has(o.k)) continue;
      const over = used >= budget
        ? `the index uses ${Math.round(used)} bytes of its ${budget}-byte budget`
        : `the index holds ${Math.round(held)} bytes (freed storage kept for new nodes ` +
          `included), over ${HELD_PAST_BUDGET} times its ${budget}-byte budget`;
      throw new IndexFullError(
        `${over}; new keys are refused (overwrites and deletes still work)`,
      );
    }
  }

  /**
   * The verified values of `ks`, in their order (undefined where absent). The
   * records are read in file and offset order, so the disk is read in one pass.
   */
  getMany(ks: readonly string[]): (Uint8Array | undefined)[] {
    const now = this.#opts.clock();
    const entries = ks.map((k) => this.lookup(k, now));
    const order = [...entries.keys()].filter((i) => entries[i] !== undefined);
    order.sort((a, b) =>
      entries[a]!.fileId - entries[b]!.fileId || entries[a]!.offset - entries[b]!.offset
    );
    const out: (Uint8Array | undefined)[] = new Array(ks.length).fill(undefined);
    const ahead = new ReadAhead(false);
    for (const i of order) out[i] = this.read(ks[i], entries[i]!, ahead);
    return out;
  }

  #notify(changes: KeyChange[]): void {
    for (const l of this.#listeners) l(changes);
  }

  /** Resolves once every write made before the call is durable. */
  sync(): Promise<void> {
    if (this.#follower) return Promise.resolve();
    return this.#writer.sync();
  }

  /**
   * Resolves once every commit visible now is in the files, where a reader of
   * them (a Worker's follower) finds it. Under "always" a commit is visible
   * only after its fsync, so there is nothing to wait for.
   */
  written(): Promise<void> {
    if (this.#follower || this.#opts.sync === "always") return Promise.resolve();
    return this.#writer.written();
  }

  /** Compacts, or joins the compaction already running. */
  compact(onProgress: (p: CompactProgress) => void): Promise<CompactResult> {
    // A rejection, never a throw: automatic compaction calls this from a microtask.
    try {
      this.#writable();
    } catch (e) {
      return Promise.reject(e);
    }
    // A call made while a compaction runs joins it, and is told its progress
    // too. What a caller's onProgress throws is that caller's failure alone:
    // its call rejects with it, and the compaction goes on for the others.
    let threw: { error: unknown } | undefined;
    this.#progress.add((p) => {
      if (threw) return;
      try {
        onProgress(p);
      } catch (error) {
        threw = { error };
      }
    });
    const run = () => {
      // An expired streamed value's file is an input only once its key is gone.
      this.#dropExpired();
      return runCompaction(this.#compaction, (p) => {
        for (const tell of this.#progress) tell(p);
      });
    };
    // A background checkpoint gives way (it sees #compacting), a backup does not.
    const before = this.#pinned ?? this.#checkpoints.running;
    let done = false;
    this.#compacting ??= (before ? before.then(run) : run())
      .then((r) => {
        done = true;
        return this.#lastCompaction = r;
      }, (e) => {
        throw userErrorOr(e, "compaction failed");
      })
      .finally(() => {
        this.#compacting = undefined;
        this.#progress.clear();
        queueMicrotask(() => {
          // The checkpoint on disk names files the compaction removed.
          this.#checkpoints.consider(true);
          // Writes made while it ran may have passed the thresholds again (their
          // checks found it running); after a failure, the next check decides.
          if (done) this.#maybeAutoCompact();
        });
      });
    return this.#compacting.then((r) => {
      if (threw) throw threw.error;
      return r;
    });
  }

  #maybeAutoCompact(): void {
    const a = this.#opts.autoCompact;
    // (Not while the store opens: replayed overwrites ask too.)
    if (!a || !this.#writer || this.#writer.failure || this.#compacting || this.#closing) return;
    this.#dropExpired();
    if (!wantsCompaction(this.stats(), a)) return;
    // A close stops it between chunks: that is no failure to report.
    this.compact(() => {}).catch((e) => {
      if (!(e instanceof ClosedError && this.#closing)) this.#opts.onBackgroundError(e);
    });
  }

  // Expired records are dead too, but count as live until they leave the index:
  // a cache of keys that only ever expire would never compact, and a compaction
  // would keep an expired streamed value's file (it skips files with live
  // bytes). They leave it here without a change to feeds, as a compaction drops
  // them (a feed reports an expiry a read noticed).
  #dropExpired(): void {
    for (const k of this.#index.expired(this.#opts.clock())) {
      if (!this.#holds(k)) this.#remove(k);
    }
  }

  get #compaction(): CompactionContext {
    return {
      dir: this.#dir,
      storeId: this.#storeId,
      writer: this.#writer,
      files: this.#files,
      clock: this.#opts.clock,
      maxFileSize: this.#opts.maxFileSize,
      onWarning: this.#opts.onWarning,
      liveBytes: (id) => this.liveBytes(id),
      applied: () => this.#seq,
      keyCount: () => this.#index.size,
      entries: () => this.#index.range(),
      walk: (after, visit) => this.#index.walk(after, visit),
      remove: (k) => this.#remove(k),
      heldByRange: (k) => this.#holds(k),
      moveAll: (keys, fileIds, offsets, from) => this.#moveAll(keys, fileIds, offsets, from),
      dropFiles: (files) => this.#dropFiles(files),
      checkOpen: () => {
        if (this.#closing) throw new ClosedError();
      },
    };
  }

  /** Bytes of live records in file `id`. */
  liveBytes(id: number): number {
    return this.#live.get(id) ?? 0;
  }

  /** Space use per file and overall. */
  stats(): Stats {
    const files: FileStats[] = [];
    let liveBytes = 0, deadBytes = 0;
    // Writes appended but not applied yet (under "always", until their fsync)
    // are not live yet, and not dead either: they end the newest files.
    let unapplied = this.#writer?.unapplied ?? 0;
    for (const f of [...this.#files.values()].sort((a, b) => b.id - a.id)) {
      const size = this.#writer?.sizeOf(f) ?? f.size;
      const live = this.liveBytes(f.id);
      // The file header is overhead every file has, not reclaimable dead space.
      const body = Math.max(0, size - f.headerSize);
      const pending = Math.min(unapplied, Math.max(0, body - live));
      unapplied -= pending;
      const dead = Math.max(0, body - live - pending);
      files.push({
        id: f.id,
        size,
        liveBytes: live,
        deadBytes: dead,
        deadRatio: body ? dead / body : 0,
      });
      liveBytes += live;
      deadBytes += dead;
    }
    files.reverse();
    return {
      keys: this.#index.size,
      liveBytes,
      deadBytes,
      files,
      lastCompaction: this.#lastCompaction,
      expiredKeys: this.#expiredKeys,
      index: {
        bytes: Math.round(this.#index.memoryBytes()),
        bytesPerKey: this.#index.size ? this.#index.memoryBytes() / this.#index.size : 0,
      },
    };
  }

  /**
   * Flushes and fsyncs pending writes, closes the files and releases the lock;
   * `applied` runs once every write called before it is applied (or the close
   * failed first).
   */
  async close(applied: () => void = nothing): Promise<void> {
    this.#closing = true;
    let told = false;
    const tell = () => {
      if (!told) applied();
      told = true;
    };
    try {
      // Writes called before the close, still waiting behind a streamed value
      // of their key, are written now: the stream fails with the close.
      await this.#order.release();
      // Backups called before the close run to their end: one queued behind
      // another would otherwise find the files closed, and a snapshot of
      // nothing would empty its target.
      await this.#backups;
      // A running compaction stops at its next chunk and removes its temporary files.
      await this.#compacting?.catch(() => {});
      await this.#checkpoints.running;
      await this.#follower?.close();
      await this.#writer?.close();
      tell();
      if (this.#writer) await this.#checkpoints.atClose();
    } finally {
      tell();
      this.#dropFiles([...this.#files.values()]);
      if (this.#lock) releaseLock(this.#lock);
    }
  }

  #put(k: string, e: Entry): void {
    if (this.#held.size > 0) this.#held.delete(k);
    const old = this.#index.set(k, e);
    if (old) this.#addLive(old.fileId, -old.size);
    this.#addLive(e.fileId, e.size);
    // An overwrite of a key whose expiry passed replaced an expired key.
    if (old && old.expireAt !== 0) this.#countIfExpired(old);
  }

  // Drops `k`; true when it was present and not expired.
  #remove(k: string): boolean {
    if (this.#held.size > 0) this.#held.delete(k);
    const old = this.#index.delete(k);
    if (!old) return false;
    this.#addLive(old.fileId, -old.size);
    return old.expireAt === 0 || !this.#countIfExpired(old);
  }

  // Whether `old`, an entry with an expiry that just left the index, had
  // expired; counted if so.
  #countIfExpired(old: Entry): boolean {
    if (old.expireAt > this.#opts.clock()) return false;
    this.#expiredKeys++;
    return true;
  }

  // Points each of `keys` (ascending) whose record is still in a file of `from`
  // at the same record copied to `offsets[i]` of file `fileIds[i]`, which is
  // larger by `from`'s bytes for that file (a version-1 input's records grow).
  #moveAll(
    keys: readonly string[],
    fileIds: ArrayLike<number>,
    offsets: ArrayLike<number>,
    from: ReadonlyMap<number, number>,
  ): void {
    // The accounting changes once per run of keys from one input, and of keys
    // to one output, rather than per key: in key order, records of one input
    // often neighbour, and so do their copies when the merge copied in key order.
    const out = { id: -1, run: 0 }, into = { id: -1, run: 0 };
    const settle = (r: { id: number; run: number }, id: number, sign: number) => {
      if (id === r.id) return;
      if (r.run > 0) this.#addLive(r.id, sign * r.run);
      r.id = id;
      r.run = 0;
    };
    this.#index.relocate(keys, fileIds, offsets, (id, size, to) => {
      const grows = from.get(id);
      if (grows === undefined) return -1;
      settle(out, id, -1);
      settle(into, to, 1);
      out.run += size;
      into.run += size + grows;
      return size + grows;
    });
    settle(out, -1, -1);
    settle(into, -1, 1);
  }

  // Drops every key in [start, end); returns how many were live, now or at
  // `calledAt`, and records each as a change of commit `seq` in `changes`. A
  // key that expired while the range delete waited for its fsync is deleted
  // by it, as by a delete of the key: the range delete took its number as one
  // that deletes (and such a key stayed in the index meanwhile, see #holds).
  // One that had expired before leaves unreported, as when a compaction drops it.
  #removeRange(
    start: string,
    end: string | undefined,
    seq = 0,
    changes?: KeyChange[],
    calledAt = Infinity,
  ): number {
    const keys: [string, number][] = [];
    for (const [k, e] of this.#index.range(start, end)) keys.push([k, e.expireAt]);
    let live = 0;
    for (const [k, expireAt] of keys) {
      if (!this.#remove(k) && !(expireAt > calledAt)) continue;
      live++;
      changes?.push({ k, value: undefined, seq });
    }
    return live;
  }

  #dropFiles(files: DataFile[]): void {
    for (const f of files) {
      this.#files.delete(f.id);
      this.#live.delete(f.id);
      f.close();
    }
  }

  #addLive(id: number, bytes: number): void {
    this.#live.set(id, (this.#live.get(id) ?? 0) + bytes);
    const a = this.#opts.autoCompact;
    if (
      bytes < 0 && a &&
      (this.#deadSinceCheck -= bytes) >= Math.min(AUTO_CHECK_BYTES, a.minDeadBytes)
    ) {
      this.#deadSinceCheck = 0;
      queueMicrotask(() => this.#maybeAutoCompact());
    }
  }
}
