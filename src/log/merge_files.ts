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
  readHeader,
  type RecordHeader,
  recordSize,
  scanRecords,
  scratch,
  verifyRecord,
} from "../codec/codec.ts";
import { type DataFile, fileHeader } from "./datafile.ts";
import { FILE_FLAG_COMPACTED, FILE_HEADER_SIZE, HEADER_SIZE, KIND_DATA } from "../codec/format.ts";
import { dataPath, hintPath, syncDir, writeAll } from "./fsutil.ts";
import { Gatherer } from "./gather.ts";
import { HintWriter } from "./hint.ts";
import { keyEquals } from "../base/keys.ts";
import type { CompactProgress } from "../base/types.ts";

/** What a compaction is asked to do. */
export interface MergePlan {
  dir: string;
  /**
   * The records to keep, in key order: every live key whose current record is in
   * an input file. Iterated while the store runs, so it must tolerate changes.
   */
  live: Iterable<[string, { fileId: number; offset: number; size: number }]>;
  /** Input data files by id: immutable, fully written and fsynced. */
  inputs: Map<number, DataFile>;
  /** Bytes to copy, for progress. */
  bytesTotal: number;
  /** Ids reserved for the output files: firstId..lastId. */
  firstId: number;
  lastId: number;
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
  keys: string[];
  offsets: number[];
}

const TEMP = ".merging";

class Output {
  size = 0;
  buf = new Uint8Array(4 * 1024 * 1024);
  #spare = new Uint8Array(4 * 1024 * 1024);
  #writing: Promise<void> = Promise.resolve();
  used = 0;
  hint = new HintWriter();
  keys: string[] = [];
  offsets: number[] = [];
  constructor(readonly id: number, readonly data: Deno.FsFile, readonly hintFile: Deno.FsFile) {
    this.push(fileHeader(KIND_DATA, FILE_FLAG_COMPACTED));
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

  /** Appends record `rec`, whose header `h` was validated, as the record of `key`. */
  keep(key: string, h: RecordHeader, rec: Uint8Array): void {
    this.hint.add(rec.subarray(HEADER_SIZE, HEADER_SIZE + h.keyLen), h, this.size);
    this.keys.push(key);
    this.offsets.push(this.size);
    this.push(rec);
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
    this.#writing = writeAll(this.data, data).then(() => writeAll(this.hintFile, hint));
    // A failed write is thrown by the next flush or drain; until then it is not unhandled.
    this.#writing.catch(() => {});
  }

  /** Waits for the last flush. */
  drain(): Promise<void> {
    return this.#writing;
  }
}

// Records are copied a segment of up to this much output at a time: the bigger
// a segment, the denser its records lie in the inputs and the fewer reads
// gather them (see gather.ts), but a segment lives in wasm memory.
const SEGMENT_BYTES = 8 * 1024 * 1024;

/** Live records picked for the next segment, in key order. */
class Segment {
  keys: string[] = [];
  fileIds: number[] = [];
  offsets: number[] = [];
  sizes: number[] = [];
  bytes = 0;

  add(key: string, e: { fileId: number; offset: number; size: number }): void {
    this.keys.push(key);
    this.fileIds.push(e.fileId);
    this.offsets.push(e.offset);
    this.sizes.push(e.size);
    this.bytes += e.size;
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
 * verified a segment at a time (see copySegment); their bytes are kept as they
 * are (batch flags inside are void by the output's COMPACTED file flag). Each
 * segment is written out while the next one is gathered.
 */
export async function writeMerged(plan: MergePlan): Promise<MergeOutput[]> {
  const outs: Output[] = [];
  const seg = new Segment();
  const gather = new Gatherer();
  let done = 0;
  const copy = async (o: Output) => {
    done += seg.bytes;
    copySegment(plan, o, seg, gather);
    seg.clear();
    plan.checkAbort();
    await o.flush();
    plan.onProgress({ phase: "copy", bytesDone: done, bytesTotal: plan.bytesTotal });
  };
  try {
    for (const [key, e] of plan.live) {
      let o = outs[outs.length - 1];
      const size = o ? o.size + seg.bytes : 0;
      if (
        !o || (size + e.size > plan.maxFileSize && size > FILE_HEADER_SIZE && o.id < plan.lastId)
      ) {
        if (o) await copy(o);
        o = openOutput(plan.dir, o ? o.id + 1 : plan.firstId);
        outs.push(o);
      } else if (seg.bytes > 0 && seg.bytes + e.size > SEGMENT_BYTES) await copy(o);
      seg.add(key, e);
    }
    if (seg.bytes > 0) await copy(outs[outs.length - 1]);
    for (const o of outs) {
      await o.drain();
      await writeAll(o.hintFile, o.hint.finish());
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
  }
  for (const o of outs) closeOutput(o);
  return outs.map((o) => ({ id: o.id, size: o.size, keys: o.keys, offsets: o.offsets }));
}

/**
 * Gathers the segment's records in key order into wasm memory, where one bulk
 * scan verifies them all, and keeps each whose key and place are the ones the
 * index gave. From the first record that fails, the rest are checked one by
 * one, so a damaged record is reported and dropped alone.
 */
function copySegment(plan: MergePlan, o: Output, seg: Segment, gather: Gatherer): void {
  const n = seg.keys.length;
  const at = new Uint32Array(n);
  const byFile = new Map<number, number[]>();
  for (let i = 0, pos = 0; i < n; pos += seg.sizes[i++]) {
    at[i] = pos;
    const list = byFile.get(seg.fileIds[i]);
    if (list) list.push(i);
    else byFile.set(seg.fileIds[i], [i]);
  }
  // Only a segment of one large record outgrows SEGMENT_BYTES; it stays out of
  // wasm memory, which never shrinks.
  const buf = seg.bytes <= SEGMENT_BYTES
    ? scratch(seg.bytes).subarray(0, seg.bytes)
    : new Uint8Array(seg.bytes);
  for (const [id, which] of byFile) {
    gather.read(plan.inputs.get(id)!, which, seg.offsets, seg.sizes, buf, at);
  }
  const matches = (i: number, h: RecordHeader) =>
    recordSize(h.keyLen, h.valueLen) === seg.sizes[i] &&
    keyEquals(buf, at[i] + HEADER_SIZE, seg.keys[i]);
  let next = 0, broken = false;
  scanRecords(buf, 0, (pos, h) => {
    broken ||= pos !== at[next] || !matches(next, h);
    if (broken) return;
    o.keep(seg.keys[next], h, buf.subarray(pos, pos + seg.sizes[next]));
    next++;
  });
  const h: RecordHeader = { flags: 0, keyLen: 0, valueLen: 0, timestamp: 0, expireAt: 0 };
  for (let i = next; i < n; i++) {
    const rec = buf.subarray(at[i], at[i] + seg.sizes[i]);
    if (readHeader(rec, 0, h) && matches(i, h) && verifyRecord(rec, 0, h)) {
      o.keep(seg.keys[i], h, rec);
    } else plan.onDamage(plan.inputs.get(seg.fileIds[i])!.path, seg.offsets[i], seg.sizes[i]);
  }
}

function openOutput(dir: string, id: number): Output {
  const opts = { write: true, create: true, truncate: true };
  const data = Deno.openSync(dataPath(dir, id) + TEMP, opts);
  try {
    return new Output(id, data, Deno.openSync(hintPath(dir, id) + TEMP, opts));
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
  await syncDir(dir);
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
