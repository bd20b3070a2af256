/**
 * Compaction (merge): copies the live records of the immutable data files into
 * new files with hints, then puts them in place of the old ones.
 *
 * Why a crash at any step is safe: the new files get ids above every input and
 * below the active file, and they hold only records that were the newest for
 * their key when copied. Replaying inputs and outputs together therefore gives
 * the same data as either alone, so the only rule is that no input goes before
 * the outputs are durably in place. Then inputs are removed oldest first, each
 * removal made durable before the next: whatever inputs remain are the newest
 * ones, whose records (tombstones included) are still the latest for their keys,
 * so no deleted or overwritten key can come back.
 * @module
 */

import {
  emptyHeader,
  encodeRecord,
  formatV2,
  readHeader,
  type RecordFormat,
  type RecordHeader,
  recordSize,
  resealRecord,
  verifyRecord,
} from "../codec/codec.ts";
import type { SealBatch } from "../codec/merge_codec.ts";
import { encodeFileHeader, type FileHeader, newSalt } from "../codec/file_header.ts";
import { FILE_FLAG_COMPACTED, FLAG_BATCH, KIND_DATA } from "../codec/format.ts";
import type { DataFile } from "./datafile.ts";
import { dataPath, hintPath, syncDir, TEMP, writeAll } from "./fsutil.ts";
import {
  BLOCK,
  bucketCounts,
  bucketOrder,
  CACHED_BLOCKS,
  FILE_ORDER_BLOCKS,
  Gatherer,
} from "./gather.ts";
import { TimeSlicer } from "./time_slice.ts";
import { HintWriter } from "./hint.ts";
import { keyEquals } from "../base/keys.ts";
import { giveBack, giveBackArrays, takeArray, takeBuffer } from "../base/spare_buffers.ts";
import type { CompactProgress } from "../base/types.ts";

/** What a compaction is asked to do. */
export interface MergePlan {
  dir: string;
  /**
   * The records to keep, in key order: calls `take` with every live key after
   * `after` (from the first when undefined) whose current record is in an input
   * file, until `take` returns false. Called again from the last key taken
   * after a pause, so the store may change in between.
   */
  live(
    after: string | undefined,
    take: (key: string, fileId: number, offset: number, size: number) => boolean,
  ): void;
  /** Input data files by id: immutable, fully written and fsynced. */
  inputs: Map<number, DataFile>;
  /** Bytes to copy, for progress. */
  bytesTotal: number;
  /** How many records `live` gives at most, about (the index's size): room is made at once. */
  keysAtMost: number;
  /** Ids reserved for the output files: firstId..lastId. */
  firstId: number;
  lastId: number;
  /** The store's id, for the outputs' headers. */
  storeId: string;
  /** The newest log file merged, and the last sequence number in it: what the outputs cover. */
  throughId: number;
  throughSeq: number;
  maxFileSize: number;
  /** Called for a record that fails its checks; it is not copied. */
  onDamage(file: string, offset: number, bytes: number): void;
  /** Throws to abort between flushes (the store is closing). */
  checkAbort(): void;
  onProgress(p: CompactProgress): void;
}

/** A data file written by a merge. */
export interface MergeOutput {
  id: number;
  size: number;
  header: FileHeader;
}

/**
 * Where a merge put each record it was given, the records in key order: the
 * output file id (-1 when the record was not copied) and the offset there.
 */
export interface MergeMoves {
  keys: string[];
  fileIds: Int32Array;
  offsets: Float64Array;
}

/** Gives the arrays of `moves` back to the spare buffers once the index has taken them. */
export function releaseMoves(moves: MergeMoves): void {
  giveBackArrays(moves.fileIds, moves.offsets);
}

/** What a merge wrote. */
export interface MergeResult {
  outputs: MergeOutput[];
  moves: MergeMoves;
}

class Output {
  size = 0;
  buf = takeBuffer(OUTPUT_BUFFER);
  #spare = takeBuffer(OUTPUT_BUFFER);
  #writing: Promise<void> = Promise.resolve();
  // Data bytes written since the last early sync was started, and that sync.
  #unsynced = 0;
  #syncing: Promise<void> = Promise.resolve();
  used = 0;
  readonly header: FileHeader;
  readonly fmt: RecordFormat;
  readonly hint: HintWriter;
  /** Records appended so far. */
  records = 0;
  // Open until the output is complete: a merge of many files holds two
  // descriptors, not two per output (see seal()).
  #data?: Deno.FsFile;
  #hintFile?: Deno.FsFile;
  constructor(
    plan: MergePlan,
    readonly id: number,
    readonly path: string,
    readonly hintPath: string,
    readonly moves: MergeMoves,
  ) {
    this.header = {
      version: 2,
      kind: KIND_DATA,
      flags: FILE_FLAG_COMPACTED,
      salt: newSalt(),
      storeId: plan.storeId,
      fileId: id,
      follows: plan.throughId,
      baseSeq: plan.throughSeq,
      part: id - plan.firstId + 1,
      parts: 0,
    };
    this.fmt = formatV2(this.header.salt);
    const opts = { write: true, create: true, truncate: true };
    this.#data = Deno.openSync(path, opts);
    try {
      this.#hintFile = Deno.openSync(hintPath, opts);
    } catch (e) {
      this.close();
      throw e;
    }
    this.hint = new HintWriter(this.header, [takeBuffer(HINT_BUFFER), takeBuffer(HINT_BUFFER)]);
    this.push(encodeFileHeader(this.header));
  }

  push(bytes: Uint8Array): void {
    if (this.used + bytes.length > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.used + bytes.length));
      bigger.set(this.buf.subarray(0, this.used));
      this.buf = bigger;
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
    this.size += bytes.length;
  }

  /** Notes that live record `i` (its index in key order) is at `offset` of this file. */
  #moved(i: number, offset: number): void {
    this.moves.fileIds[i] = this.id;
    this.moves.offsets[i] = offset;
    this.records++;
  }

  /**
   * Appends record `rec` of format `from`, whose header `h` was validated, as
   * live record `i`, sealed for this file: under its salt, and no longer a
   * batch member (every record of a merge output is committed).
   */
  keep(i: number, h: RecordHeader, rec: Uint8Array, from: RecordFormat): void {
    const hs = from.headerSize;
    const keyBytes = rec.subarray(hs, hs + h.keyLen);
    h.flags &= ~FLAG_BATCH;
    this.hint.add(keyBytes, h, this.size);
    this.#moved(i, this.size);
    if (hs === this.fmt.headerSize && resealRecord(rec, 0, this.fmt, FLAG_BATCH)) {
      this.push(rec);
      return;
    }
    const out = new Uint8Array(recordSize(this.fmt, h.keyLen, h.valueLen));
    const value = rec.subarray(hs + h.keyLen, hs + h.keyLen + h.valueLen);
    encodeRecord(this.fmt, out, 0, h.flags, h.timestamp, h.expireAt, h.seq, keyBytes, value);
    this.push(out);
  }

  /**
   * Appends the checked records [from, to) of `batch`, segment records `seg`,
   * which lie back to back at [at[from], end) and share this file's header
   * size, re-sealed in bulk.
   */
  keepRun(
    batch: SealBatch,
    seg: Segment,
    at: Uint32Array,
    from: number,
    to: number,
    end: number,
  ): void {
    const base = this.size - at[from];
    this.hint.addEntries(batch.seal(from, to, this.fmt, FLAG_BATCH, this.size), to - from);
    for (let i = from; i < to; i++) this.#moved(seg.ids[i], base + at[i]);
    this.push(batch.records.subarray(at[from], end));
  }

  /**
   * Writes the header again, now that the merge knows how many outputs it
   * has, and fsyncs the file: through a descriptor of its own, as the one that
   * wrote it was closed when the output was complete.
   */
  async seal(parts: number): Promise<void> {
    using file = await Deno.open(this.path, { write: true });
    await writeAll(file, encodeFileHeader({ ...this.header, parts }));
    await file.syncData();
  }

  /**
   * Starts writing out what the buffer holds and swaps in the spare buffer, so
   * the next segment is gathered while this one is written; waits for the
   * write before that, whose buffer becomes the spare.
   */
  async flush(): Promise<void> {
    await this.#writing;
    const data = this.buf.subarray(0, this.used), hint = this.hint.take();
    [this.buf, this.#spare] = [this.#spare, this.buf];
    this.used = 0;
    const file = this.#data!, hintFile = this.#hintFile!;
    this.#writing = writePieces(file, data).then(() => writeAll(hintFile, hint)).then(
      () => {
        this.#unsynced += data.length;
        if (this.#unsynced < EARLY_SYNC_BYTES) return;
        this.#unsynced = 0;
        this.#syncing = this.#syncing.then(() => file.syncData());
        this.#syncing.catch(() => {});
      },
    );
    // A failed write is thrown by the next flush or drain; until then it is not unhandled.
    this.#writing.catch(() => {});
  }

  /** Waits for the last flush and the early syncs. */
  async drain(): Promise<void> {
    await this.#writing;
    await this.#syncing;
  }

  /**
   * Writes out the rest of the records and the whole hint, fsyncs the hint,
   * closes both files and gives the buffers back for the next output (this
   * merge's or a later one's). What is left is {@link Output.seal}.
   */
  async complete(): Promise<void> {
    await this.flush();
    await this.#writing;
    await writeAll(this.#hintFile!, this.hint.finish());
    await this.drain();
    await this.#hintFile!.syncData();
    this.close();
    for (const b of [this.buf, this.#spare, ...this.hint.buffers]) giveBack(b);
    this.buf = this.#spare = new Uint8Array(0);
  }

  /** Closes the files if still open (after a failure, complete() has not). */
  close(): void {
    this.#data?.close();
    this.#hintFile?.close();
    this.#data = this.#hintFile = undefined;
  }
}

// An output's two buffers hold a flush (FLUSH_BYTES) and the segment that
// overflows it; its hint's two, the entries of a flush (an entry is never
// longer than its record).
const OUTPUT_BUFFER = 4 * 1024 * 1024;
const HINT_BUFFER = OUTPUT_BUFFER;

// An output is fdatasynced in the background each time this much more of it
// is written, so the disk writes while the merge works on the next segments
// rather than all at once in the final fsync, which is then short. Only the
// final fsync is what the merge's safety relies on (see the module doc).
const EARLY_SYNC_BYTES = 8 * 1024 * 1024;

// An output's buffer is written out once it holds this much: writes of whole
// segments, which are small for the sake of other calls' latency (see
// SEGMENT_BYTES), waited for each other's round trips.
const FLUSH_BYTES = 2 * 1024 * 1024;

// Outputs are written this much per write call. Deno often runs a file write
// on the JS thread, inside the call: a 2 MiB write measured up to 16 ms there
// (more while the system had many dirty pages), a 1 MiB one about 0.3 ms, and
// every call of the store waits it out. Each piece's completion is a turn of
// the event loop; 256 KiB pieces made a compaction of 1 MiB values slower
// (each piece is a round trip) without fewer slow calls beside it.
const WRITE_PIECE = 1024 * 1024;

async function writePieces(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length; at += WRITE_PIECE) {
    await writeAll(file, data.subarray(at, at + WRITE_PIECE));
  }
}

// Records are copied a segment of up to this much output at a time, gathered
// into the merge's wasm memory, where they are checked and sealed in bulk. The
// work is done in time slices (time_slice.ts), but some steps of a segment are
// not divided, and the smaller the segment the shorter they are: beside paced
// get/set calls, 512 KiB segments and 32 KiB checks gave p99 about 190 us
// against 280 us with 2 MiB and 128 KiB. Writing outputs in bigger pieces (see
// FLUSH_BYTES) kept compact_bench as fast as with 2 MiB segments.
const SEGMENT_BYTES = 512 * 1024;

// Bytes of records checked and sealed in one call, between pauses.
const CHECK_BYTES = 32 * 1024;

// A record larger than this is copied on its own, outside wasm memory, which
// never shrinks; a smaller one fills a segment alone when it outgrows one.
const ALONE_BYTES = 2 * 1024 * 1024;

// Live keys taken from the index between checks of the time slice.
const TAKE_KEYS = 1024;

/** The records a merge keeps, in key order, as the index had them. */
class LiveRecords {
  n = 0;
  // Grown by push: a JS array made at a million slots at once filled them in
  // one synchronous step of 3-8 ms, which a call arriving then waited out.
  keys: string[] = [];
  fileIds: Uint32Array;
  offsets: Float64Array;
  sizes: Uint32Array;

  // Typed arrays have room for `cap` records from the start: growing arrays of
  // a million records copies them, milliseconds that other calls would wait
  // out. They are spare buffers, whose pages an earlier merge touched already.
  constructor(cap: number) {
    cap = Math.max(cap, 16);
    this.fileIds = takeArray(Uint32Array, cap);
    this.offsets = takeArray(Float64Array, cap);
    this.sizes = takeArray(Uint32Array, cap);
  }

  /** Gives the arrays back; this is not used again. */
  release(): void {
    giveBackArrays(this.fileIds, this.offsets, this.sizes);
  }

  add(key: string, fileId: number, offset: number, size: number): number {
    let i = this.n;
    if (i === this.fileIds.length) this.#grow();
    this.keys.push(key);
    this.fileIds[i] = fileId;
    this.offsets[i] = offset;
    this.sizes[i] = size;
    return this.n = ++i;
  }

  // Only when the index grew past its size when the merge was planned.
  #grow(): void {
    const grow = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(a.length * 2);
      b.set(a);
      return b;
    };
    this.fileIds = grow(this.fileIds, (n) => new Uint32Array(n));
    this.offsets = grow(this.offsets, (n) => new Float64Array(n));
    this.sizes = grow(this.sizes, (n) => new Uint32Array(n));
  }
}

/** Live records picked for the next segment: their indexes in LiveRecords, and their fields. */
class Segment {
  ids: number[] = [];
  keys: string[] = [];
  fileIds: number[] = [];
  offsets: number[] = [];
  sizes: number[] = [];
  bytes = 0;

  add(live: LiveRecords, i: number): void {
    this.ids.push(i);
    this.keys.push(live.keys[i]);
    this.fileIds.push(live.fileIds[i]);
    this.offsets.push(live.offsets[i]);
    this.sizes.push(live.sizes[i]);
    this.bytes += live.sizes[i];
  }

  clear(): void {
    this.ids = [];
    this.keys = [];
    this.fileIds = [];
    this.offsets = [];
    this.sizes = [];
    this.bytes = 0;
  }
}

/** Takes the plan's live records from the index, in key order, pausing between slices. */
async function takeLive(plan: MergePlan, slicer: TimeSlicer): Promise<LiveRecords> {
  const live = new LiveRecords(plan.keysAtMost);
  let after: string | undefined, paused = true;
  while (paused) {
    paused = false;
    plan.live(after, (key, fileId, offset, size) => {
      const n = live.add(key, fileId, offset, size);
      after = key;
      if (n % TAKE_KEYS !== 0 || !slicer.due) return true;
      paused = true;
      return false;
    });
    if (paused) await slicer.yield();
    plan.checkAbort();
  }
  return live;
}

/**
 * The order records are copied in, as indexes into `live`. Key order when the
 * records lie in few enough blocks of the inputs that each block is read once
 * (see CACHED_BLOCKS): the outputs are then laid out for scans, and their hint
 * files load as ascending keys. Otherwise the inputs' order, file by file and
 * block by block, key order within a block, so that each input is read once,
 * front to back: in key order, a million records scattered over 465 MB took a
 * million lone reads and 1.8-2.5 s to compact, against 1.3 s this way.
 */
async function copyOrder(
  live: LiveRecords,
  inputs: Map<number, DataFile>,
  slicer: TimeSlicer,
): Promise<Uint32Array | undefined> {
  const ids = [...inputs.keys()].sort((a, b) => a - b);
  if (ids.length === 0) return undefined;
  // The first block's bucket of each input, indexed by id - ids[0].
  const first = new Float64Array(ids[ids.length - 1] - ids[0] + 1);
  let buckets = 0;
  for (const id of ids) {
    first[id - ids[0]] = buckets;
    buckets += Math.floor(inputs.get(id)!.size / BLOCK) + 1;
  }
  const { fileIds, offsets } = live;
  const { bucket, starts } = await bucketCounts(
    live.n,
    (i) => first[fileIds[i] - ids[0]] + Math.floor(offsets[i] / BLOCK),
    buckets,
    slicer,
  );
  let used = 0;
  for (let b = 0; b < buckets && used <= CACHED_BLOCKS; b++) if (starts[b + 1] > starts[b]) used++;
  // Only file order needs the records sorted.
  return used <= CACHED_BLOCKS ? undefined : await bucketOrder(bucket, starts, slicer);
}

/**
 * Copies the plan's live records into fsynced temporary files. They are taken
 * from the index in key order and copied in key order or in the inputs' order
 * (see copyOrder), a segment at a time (see copySegment), re-sealed under the
 * output's salt with their batch flags cleared. Outputs are written out while
 * the next segments are gathered. Returns the outputs and where each record
 * went.
 */
export async function writeMerged(plan: MergePlan): Promise<MergeResult> {
  const outs: Output[] = [];
  const seg = new Segment();
  // Made once the copy order is known.
  let gather!: Gatherer;
  const slicer = new TimeSlicer();
  let done = 0;
  const copy = async (o: Output) => {
    done += seg.bytes;
    await copySegment(plan, o, seg, gather, slicer);
    seg.clear();
    plan.checkAbort();
    if (o.used >= FLUSH_BYTES) await o.flush();
    plan.onProgress({ phase: "copy", bytesDone: done, bytesTotal: plan.bytesTotal });
    await slicer.pause();
  };
  let moves: MergeMoves | undefined;
  try {
    const live = await takeLive(plan, slicer);
    const n = live.n;
    moves = {
      keys: live.keys,
      fileIds: takeArray(Int32Array, n),
      offsets: takeArray(Float64Array, n),
    };
    // -1 (not copied) in slices: filling a million at once took 2-3 ms.
    for (let i = 0; i < n; i += TAKE_KEYS) {
      moves.fileIds.fill(-1, i, i + TAKE_KEYS);
      await slicer.pause();
    }
    // Even a merge that keeps nothing writes one (empty) output: its header is
    // what says the merged log files are gone on purpose, not missing.
    outs.push(openOutput(plan, plan.firstId, moves));
    // A segment ends where the next record would overflow it, or the output.
    const place = (i: number): "segment" | "output" | undefined => {
      const o = outs[outs.length - 1], size = live.sizes[i];
      if (
        o.size + seg.bytes + size > plan.maxFileSize && o.records + seg.ids.length > 0 &&
        o.id < plan.lastId
      ) return "output";
      if (seg.bytes > 0 && seg.bytes + size > SEGMENT_BYTES) return "segment";
      seg.add(live, i);
    };
    const order = await copyOrder(live, plan.inputs, slicer);
    // Key order comes back to blocks in any order, so it keeps them all.
    gather = new Gatherer(order ? FILE_ORDER_BLOCKS : CACHED_BLOCKS);
    for (let j = 0; j < n; j++) {
      const i = order ? order[j] : j;
      if (j % TAKE_KEYS === 0) await slicer.pause();
      for (let stop = place(i); stop !== undefined; stop = place(i)) {
        const o = outs[outs.length - 1];
        if (seg.bytes > 0) await copy(o);
        if (stop !== "output") continue;
        await o.complete();
        outs.push(openOutput(plan, o.id + 1, moves));
      }
    }
    if (seg.bytes > 0) await copy(outs[outs.length - 1]);
    await outs[outs.length - 1].complete();
    live.release();
    for (const o of outs) {
      await o.seal(outs.length);
      plan.onProgress({ phase: "sync", bytesDone: done, bytesTotal: plan.bytesTotal });
    }
  } catch (e) {
    // Its own temporary files only: a streamed value being received has one
    // with the same suffix, which cleanupMerge (for an open) would remove.
    for (const o of outs) {
      await o.drain().catch(() => {});
      o.close();
      for (const path of [o.path, o.hintPath]) await Deno.remove(path).catch(() => {});
    }
    throw e;
  }
  gather?.release();
  return {
    outputs: outs.map((o) => ({
      id: o.id,
      size: o.size,
      header: { ...o.header, parts: outs.length },
    })),
    moves,
  };
}

/**
 * Gathers the segment's records into wasm memory, where they are checked in
 * bulk, and keeps each whose key and size are the ones the index gave: runs of
 * records of this format are re-sealed in bulk and appended with one copy, a
 * record of format 1 is encoded afresh. A record that fails is reported and
 * dropped alone.
 */
async function copySegment(
  plan: MergePlan,
  o: Output,
  seg: Segment,
  gather: Gatherer,
  slicer: TimeSlicer,
): Promise<void> {
  const n = seg.keys.length;
  if (seg.bytes > ALONE_BYTES) return copyAlone(plan, o, seg);
  let keyBytes = 0;
  for (const k of seg.keys) keyBytes += k.length;
  const batch = gather.codec.batch(seg.bytes, n, keyBytes);
  const at = new Uint32Array(n + 1);
  const byFile = new Map<number, number[]>();
  // Each record's format, looked up once per run of records from one file.
  const fmts: RecordFormat[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const fmt = fmts[i] = i > 0 && seg.fileIds[i] === seg.fileIds[i - 1]
      ? fmts[i - 1]
      : plan.inputs.get(seg.fileIds[i])!.fmt;
    batch.place(i, at[i], seg.sizes[i], fmt, seg.keys[i].length);
    at[i + 1] = at[i] + seg.sizes[i];
    const list = byFile.get(seg.fileIds[i]);
    if (list) list.push(i);
    else byFile.set(seg.fileIds[i], [i]);
  }
  const buf = batch.records;
  for (const [id, which] of byFile) {
    await gather.read(plan.inputs.get(id)!, which, seg.offsets, seg.sizes, batch, at, slicer);
  }
  const hs = o.fmt.headerSize, h = emptyHeader();
  for (let next = 0; next < n;) {
    // Checked and sealed a slice of CHECK_BYTES at a time, pausing between.
    let end = next + 1;
    while (end < n && at[end + 1] - at[next] <= CHECK_BYTES) end++;
    let bad = batch.check(next, end);
    for (let i = next; i < bad; i++) {
      if (!keyEquals(buf, at[i] + fmts[i].headerSize, seg.keys[i])) {
        bad = i;
        break;
      }
    }
    // Runs of records with this file's header size, split at any of format 1.
    for (let i = next; i < bad;) {
      const fmt = fmts[i];
      if (fmt.headerSize !== hs) {
        readHeader(fmt, buf, at[i], h);
        o.keep(seg.ids[i], h, buf.subarray(at[i], at[i + 1]), fmt);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < bad && fmts[j].headerSize === hs) j++;
      o.keepRun(batch, seg, at, i, j, at[j]);
      i = j;
    }
    if (bad < end) {
      plan.onDamage(plan.inputs.get(seg.fileIds[bad])!.path, seg.offsets[bad], seg.sizes[bad]);
      next = bad + 1;
    } else next = end;
    await slicer.pause();
  }
}

// The segment of one record too large for wasm memory, checked and encoded on its own.
function copyAlone(plan: MergePlan, o: Output, seg: Segment): void {
  const file = plan.inputs.get(seg.fileIds[0])!, fmt = file.fmt;
  const rec = new Uint8Array(seg.sizes[0]);
  file.read(seg.offsets[0], rec);
  const h = emptyHeader(), key = seg.keys[0];
  if (
    readHeader(fmt, rec, 0, h) && recordSize(fmt, h.keyLen, h.valueLen) === rec.length &&
    h.keyLen === key.length && keyEquals(rec, fmt.headerSize, key) && verifyRecord(fmt, rec, 0, h)
  ) o.keep(seg.ids[0], h, rec, fmt);
  else plan.onDamage(file.path, seg.offsets[0], seg.sizes[0]);
}

function openOutput(plan: MergePlan, id: number, moves: MergeMoves): Output {
  const path = dataPath(plan.dir, id) + TEMP;
  return new Output(plan, id, path, hintPath(plan.dir, id) + TEMP, moves);
}

/** Renames the outputs into place (data files first, so a hint never lacks its data) and makes that durable. */
export async function installMerged(
  dir: string,
  outputs: MergeOutput[],
  progress: () => void,
): Promise<void> {
  const paths = [
    ...outputs.map((o) => dataPath(dir, o.id)),
    ...outputs.map((o) => hintPath(dir, o.id)),
  ];
  try {
    // One directory sync for both: a hint whose rename lasts without its data
    // file's is an orphan, which cleanupMerge removes on the next open.
    for (const path of paths) {
      await Deno.rename(path + TEMP, path);
      progress();
    }
    await syncDir(dir);
  } catch (e) {
    // The store goes on with the inputs, which hold the same records: outputs
    // left in place, which it does not know, would be taken for stale copies
    // once a later compaction merged past them (warnings at every open).
    for (const path of paths) {
      await Deno.remove(path).catch(() => {});
      await Deno.remove(path + TEMP).catch(() => {});
    }
    await syncDir(dir).catch(() => {});
    throw e;
  }
}

/** Removes the inputs oldest first, each removal durable before the next (see the module doc). */
export async function removeInputs(
  dir: string,
  inputs: DataFile[],
  progress: () => void,
): Promise<void> {
  for (const f of inputs) {
    await Deno.remove(hintPath(dir, f.id)).catch(ignoreNotFound);
    await Deno.remove(f.path).catch(ignoreNotFound);
    await syncDir(dir);
    progress();
  }
}

/**
 * On open: removes what an interrupted merge left (temporary outputs, and hints
 * whose data file is gone). Inputs and installed outputs both stay: together
 * they hold the same data (see the module doc).
 */
export async function cleanupMerge(dir: string): Promise<void> {
  const names = new Set<string>();
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.add(e.name);
  let removed = false;
  for (const name of names) {
    const orphanHint = /^hint\.\d+$/.test(name) && !names.has("data" + name.slice(4));
    if (name.endsWith(TEMP) || orphanHint) {
      await Deno.remove(`${dir}/${name}`).catch(ignoreNotFound);
      removed = true;
    }
  }
  if (removed) await syncDir(dir);
}

function ignoreNotFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}
