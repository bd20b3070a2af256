/**
 * When a writable store writes its index checkpoint, and from what: in the
 * background once the log after the last one has grown past half the keys (or
 * a compaction made it stale), in time slices beside the store's calls, and
 * once more at a close. src/log/checkpoint.ts does the file work.
 * @module
 */

import { asCaskError, type CaskError } from "../base/errors.ts";
import type { DataFile } from "../log/datafile.ts";
import {
  type CheckpointFile,
  type CheckpointSource,
  type CheckpointStart,
  writeCheckpoint,
} from "../log/checkpoint.ts";
import { TimeSlicer } from "../log/time_slice.ts";
import type { Writer } from "../log/writer.ts";
import type { KeyDir } from "./keydir.ts";

// Keys a checkpoint encodes at most between two pauses, and how often a
// background one checks its time slice among them: pieces of 8192 keys ran
// 1.5-2.6 ms each, and a call waiting behind one waited as long.
const CHECKPOINT_PIECE = 8192;
const CHECKPOINT_CHECK = 256;
// How long a background checkpoint waits for the event loop before a write
// lets it go on instead (see writeCheckpoint), and the share of that wait it
// then runs for. Right after a 1M-key compaction, in a loop of awaited gets
// and sets that never lets the event loop run: p99.9 0.23-0.39 ms with 0.06,
// 0.6-0.7 ms with fixed 0.5 ms runs. In a tight loop of 1M pipelined writes
// (resumed only after each 1000), a checkpoint finished before the crash
// at the end (open 0.94-0.97 s); with fixed 0.1 or 0.25 ms runs none did and
// the open replayed the whole log (1.5 s).
const CHECKPOINT_STARVE_MS = 2;
const CHECKPOINT_NUDGED_SHARE = 0.06;

// Thrown inside a background checkpoint that gave way to a close or a compaction.
const ABANDONED = new Error("checkpoint abandoned");

/** What a checkpoint is made from: the parts of the store it reads. */
export interface CheckpointContext {
  dir: string;
  /** A store with fewer keys gets no checkpoint. */
  minKeys: number;
  index(): KeyDir;
  /** Data files by id. */
  files: ReadonlyMap<number, DataFile>;
  writer(): Writer;
  storeId(): string;
  /** The sequence number of the last commit applied to the index. */
  seq(): number;
  /** Whether a close or a compaction has begun: a background checkpoint gives way to both. */
  busy(): boolean;
  onError(e: CaskError): void;
}

/** The checkpoints of one writable store. */
export class Checkpointer {
  readonly #ctx: CheckpointContext;
  // What the checkpoint on disk covers ("" when there is none that matches):
  // close writes a new one only when the store changed since.
  #covered = "";
  // Records appended (from the open on; at the open, the sequence numbers the
  // log holds after its checkpoint, a floor), and their count where the newest
  // checkpoint resumes: a background one is due once the log after it has grown
  // past half the keys. Records, not sequence numbers: an atomic batch of a
  // thousand writes takes one number, and batch writers got no checkpoint.
  #records = 0;
  #resumeRecords = 0;
  // #records as each file begun since the open got its first record: a
  // background checkpoint resumes at the start of the active file.
  readonly #recordsBefore = new Map<number, number>();
  #running?: Promise<void>;
  // The background checkpoint's time slices, while one is written.
  #slicer?: TimeSlicer;
  // A rotation came while a checkpoint was being written: look again after it.
  #due = false;

  constructor(ctx: CheckpointContext) {
    this.#ctx = ctx;
  }

  /**
   * At the open: the checkpoint it loaded, if any (what it covers, not what the
   * open replayed after it: a close that comes before any write still saves
   * the next open that replay), and how many records the log holds after it.
   */
  opened(
    loaded: { seq: number; files: Iterable<{ id: number }> } | undefined,
    after: number,
  ): void {
    if (loaded) this.#covered = coverage(loaded.seq, loaded.files);
    this.#records = after;
  }

  /** The background checkpoint being written, if one is. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** Counts `n` records appended; a background checkpoint starved of the event loop goes on. */
  appended(n: number): void {
    this.#slicer?.nudge(CHECKPOINT_STARVE_MS, CHECKPOINT_NUDGED_SHARE);
    this.#records += n;
  }

  /** A data file was begun: a background checkpoint started while it is the active one resumes at its start. */
  begun(file: DataFile): void {
    this.#recordsBefore.set(file.id, this.#records);
  }

  /** A commit was applied: a checkpoint put off until every write was applied may start now. */
  applied(): void {
    if (this.#due && !this.#running && this.#ctx.writer().unapplied === 0) {
      queueMicrotask(() => this.consider(false));
    }
  }

  /**
   * Starts a checkpoint in the background when the log since the last one has
   * grown past half the keys (`force`: after a compaction, which made it
   * stale). Each is written once per such growth, so its cost per write stays
   * bounded.
   */
  consider(force: boolean): void {
    const ctx = this.#ctx, writer = ctx.writer(), size = ctx.index().size;
    if (this.#running) {
      this.#due = true;
      return;
    }
    this.#due = false;
    if (ctx.busy() || writer.failure) return;
    if (size < ctx.minKeys) {
      // Writes waiting for their fsync are not in the index yet (a burst of
      // batches fills files first): look again once they are applied.
      if (writer.unapplied > 0) this.#due = true;
      return;
    }
    if ([...ctx.files.values()].some((f) => !f.header)) return;
    if (!force && this.#records - this.#resumeRecords < size / 2) return;
    this.#running = this.#background()
      .catch((e) => {
        if (e !== ABANDONED) ctx.onError(asCaskError(e, "checkpoint failed"));
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#due) queueMicrotask(() => this.consider(false));
      });
  }

  /**
   * Writes the checkpoint of a closed writer: every write is applied and
   * fsynced, so it resumes the log at the end of the newest file. Nothing is
   * written when the one on disk covers the same state, or a file is of
   * format 1.
   */
  async atClose(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.index().size < ctx.minKeys) return;
    const files = sortedFiles(ctx.files);
    const key = coverage(ctx.seq(), files);
    if (key === this.#covered || files.some((f) => f.header?.version !== 2)) return;
    const newest = files[files.length - 1];
    const start = {
      storeId: ctx.storeId(),
      fileId: newest.id,
      resume: newest.size,
      seq: ctx.seq(),
    };
    await writeCheckpoint(ctx.dir, start, this.#entries(), () => this.#fileTable(), async () => {});
    this.#covered = key;
  }

  // A checkpoint of a store taking writes. It resumes at the start of the
  // active file: once the sync below resolves, every write appended before it,
  // so all of the files before that one, is applied. Its entries are read while
  // writes go on, so some are newer than that point; replaying the log from it
  // at open brings every key to its last write either way. Before the rename,
  // a second sync makes every record an entry points at durable.
  async #background(): Promise<void> {
    const ctx = this.#ctx, writer = ctx.writer(), active = writer.active;
    // The file the open appended to was begun before it: count from nothing.
    const records = this.#recordsBefore.get(active.id) ?? 0;
    for (const id of this.#recordsBefore.keys()) if (id < active.id) this.#recordsBefore.delete(id);
    await writer.sync();
    const start: CheckpointStart = {
      storeId: ctx.storeId(),
      fileId: active.id,
      resume: active.headerSize,
      seq: active.header!.baseSeq,
    };
    const slicer = this.#slicer = new TimeSlicer();
    try {
      await writeCheckpoint(
        ctx.dir,
        start,
        this.#entries(slicer),
        () => this.#fileTable(),
        () => writer.sync(),
        slicer,
      );
    } finally {
      this.#slicer = undefined;
    }
    this.#resumeRecords = records;
    this.#covered = "";
  }

  // The index in key order, in pieces. With `slicer` (a background
  // checkpoint), a piece also ends with its time slice, and the source gives
  // way when a close or a compaction starts.
  #entries(slicer?: TimeSlicer): CheckpointSource {
    let last: string | undefined;
    return (visit) => {
      if (slicer && this.#ctx.busy()) throw ABANDONED;
      let n = 0, stopped = false;
      this.#ctx.index().walk(last, (key, fileId, offset, size, timestamp, expireAt) => {
        visit(key, fileId, offset, size, timestamp, expireAt);
        last = key;
        n++;
        stopped = n === CHECKPOINT_PIECE || (n % CHECKPOINT_CHECK === 0 && slicer?.due === true);
        return !stopped;
      });
      return stopped;
    };
  }

  // The store's files as a checkpoint names them.
  #fileTable(): CheckpointFile[] {
    const files = sortedFiles(this.#ctx.files), writer = this.#ctx.writer();
    return files.map((f) => ({
      id: f.id,
      salt: f.header!.salt,
      flags: f.header!.flags,
      size: writer.sizeOf(f),
      lastSeq: this.#lastSeqOf(f, files),
    }));
  }

  // The last sequence number in log file `f`: what recovery found in it (a
  // file after lost ones starts later, and the gap must stay on record), else
  // where the file after it starts, or for the newest one, the store's. A
  // merge output covers its base.
  #lastSeqOf(f: DataFile, files: DataFile[]): number {
    if (f.compacted) return f.header!.baseSeq;
    // Its one record took the number after its base.
    if (f.blob) return f.header!.baseSeq + 1;
    if (f.lastSeq !== undefined) return f.lastSeq;
    const next = files.find((g) => !g.compacted && g.header!.follows === f.id);
    if (next) return next.header!.baseSeq;
    return f === files.findLast((g) => !g.compacted) ? this.#ctx.seq() : f.header!.baseSeq;
  }
}

// Identifies the state a checkpoint covers: the last sequence number and the files.
function coverage(seq: number, files: Iterable<{ id: number }>): string {
  return `${seq}:${[...files].map((f) => f.id).sort((a, b) => a - b).join(",")}`;
}

function sortedFiles(files: ReadonlyMap<number, DataFile>): DataFile[] {
  return [...files.values()].sort((a, b) => a.id - b.id);
}
