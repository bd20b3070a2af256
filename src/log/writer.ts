/**
 * The write path: appends records to the active data file through an in-memory
 * buffer, rotates files at the size limit, and makes writes durable.
 *
 * Appends are synchronous and only touch memory, so a record or a whole batch is
 * always contiguous and ordered. One background flusher does all file I/O, in
 * order. Under `sync: "always"` every writer waits for the fsync that covers its
 * record; writes that arrive while an fsync runs are written and synced together
 * by the next one (group commit). Under "never" and the interval mode a write is
 * applied at once and the buffer is written a moment later in large writes.
 * @module
 */

import { ClosedError, IOError } from "../base/errors.ts";
import type { SyncMode, WriteOp } from "../base/types.ts";
import { encodeFileHeader, newSalt } from "../codec/file_header.ts";
import { FILE_FLAG_BLOB, FILE_FLAG_OPENED, KIND_DATA } from "../codec/format.ts";
import { sealStreamedHead } from "../codec/stream_record.ts";
import { encodeOps, framedSize } from "../codec/framing.ts";
import { DataFile } from "./datafile.ts";
import { faults } from "./faults.ts";
import { HintWriter, writeHint } from "./hint.ts";
import { hintPath, syncDir, TEMP, writeAll, writeAllSync } from "./fsutil.ts";
import { clearImmediate, setImmediate } from "node:timers";

// Chunk size for buffered appends: large enough for efficient writes, small
// enough that a group commit of one record does not allocate much.
const CHUNK_SIZE = 256 * 1024;
// Under "never" a flush starts at once past this many buffered bytes...
const FLUSH_BYTES = 1024 * 1024;
// ...and writers wait for the disk past this many, so memory stays bounded.
const MAX_BUFFERED = 16 * 1024 * 1024;
const MAX_SPARE = 8;

interface Chunk {
  file: DataFile;
  start: number; // file offset of bytes[0]
  pos0: number; // the writer's append position (#appended) at bytes[0]
  seq0: number; // the last sequence number handed out before the chunk's records
  bytes: Uint8Array;
  used: number;
  /** Not bytes to write but a streamed value's file to put in place (see appendBlob). */
  blob?: { tmp: string; head: Uint8Array; size: number; hint: Uint8Array };
}

// A write that failed can be cut off and tried again; an fsync that failed
// cannot (the page cache may have dropped the data), so it is told apart.
class SyncFailure extends Error {}

// A failed fsync of `file`: the IOError names the file, whichever file the
// writer has moved on to since.
function fsyncFailure(file: DataFile, e: unknown): SyncFailure {
  const err = new IOError(`fsync of ${file.path} failed: ${(e as Error)?.message ?? e}`, {
    cause: e,
  });
  return new SyncFailure("fsync failed", { cause: err });
}

// Fsyncs `file` on this thread, holding the event loop.
function syncNow(handle: Deno.FsFile, file: DataFile): void {
  try {
    faults.beforeSync?.(file.path);
    handle.syncDataSync();
  } catch (e) {
    throw fsyncFailure(file, e);
  }
}

// Under "never" and the interval mode, how soon a failed write is tried again.
const RETRY_MS = 1000;

// With inlineFsync, how many commit rounds may follow each other straight
// before one fsyncs on the blocking-task thread, so that the event loop polls
// sockets meanwhile (see Writer.#nextRound).
const CHAIN_ROUNDS = 8;

interface Waiter {
  pos: number;
  apply: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** A sync() call, which a failed write under "never" or the interval mode rejects at once. */
  sync?: true;
}

/** Where an append landed. */
export interface Placement {
  file: DataFile;
  offset: number;
  /** The sequence number of the commit. */
  seq: number;
  /** Bytes of each record's header in `file`. */
  headerSize: number;
}

/** Where a streamed value went, and the place in the append order its commit waits for. */
export interface BlobPlacement extends Placement {
  end: number;
}

/** Options of a Writer. */
export interface WriterOptions {
  sync: SyncMode;
  /**
   * Fsync the active file on the JavaScript thread: no hand-off to a blocking
   * thread and back per group commit, and what arrives meanwhile is read in one
   * turn of the event loop, which waits for the fsync.
   */
  inlineFsync?: boolean;
  maxFileSize: number;
  /** Called when the writer starts a new data file, before anything can be read from it. */
  onNewFile: (file: DataFile) => void;
  /** Called when a failed write drops a new file before it was created. */
  onDropFile: (file: DataFile) => void;
  /**
   * Called when every write waiting for its fsync is dropped (rejected), just
   * before their promises reject: anything kept about them is stale now, and
   * their sequence numbers are handed out again.
   */
  onDropped?: () => void;
  /** The store's id, written into every file header. */
  storeId: string;
  /** The last sequence number the log holds; appends continue after it. */
  seq: number;
  /** The newest log file, to append to; undefined to start a new file. */
  append?: DataFile;
  /** Id of the next new file (above every file of the store). */
  nextId: number;
  /** Id of the log file a new first file follows; -1 for none. */
  follows: number;
}

/** Appends to the active data file; see the module doc. */
export class Writer {
  /** The file receiving appends. */
  active: DataFile;
  /** Id the next rotation gives its new file; compaction raises it to reserve ids. */
  nextId: number;
  #end = 0; // logical size of `active`, buffered bytes included
  #chunks: Chunk[] = []; // appended and not yet written, oldest first
  // Written chunk buffers kept for reuse: allocating a fresh one per flush makes
  // the allocator hold on to far more memory than is ever in use at once.
  #spare: Uint8Array[] = [];
  #open?: Chunk; // the chunk appends go to; the flusher closes it when it takes it
  #buffered = 0;
  #appended = 0; // bytes appended since open, over all files
  #durable = 0; // of those, bytes known fsynced
  #waiters: Waiter[] = [];
  #flushing?: Promise<void>;
  #timer?: ReturnType<typeof setImmediate>;
  #interval?: ReturnType<typeof setInterval>;
  #handle?: Deno.FsFile;
  // Files left for a newer one since the last fsync round, and whether a new
  // file's name is not yet durable: the next round takes care of both (see
  // #switchTo).
  #left: DataFile[] = [];
  #newName = false;
  #handleFile?: DataFile;
  #failure?: IOError;
  // Under "never" and the interval mode: a failed write whose acknowledged bytes
  // wait in the buffer for a retry; appends are refused meanwhile.
  #stall?: IOError;
  #retryTimer?: ReturnType<typeof setTimeout>;
  #closed = false;
  // Set once close() has made its last write: no flush starts after it.
  #shut = false;
  // An fsync held the event loop since the last round began (inlineFsync).
  #heldLoop = false;
  // Rounds in a row begun from the microtasks of the round before (see #nextRound).
  #chained = 0;
  // Set when a round ends, cleared by the next turn of the event loop.
  #sameTurn = false;

  #seq: number;
  #drops = 0;
  readonly #deferred: boolean;
  // Streamed values appended whose commits have not settled, and the place
  // in the append order up to which writes were deferred behind them: later
  // writes are deferred too until those are applied, or one applied at once
  // would get ahead of them.
  #blobs = 0;
  #deferredTo = 0;
  readonly #sealedEnds = new WeakMap<DataFile, number>();

  /** Appends to `options.append`, or starts a new file following `options.follows`. */
  constructor(readonly dir: string, readonly options: WriterOptions) {
    this.nextId = options.nextId;
    this.#seq = options.seq;
    this.#deferred = options.sync === "always";
    if (options.append) {
      this.active = options.append;
      this.#end = options.append.size;
    } else this.active = this.#newFile(options.follows, FILE_FLAG_OPENED);
    const s = options.sync;
    if (typeof s === "object") {
      const timer = setInterval(() => this.sync().catch(() => {}), s.intervalMs);
      // A forgotten close() must not keep the process alive; close() syncs anyway.
      Deno.unrefTimer(timer);
      this.#interval = timer;
    }
  }

  /** Bytes of `file`, buffered appends included. */
  sizeOf(file: DataFile): number {
    if (file === this.active) return this.#end;
    return Math.max(file.size, this.#sealedEnds.get(file) ?? 0);
  }

  /** The sequence number of the last append. */
  get seq(): number {
    return this.#seq;
  }

  /**
   * How many times appended writes waiting for their fsync were rejected
   * (dropped) at once. It grows before their promises reject, so a caller that
   * saw a write appended can tell synchronously whether it may since have been
   * dropped.
   */
  get drops(): number {
    return this.#drops;
  }

  /** The error that stopped the writer, if any. */
  get failure(): IOError | undefined {
    return this.#failure;
  }

  /**
   * Whether commit() applies writes only after their fsync: under sync
   * "always", and under the others while a streamed value is appended but not
   * applied (see appendBlob).
   */
  get deferred(): boolean {
    return this.#deferred || this.#blobs > 0 || this.#durable < this.#deferredTo;
  }

  /** About how many bytes were appended whose writes are not applied yet (waiting for their fsync). */
  get unapplied(): number {
    return this.deferred ? Math.max(0, this.#appended - this.#durable) : 0;
  }

  /**
   * Whether a streamed value is appended but not yet in place: its file is
   * registered, at size 0, and the file after it is begun.
   */
  get installing(): boolean {
    return this.#chunks.some((c) => c.blob !== undefined);
  }

  /**
   * The file the oldest bytes still in the buffer go to (undefined when none
   * are): they, and every file begun after it, are not in the files yet.
   */
  get unwrittenFile(): DataFile | undefined {
    return this.#chunks[0]?.file;
  }

  /** Whether writes are appended but not yet applied (waiting for their fsync). */
  get busy(): boolean {
    return this.#waiters.length > 0;
  }

  /**
   * Appends the records of `ops`, framed as one batch when `batch` (see
   * framing.ts), contiguously; returns where the first one starts.
   */
  appendOps(ops: readonly WriteOp[], timestamp: number, batch: boolean): Placement {
    this.#check();
    const fmt = this.active.fmt;
    const seq = this.#seq + 1;
    const size = framedSize(fmt, ops, batch);
    if (this.#end + size > this.options.maxFileSize && this.#end > this.active.headerSize) {
      this.#rotate();
    }
    const file = this.active;
    const offset = this.#end;
    const c = this.#room(file, size);
    encodeOps(file.fmt, c.bytes, c.used, ops, timestamp, seq, batch);
    this.#reserved(c, size);
    // Counted only once encoded: a write that fails to encode takes no number.
    this.#seq = seq;
    return { file, offset, seq, headerSize: file.fmt.headerSize };
  }

  // Counts `size` bytes just encoded at the end of chunk `c` as appended.
  #reserved(c: Chunk, size: number): void {
    c.used += size;
    this.#end += size;
    this.#buffered += size;
    this.#appended += size;
  }

  /**
   * Puts a streamed value in the log: `tmp` holds, after room for the file
   * header and the record's head, the value's `valueLen` bytes (fsynced), whose
   * CRC-32 is `valueCrc`. The value becomes the one record of a new data file
   * (a blob file) after the active one, and appends go on in a file after it.
   * The file is renamed into place, in order, by the flusher; the caller waits
   * for that through commit(apply, true, end).
   */
  appendBlob(
    tmp: string,
    key: Uint8Array,
    valueLen: number,
    valueCrc: number,
    timestamp: number,
    expireAt: number,
  ): BlobPlacement {
    this.#check();
    const seq = this.#seq + 1;
    const header = {
      version: 2 as const,
      kind: KIND_DATA,
      flags: FILE_FLAG_BLOB,
      salt: newSalt(),
      storeId: this.options.storeId,
      fileId: this.nextId++,
      follows: this.active.id,
      baseSeq: this.#seq,
      part: 0,
      parts: 0,
    };
    const file = new DataFile(this.dir, header.fileId, 0, header);
    const head = sealStreamedHead(file.fmt, 0, timestamp, expireAt, seq, key, valueLen, valueCrc);
    const fileHead = encodeFileHeader(header);
    const bytes = new Uint8Array(fileHead.length + head.length);
    bytes.set(fileHead);
    bytes.set(head, fileHead.length);
    const hint = new HintWriter(header);
    const h = { flags: 0, keyLen: key.length, valueLen, timestamp, expireAt, seq };
    hint.add(key, h, fileHead.length);
    const size = bytes.length + valueLen;
    this.options.onNewFile(file);
    this.#chunks.push({
      file,
      start: 0,
      pos0: this.#appended,
      seq0: this.#seq,
      bytes: new Uint8Array(0),
      used: 0,
      blob: { tmp, head: bytes, size, hint: hint.finish() },
    });
    this.#open = undefined;
    // The blob takes one place in the append order, so its commit can wait for
    // exactly it (commit's `upTo`), not for the next file's header after it:
    // if that header's write fails, the value is in place all the same.
    const end = ++this.#appended;
    this.#seq = seq;
    // Writes appended after it are applied after it, as under "always", though
    // it waits for its fsync: a later sequence number must not become visible
    // (and be checkpointed, and fed) before an earlier one.
    this.#blobs++;
    this.active = this.#newFile(file.id);
    return { file, offset: fileHead.length, seq, headerSize: file.fmt.headerSize, end };
  }

  /**
   * Makes everything appended so far count. Under "always" `apply` runs (in append
   * order) once the bytes are fsynced and the promise then resolves with its result;
   * otherwise `apply` runs now.
   */
  commit<T>(apply: () => T, durable = false, upTo?: number): Promise<T> {
    if (!this.deferred && !durable) {
      const result = apply();
      if (this.#buffered >= FLUSH_BYTES) this.#kick();
      else this.#schedule();
      if (this.#buffered < MAX_BUFFERED) return Promise.resolve(result);
      return this.#flushing!.then(() => result);
    }
    if (!this.#deferred) this.#deferredTo = Math.max(this.#deferredTo, upTo ?? this.#appended);
    const p = this.#wait(apply, upTo, upTo !== undefined) as Promise<T>;
    this.#kick();
    return p;
  }

  /** Copies bytes [offset, offset + buf.length) of `file` from the buffer; false when they are on disk. */
  readBuffered(file: DataFile, offset: number, buf: Uint8Array): boolean {
    if (offset + buf.length <= file.size) return false;
    for (const c of this.#chunks) {
      if (c.file === file && offset >= c.start && offset + buf.length <= c.start + c.used) {
        buf.set(c.bytes.subarray(offset - c.start, offset - c.start + buf.length));
        return true;
      }
    }
    return false;
  }

  /**
   * Writes out the buffer and fsyncs; resolves once everything appended before
   * the call is durable. After a failed write it tries again at once.
   */
  sync(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#durable >= this.#appended) return Promise.resolve();
    const p = this.#wait(() => undefined, this.#appended, false, true) as Promise<void>;
    this.#kick();
    return p;
  }

  /**
   * Resolves once the bytes appended before the call are in the file (written,
   * not necessarily fsynced), where a reader of the file (a Worker's follower)
   * finds them. After a failed write it resolves with those bytes still
   * buffered, waiting for their retry.
   */
  async written(): Promise<void> {
    if (this.#chunks.length === 0) return;
    this.#kick();
    // The flusher goes on until no chunk is left, those appended meanwhile included.
    await this.#flushing;
  }

  /** Flushes, fsyncs and closes the file; later appends throw ClosedError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // Appends are refused from here on: one let in while the sync below ran
    // (a streamed value whose stream ended meanwhile) started a flush that
    // found its file handle closed under it.
    this.#closed = true;
    clearInterval(this.#interval);
    clearImmediate(this.#timer);
    clearTimeout(this.#retryTimer);
    try {
      await this.sync();
    } catch (e) {
      // Writes left waiting through a failed write are never retried now.
      this.#rejectAll(e);
      throw e;
    } finally {
      // Nothing is written after a close, not even a retry its failed sync
      // set up: the store may be opened again meanwhile, and appended to.
      this.#shut = true;
      clearTimeout(this.#retryTimer);
      // Even after a failure: a round still writing must not find its handle closed.
      await this.#flushing;
      this.#handle?.close();
      this.#handle = undefined;
    }
  }

  /**
   * Closes the active file to appends and starts a new one, leaving `gap` ids
   * free below it (compaction writes its output there).
   */
  seal(gap: number): void {
    this.#check();
    this.nextId += gap;
    this.#rotate();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError();
    if (this.#failure) throw this.#failure;
    if (this.#stall) throw this.#stall;
  }

  #rotate(): void {
    // A sealed file's bytes may still be buffered: its size counts them.
    this.#sealedEnds.set(this.active, this.#end);
    this.active = this.#newFile(this.active.id);
  }

  // Starts the next data file, continuing the log after file `follows`.
  #newFile(follows: number, flags = 0): DataFile {
    const header = {
      kind: KIND_DATA,
      flags,
      salt: newSalt(),
      storeId: this.options.storeId,
      fileId: this.nextId++,
      follows,
      baseSeq: this.#seq,
      part: 0,
      parts: 0,
    };
    const file = new DataFile(this.dir, header.fileId, 0, { version: 2, ...header });
    this.active = file;
    this.options.onNewFile(file);
    this.#end = 0;
    const head = encodeFileHeader(header);
    const c = this.#room(file, head.length);
    c.bytes.set(head, c.used);
    this.#reserved(c, head.length);
    return file;
  }

  #room(file: DataFile, size: number): Chunk {
    const c = this.#open;
    if (c && c.file === file && c.bytes.length - c.used >= size) return c;
    const fresh = {
      file,
      start: this.#end,
      pos0: this.#appended,
      seq0: this.#seq,
      bytes: size <= CHUNK_SIZE && this.#spare.pop() || new Uint8Array(Math.max(CHUNK_SIZE, size)),
      used: 0,
    };
    this.#chunks.push(fresh);
    this.#open = fresh;
    return fresh;
  }

  // Waits for the bytes appended up to `pos` to be durable.
  #wait(apply: () => unknown, pos = this.#appended, blob = false, sync = false): Promise<unknown> {
    const p = new Promise((resolve, reject) => {
      this.#waiters.push(
        sync ? { pos, apply, resolve, reject, sync } : { pos, apply, resolve, reject },
      );
    });
    if (!blob) return p;
    const settled = () => this.#blobs--;
    p.then(settled, settled);
    return p;
  }

  // The buffer is written out once the event loop has run the I/O callbacks
  // that are ready, so the appends they make share one write. An immediate
  // runs then; a zero timeout waits at least a millisecond when the loop is
  // idle, and each cost about 3 us to create against 1 us (beside redis-benchmark
  // -c 50 SET, timers were 4% of the server's CPU).
  #schedule(): void {
    if (this.#timer !== undefined || this.#flushing) return;
    this.#timer = setImmediate(() => {
      this.#timer = undefined;
      this.#kick();
    });
  }

  #kick(): void {
    if (!this.#flushing && !this.#shut) this.#flushing = this.#flushLoop();
  }

  // Resolves after the caller's tick: #flushing is set by then, and appends
  // made in the same tick join the round. After an inline fsync, after a turn
  // of the event loop (an immediate): writers that await only the store would
  // otherwise start each next round from microtasks, and keep timers and
  // sockets out for good. An immediate lets timers run but, in Deno, polls
  // sockets only now and then (a chain of them left a socket unanswered for
  // about 50 rounds), so a chain of rounds gets an fsync on the blocking-task
  // thread now and then (see #fsync), during which the loop polls them.
  #nextRound(): Promise<unknown> {
    if (!this.#heldLoop) return Promise.resolve();
    this.#heldLoop = false;
    this.#chained = this.#sameTurn ? this.#chained + 1 : 0;
    return new Promise((resolve) => setImmediate(resolve));
  }

  // Marks the end of a round that held the loop, until the loop turns.
  #endRound(): void {
    if (!this.#heldLoop || this.#sameTurn) return;
    this.#sameTurn = true;
    setImmediate(() => this.#sameTurn = false);
  }

  async #flushLoop(): Promise<void> {
    await this.#nextRound();
    try {
      while ((this.#chunks.length > 0 || this.#waiters.length > 0) && !this.#failure) {
        const taken = this.#chunks.length;
        this.#open = undefined;
        const upTo = this.#appended;
        const mustSync = this.#waiters.length > 0;
        let written = 0;
        try {
          for (; written < taken; written++) await this.#write(this.#chunks[written]);
          if (mustSync && this.#handle) {
            await this.#syncLeft();
            await this.#fsync(this.#handle, this.#handleFile!);
          }
        } catch (e) {
          if (e instanceof SyncFailure) this.#fail(e.cause);
          else await this.#writeFailed(written, e);
          // Writes that arrived while the failure was handled still need a
          // flusher (under "never" a stalled writer waits for its retry timer).
          // Bytes nobody waits for (a file header written again) wait for the
          // next write: trying them now, on a disk still full, would only fail.
          if (!this.#failure && !this.#stall && this.#waiters.length > 0) {
            queueMicrotask(() => this.#kick());
          }
          return;
        }
        this.#stall = undefined;
        this.#recycle(taken);
        if (mustSync) this.#durable = upTo;
        this.#release();
        this.#endRound();
        if (this.#heldLoop) await this.#nextRound();
      }
    } finally {
      // Cleared in the same tick as the loop's last check, so no append can fall
      // between "nothing left to write" and "no flusher running".
      this.#flushing = undefined;
    }
  }

  // Drops the first `n` chunks, written, keeping their buffers for reuse.
  #recycle(n: number): void {
    for (const c of this.#chunks.splice(0, n)) {
      this.#buffered -= c.used;
      if (c.bytes.length === CHUNK_SIZE && this.#spare.length < MAX_SPARE) {
        this.#spare.push(c.bytes);
      }
    }
  }

  async #write(c: Chunk): Promise<void> {
    if (c.blob) return await this.#installBlob(c.file, c.blob);
    if (c.file !== this.#handleFile) this.#switchTo(c.file);
    faults.beforeWrite?.(c.file.path);
    writeAllSync(this.#handle!, c.bytes.subarray(0, c.used));
    c.file.size = c.start + c.used;
  }

  async #fsync(handle: Deno.FsFile, file: DataFile): Promise<void> {
    // Inline, but every CHAIN_ROUNDS-th round of a chain (rounds begun before
    // the loop turned since the one before) goes to the thread, so that the
    // loop polls sockets meanwhile. The mark of a chain is cleared by an
    // immediate, which in Deno runs after the sockets' callbacks: a round a
    // socket's request began may count as chained too, and then pays a
    // hand-off to the thread now and then, not a wait.
    if (this.options.inlineFsync && this.#chained < CHAIN_ROUNDS) {
      this.#heldLoop = true;
      return syncNow(handle, file);
    }
    this.#chained = 0;
    try {
      faults.beforeSync?.(file.path);
      await handle.syncData();
    } catch (e) {
      throw fsyncFailure(file, e);
    }
  }

  // Seals the file before the blob, then gives the blob file its head, makes it
  // durable and renames it into place, then writes its hint. A failure before
  // the value is in place is not retried: the writer stops, and the temporary
  // file goes at the next open.
  async #installBlob(file: DataFile, b: NonNullable<Chunk["blob"]>): Promise<void> {
    try {
      await this.#syncLeft();
      if (this.#handle) {
        await this.#handle.syncData();
        this.#handle.close();
        this.#handle = undefined;
        this.#handleFile = undefined;
      }
      const f = await Deno.open(b.tmp, { write: true });
      try {
        faults.beforeWrite?.(file.path);
        await writeAll(f, b.head);
        await f.syncData();
      } finally {
        f.close();
      }
      await Deno.rename(b.tmp, file.path);
      await syncDir(this.dir);
      file.size = b.size;
    } catch (e) {
      if (e instanceof SyncFailure) throw e;
      throw new SyncFailure("a streamed value could not be put in place", { cause: e });
    }
    // The value is in place and durable. Its hint only spares an open the scan
    // of the value's file: one that cannot be written (a full disk) is left out.
    try {
      await writeHint(this.dir, file.id, b.hint);
    } catch {
      await Deno.remove(hintPath(this.dir, file.id) + TEMP).catch(() => {});
    }
  }

  // Opens the next file, creating it when it is new, at once: a loop of awaited
  // writes under "never" or the interval mode runs on microtasks alone, and an
  // asynchronous open (or fsync) would wait for it while the buffer grew to
  // MAX_BUFFERED (a quarter of a second of acknowledged writes that a crash then
  // lost). The file left is closed now and fsynced, with the directory after a
  // new file, by the next fsync round (#syncLeft): every write under "always",
  // sync(), close(), the interval's, a compaction's start. Handles do not pile
  // up, and nothing blocks the event loop.
  #switchTo(file: DataFile): void {
    const fresh = file.size === 0;
    // A file begun past a gap of ids (a compaction's seal) is created only once
    // the file it leaves is durable: recovery takes a tear before such a gap
    // for damage, where a tear of the file a plain rotation left is a crash's.
    if (fresh && this.#handle && file.id > this.#handleFile!.id + 1) {
      syncNow(this.#handle, this.#handleFile!);
    }
    const handle = Deno.openSync(file.path, { append: true, createNew: fresh });
    if (this.#handle) {
      this.#left.push(this.#handleFile!);
      this.#handle.close();
    }
    this.#handle = handle;
    this.#handleFile = file;
    if (fresh) this.#newName = true;
  }

  // Fsyncs the files left since the last round (older files are immutable, and
  // compaction trusts them), then the directory, if a file was created.
  async #syncLeft(): Promise<void> {
    for (const f of this.#left.splice(0)) {
      let h: Deno.FsFile | undefined;
      try {
        h = await Deno.open(f.path, { write: true });
        faults.beforeSync?.(f.path);
        await h.syncData();
      } catch (e) {
        throw fsyncFailure(f, e);
      } finally {
        h?.close();
      }
    }
    if (!this.#newName) return;
    this.#newName = false;
    try {
      await syncDir(this.dir);
    } catch (e) {
      throw new SyncFailure("directory fsync failed", { cause: e });
    }
  }

  // A write (not an fsync) failed, say on a full disk, at chunk `i` of the round:
  // the file is cut back to where that chunk starts, so no partial record stays.
  // Under "always" nothing past that point was acknowledged: the written chunks
  // before it are made durable and acknowledged, everything after is rejected
  // and dropped, and writing goes on. Otherwise the writes were acknowledged
  // already: they stay buffered and are tried again, and appends are refused
  // until a retry succeeds.
  async #writeFailed(i: number, e: unknown): Promise<void> {
    const c = this.#chunks[i];
    const err = new IOError(
      `write to ${c.file.path} failed: ${(e as Error)?.message ?? e}`,
      { cause: e },
    );
    try {
      if (this.#handleFile === c.file) this.#handle!.truncateSync(c.start);
      c.file.size = c.start;
      this.#recycle(i);
      if (this.options.sync !== "always") {
        this.#stall = err;
        // The bytes stay buffered for the retry: a streamed value and the
        // writes deferred behind it wait for it too (rejected, they would
        // still be written); only sync() calls fail now.
        const stay = this.#waiters.filter((w) => !w.sync);
        for (const w of this.#waiters) if (w.sync) w.reject(err);
        this.#waiters = stay;
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => this.#kick(), RETRY_MS);
        // Acknowledged writes alone do not keep the process alive; a promise
        // that waits for the retry does.
        if (stay.length === 0) Deno.unrefTimer(this.#retryTimer);
        return;
      }
      await this.#syncLeft();
      if (this.#handle) await this.#fsync(this.#handle, this.#handleFile!);
    } catch (t) {
      this.#fail(t instanceof SyncFailure ? t.cause : t);
      return;
    }
    this.#durable = c.pos0;
    this.#release();
    const dropped = this.#chunks.splice(0);
    for (const d of dropped) this.#buffered -= d.used;
    this.#rejectAll(err);
    for (const f of new Set(dropped.map((d) => d.file))) {
      if (f !== c.file) this.options.onDropFile(f);
    }
    this.#open = undefined;
    this.#appended = c.pos0;
    // The rejected writes never happened: their numbers are handed out again, so the
    // next file's header continues the log with no gap.
    this.#seq = c.seq0;
    this.active = c.file;
    this.#end = c.start;
    // The file's header was in the dropped bytes: it goes first again.
    if (c.start === 0) {
      const head = encodeFileHeader(c.file.header!);
      const room = this.#room(c.file, head.length);
      room.bytes.set(head, room.used);
      this.#reserved(room, head.length);
    }
  }

  #release(): void {
    let n = 0;
    const w = this.#waiters;
    while (n < w.length && w[n].pos <= this.#durable) n++;
    for (const x of w.splice(0, n)) {
      try {
        x.resolve(x.apply());
      } catch (e) {
        x.reject(e);
      }
    }
  }

  // After a failed fsync the page cache can no longer be trusted (it may have
  // dropped the data), so the writer stops for good: nothing more is
  // acknowledged, and a reopen recovers exactly what reached the disk intact.
  #fail(e: unknown): void {
    // The first failure is the one to report: seals that fail after it name later files.
    if (this.#failure) return;
    this.#failure = e instanceof IOError ? e : new IOError(
      `write to ${this.#handleFile?.path ?? this.dir} failed: ${(e as Error)?.message ?? e}`,
      { cause: e },
    );
    this.#rejectAll(this.#failure);
  }

  #rejectAll(e: unknown): void {
    if (this.#waiters.length === 0) return;
    this.#drops++;
    this.options.onDropped?.();
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }
}
