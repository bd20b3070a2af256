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

import { readHeader, type RecordHeader, verifyRecord } from "./codec.ts";
import { type DataFile, fileHeader } from "./datafile.ts";
import { FILE_FLAG_COMPACTED, FILE_HEADER_SIZE, HEADER_SIZE, KIND_DATA } from "./format.ts";
import { dataPath, hintPath, syncDir, writeAll } from "./fsutil.ts";
import { HintWriter } from "./hint.ts";
import { keyEquals } from "./keys.ts";

/**
 * Where a compaction is; reported through `onProgress`.
 *
 * @example
 * ```ts
 * import { type CompactProgress, open } from "@cask/cask";
 * await using db = await open("./data");
 * const show = (p: CompactProgress) =>
 *   console.log(`${p.phase} ${Math.round((100 * p.bytesDone) / (p.bytesTotal || 1))}%`);
 * await db.compact({ onProgress: show });
 * ```
 */
export interface CompactProgress {
  /** "copy": live records are being copied; "sync": new files are fsynced;
   * "install": new files are renamed into place; "cleanup": old files are removed. */
  phase: "copy" | "sync" | "install" | "cleanup";
  /** Input bytes processed so far. */
  bytesDone: number;
  /** Input bytes in all. */
  bytesTotal: number;
}

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
  used = 0;
  hint = new HintWriter();
  keys: string[] = [];
  offsets: number[] = [];
  constructor(readonly id: number, readonly data: Deno.FsFile, readonly hintFile: Deno.FsFile) {
    this.push(fileHeader(KIND_DATA, FILE_FLAG_COMPACTED));
  }

  push(bytes: Uint8Array): void {
    this.room(bytes.length).set(bytes);
    this.used += bytes.length;
    this.size += bytes.length;
  }

  /** A view of the next `n` bytes of the buffer (growing it), to be filled and then kept by `keep`. */
  room(n: number): Uint8Array {
    if (this.used + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.used + n));
      bigger.set(this.buf.subarray(0, this.used));
      this.buf = bigger;
    }
    return this.buf.subarray(this.used, this.used + n);
  }

  /** Keeps the record just read into `room(n)` for `key`, with its validated header. */
  keep(key: string, h: RecordHeader, n: number): void {
    const at = this.used;
    this.hint.add(this.buf.subarray(at + HEADER_SIZE, at + HEADER_SIZE + h.keyLen), h, this.size);
    this.keys.push(key);
    this.offsets.push(this.size);
    this.used += n;
    this.size += n;
  }

  async flush(): Promise<void> {
    await writeAll(this.data, this.buf.subarray(0, this.used));
    this.used = 0;
    await writeAll(this.hintFile, this.hint.take());
  }
}

// Output is written out in pieces of about this size.
const FLUSH_BYTES = 4 * 1024 * 1024;

/**
 * Copies the plan's live records, in key order, into fsynced temporary files.
 * Key order makes the hint files sorted, so an open loads them as ascending
 * inserts, and it lays each output out in scan order. Each record is read
 * straight into the output buffer and verified there; its bytes are kept as they
 * are (batch flags inside are void by the output's COMPACTED file flag).
 */
export async function writeMerged(plan: MergePlan): Promise<MergeOutput[]> {
  const outs: Output[] = [];
  const h: RecordHeader = { flags: 0, keyLen: 0, valueLen: 0, timestamp: 0, expireAt: 0 };
  let done = 0;
  try {
    for (const [key, e] of plan.live) {
      let o = outs[outs.length - 1];
      if (
        !o ||
        (o.size + e.size > plan.maxFileSize && o.size > FILE_HEADER_SIZE && o.id < plan.lastId)
      ) {
        o = openOutput(plan.dir, o ? o.id + 1 : plan.firstId);
        outs.push(o);
      }
      const input = plan.inputs.get(e.fileId)!;
      const rec = o.room(e.size);
      input.read(e.offset, rec);
      if (readHeader(rec, 0, h) && keyEquals(rec, HEADER_SIZE, key) && verifyRecord(rec, 0, h)) {
        o.keep(key, h, e.size);
      } else plan.onDamage(input.path, e.offset, e.size);
      done += e.size;
      if (o.used >= FLUSH_BYTES) {
        plan.checkAbort();
        await o.flush();
        plan.onProgress({ phase: "copy", bytesDone: done, bytesTotal: plan.bytesTotal });
      }
    }
    for (const o of outs) {
      await o.flush();
      await writeAll(o.hintFile, o.hint.finish());
      await o.data.syncData();
      await o.hintFile.syncData();
      plan.onProgress({ phase: "sync", bytesDone: done, bytesTotal: plan.bytesTotal });
    }
  } catch (e) {
    for (const o of outs) closeOutput(o);
    await cleanupMerge(plan.dir);
    throw e;
  }
  for (const o of outs) closeOutput(o);
  return outs.map((o) => ({ id: o.id, size: o.size, keys: o.keys, offsets: o.offsets }));
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
