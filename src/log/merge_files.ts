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
import { dataPath, hintPath, syncDir, writeAll } from "./fsutil.ts";
import { Gatherer } from "./gather.ts";
import { TimeSlicer } from "./time_slice.ts";
import { HintWriter } from "./hint.ts";
import { keyEquals } from "../base/keys.ts";
import type { CompactProgress } from "../base/types.ts";

/** What a compaction is asked to do. */
export interface MergePlan {
  dir: string;
  /**
   * The records to keep, in key order: calls `take` with every live key after
   * `after` (from the first when undefined) whose current record is in an input
   * file, until `take` returns false. Called again after each segment, from
   * the last key taken, so the store may change in between.
   */
  live(
    after: string | undefined,
    take: (key: string, fileId: number, offset: number, size: number) => boolean,
  ): void;
  /** Input data files by id: immutable, fully written and fsynced. */
  inputs: Map<number, DataFile>;
  /** Bytes to copy, for progress. */
  bytesTotal: number;
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

/** A data file written by a merge, with the key and offset of every record in it. */
export interface MergeOutput {
  id: number;
  size: number;
  header: FileHeader;
  keys: string[];
  offsets: number[];
}

const TEMP = ".merging";

class Output {
  size = 0;
  buf = new Uint8Array(4 * 1024 * 1024);
  #spare = new Uint8Array(4 * 1024 * 1024);
  #writing: Promise<void> = Promise.resolve();
  // Data bytes written since the last early sync was started, and that sync.
  #unsynced = 0;
  #syncing: Promise<void> = Promise.resolve();
  used = 0;
  readonly header: FileHeader;
  readonly fmt: RecordFormat;
  readonly hint: HintWriter;
  keys: string[] = [];
  offsets: number[] = [];
  constructor(
    plan: MergePlan,
    readonly id: number,
    readonly data: Deno.FsFile,
    readonly hintFile: Deno.FsFile,
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
    this.hint = new HintWriter(this.header);
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

  /**
   * Appends record `rec` of format `from`, whose header `h` was validated, as the
   * record of `key`, sealed for this file: under its salt, and no longer a batch
   * member (every record of a merge output is committed).
   */
  keep(key: string, h: RecordHeader, rec: Uint8Array, from: RecordFormat): void {
    const hs = from.headerSize;
    const keyBytes = rec.subarray(hs, hs + h.keyLen);
    h.flags &= ~FLAG_BATCH;
    this.hint.add(keyBytes, h, this.size);
    this.keys.push(key);
    this.offsets.push(this.size);
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
   * Appends the checked records [from, to) of `batch`, which lie back to back
   * at [at[from], end) and share this file's header size, re-sealed in bulk.
   */
  keepRun(
    batch: SealBatch,
    keys: string[],
    at: Uint32Array,
    from: number,
    to: number,
    end: number,
  ): void {
    const base = this.size - at[from];
    this.hint.addEntries(batch.seal(from, to, this.fmt, FLAG_BATCH, this.size), to - from);
    for (let i = from; i < to; i++) {
      this.keys.push(keys[i]);
      this.offsets.push(base + at[i]);
    }
    this.push(batch.records.subarray(at[from], end));
  }

  /** Writes the header again, now that the merge knows how many outputs it has. */
  async seal(parts: number): Promise<void> {
    await this.data.seek(0, Deno.SeekMode.Start);
    await writeAll(this.data, encodeFileHeader({ ...this.header, parts }));
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
    this.#writing = writePieces(this.data, data).then(() => writeAll(this.hintFile, hint)).then(
      () => {
        this.#unsynced += data.length;
        if (this.#unsynced < EARLY_SYNC_BYTES) return;
        this.#unsynced = 0;
        this.#syncing = this.#syncing.then(() => this.data.syncData());
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
}

// An output is fdatasynced in the background each time this much more of it
// is written, so the disk writes while the merge works on the next segments
// rather than all at once in the final fsync, which is then short. Only the
// final fsync is what the merge's safety relies on (see the module doc).
const EARLY_SYNC_BYTES = 8 * 1024 * 1024;

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

// Records are copied a segment of up to this much output at a time: the bigger
// a segment, the denser its records lie in the inputs and the fewer reads
// gather them (see gather.ts), and the fewer calls check and seal them; a
// segment lives in the merge's wasm memory. Its work is done in time slices
// (time_slice.ts), so its size no longer bounds how long other calls wait.
const SEGMENT_BYTES = 2 * 1024 * 1024;

// Bytes of records checked and sealed in one call, between pauses.
const CHECK_BYTES = 128 * 1024;

/** Live records picked for the next segment, in key order. */
class Segment {
  keys: string[] = [];
  fileIds: number[] = [];
  offsets: number[] = [];
  sizes: number[] = [];
  bytes = 0;

  add(key: string, fileId: number, offset: number, size: number): void {
    this.keys.push(key);
    this.fileIds.push(fileId);
    this.offsets.push(offset);
    this.sizes.push(size);
    this.bytes += size;
  }

  clear(): void {
    this.keys = [];
    this.fileIds = [];
    this.offsets = [];
    this.sizes = [];
    this.bytes = 0;
  }
}

/**
 * Copies the plan's live records, in key order, into fsynced temporary files.
 * Key order makes the hint files sorted, so an open loads them as ascending
 * inserts, and it lays each output out in scan order. Records are gathered and
 * verified a segment at a time (see copySegment) and re-sealed under the
 * output's salt with their batch flags cleared. Each segment is written out
 * while the next one is gathered.
 */
export async function writeMerged(plan: MergePlan): Promise<MergeOutput[]> {
  const outs: Output[] = [];
  const seg = new Segment();
  const gather = new Gatherer();
  const slicer = new TimeSlicer();
  let done = 0;
  const copy = async (o: Output) => {
    done += seg.bytes;
    await copySegment(plan, o, seg, gather, slicer);
    seg.clear();
    plan.checkAbort();
    await o.flush();
    plan.onProgress({ phase: "copy", bytesDone: done, bytesTotal: plan.bytesTotal });
  };
  try {
    // Even a merge that keeps nothing writes one (empty) output: its header is
    // what says the merged log files are gone on purpose, not missing.
    outs.push(openOutput(plan, plan.firstId));
    // A segment ends where the next record would overflow it, or the output.
    let after: string | undefined, stop: "segment" | "output" | undefined;
    const take = (key: string, fileId: number, offset: number, size: number) => {
      const o = outs[outs.length - 1];
      if (
        o.size + seg.bytes + size > plan.maxFileSize && o.keys.length + seg.keys.length > 0 &&
        o.id < plan.lastId
      ) stop = "output";
      else if (seg.bytes > 0 && seg.bytes + size > SEGMENT_BYTES) stop = "segment";
      else {
        seg.add(key, fileId, offset, size);
        after = key;
      }
      return stop === undefined;
    };
    for (;;) {
      stop = undefined;
      plan.live(after, take);
      if (stop === undefined) break;
      const o = outs[outs.length - 1];
      if (seg.bytes > 0) await copy(o);
      if (stop === "output") outs.push(openOutput(plan, o.id + 1));
    }
    if (seg.bytes > 0) await copy(outs[outs.length - 1]);
    for (const o of outs) {
      await o.drain();
      await writeAll(o.hintFile, o.hint.finish());
      await o.seal(outs.length);
      await o.data.syncData();
      await o.hintFile.syncData();
      plan.onProgress({ phase: "sync", bytesDone: done, bytesTotal: plan.bytesTotal });
    }
  } catch (e) {
    for (const o of outs) {
      await o.drain().catch(() => {});
      closeOutput(o);
    }
    await cleanupMerge(plan.dir);
    throw e;
  } finally {
    slicer.close();
  }
  for (const o of outs) closeOutput(o);
  return outs.map((o) => ({
    id: o.id,
    size: o.size,
    header: { ...o.header, parts: outs.length },
    keys: o.keys,
    offsets: o.offsets,
  }));
}

/**
 * Gathers the segment's records in key order into wasm memory, where they are
 * checked in bulk, and keeps each whose key and size are the ones the index
 * gave: runs of records of this format are re-sealed in bulk and appended with
 * one copy, a record of format 1 is encoded afresh. A record that fails is
 * reported and dropped alone.
 */
async function copySegment(
  plan: MergePlan,
  o: Output,
  seg: Segment,
  gather: Gatherer,
  slicer: TimeSlicer,
): Promise<void> {
  const n = seg.keys.length;
  // Only a segment of one large record outgrows SEGMENT_BYTES; it stays out of
  // wasm memory, which never shrinks.
  if (seg.bytes > SEGMENT_BYTES) return copyAlone(plan, o, seg);
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
        o.keep(seg.keys[i], h, buf.subarray(at[i], at[i + 1]), fmt);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < bad && fmts[j].headerSize === hs) j++;
      o.keepRun(batch, seg.keys, at, i, j, at[j]);
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
  ) o.keep(key, h, rec, fmt);
  else plan.onDamage(file.path, seg.offsets[0], seg.sizes[0]);
}

function openOutput(plan: MergePlan, id: number): Output {
  const opts = { write: true, create: true, truncate: true };
  const data = Deno.openSync(dataPath(plan.dir, id) + TEMP, opts);
  try {
    return new Output(plan, id, data, Deno.openSync(hintPath(plan.dir, id) + TEMP, opts));
  } catch (e) {
    data.close();
    throw e;
  }
}

function closeOutput(o: Output): void {
  try {
    o.data.close();
    o.hintFile.close();
  } catch {
    // Already closed.
  }
}

/** Renames the outputs into place (data files first, so a hint never lacks its data) and makes that durable. */
export async function installMerged(
  dir: string,
  outputs: MergeOutput[],
  progress: () => void,
): Promise<void> {
  for (const o of outputs) {
    await Deno.rename(dataPath(dir, o.id) + TEMP, dataPath(dir, o.id));
    progress();
  }
  // One directory sync for both: a hint whose rename lasts without its data
  // file's is an orphan, which cleanupMerge removes on the next open.
  for (const o of outputs) {
    await Deno.rename(hintPath(dir, o.id) + TEMP, hintPath(dir, o.id));
    progress();
  }
  await syncDir(dir);
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
