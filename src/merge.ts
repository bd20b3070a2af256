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

import { closeSync, openSync } from "node:fs";
import { type RecordHeader, recordSize } from "./codec.ts";
import { type DataFile, fileHeader } from "./datafile.ts";
import {
  FILE_FLAG_COMPACTED,
  FILE_HEADER_SIZE,
  FLAG_COMMIT,
  FLAG_TOMBSTONE,
  HEADER_SIZE,
  KIND_DATA,
} from "./format.ts";
import { dataPath, hintPath, syncDir, writeAll } from "./fsutil.ts";
import { HintWriter } from "./hint.ts";
import { bytesToKey } from "./keys.ts";
import { walkLog } from "./logscan.ts";

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
  /** Immutable data files, ascending id, fully written and fsynced. */
  inputs: DataFile[];
  /** Ids reserved for the output files: firstId..lastId. */
  firstId: number;
  lastId: number;
  maxFileSize: number;
  /** Whether the index still points at this record (and it has not expired). */
  isLive(key: string, fileId: number, offset: number): boolean;
  /** Called with damage found in an input (its records there are lost already). */
  onDamage(file: string, offset: number, bytes: number): void;
  /** Throws to abort between chunks (the store is closing). */
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
    if (this.used + bytes.length > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.used + bytes.length));
      bigger.set(this.buf.subarray(0, this.used));
      this.buf = bigger;
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
    this.size += bytes.length;
  }

  async flush(): Promise<void> {
    await writeAll(this.data, this.buf.subarray(0, this.used));
    this.used = 0;
    await writeAll(this.hintFile, this.hint.take());
  }
}

/** Writes the live records of the plan's inputs into fsynced temporary files. */
export async function writeMerged(plan: MergePlan): Promise<MergeOutput[]> {
  const outs: Output[] = [];
  const bytesTotal = plan.inputs.reduce((n, f) => n + f.size, 0);
  let before = 0;
  try {
    for (const input of plan.inputs) {
      const fd = openSync(input.path, "r");
      try {
        await walkLog(
          fd,
          input.size,
          (offset, h, buf, at) => copyIfLive(input, offset, h, buf, at),
          (offset, next) => {
            plan.onDamage(input.path, offset, (next < 0 ? input.size : next) - offset);
            return true;
          },
          async (pos) => {
            plan.checkAbort();
            for (const o of outs) if (o.used > 0) await o.flush();
            plan.onProgress({ phase: "copy", bytesDone: before + pos, bytesTotal });
          },
        );
      } finally {
        closeSync(fd);
      }
      before += input.size;
    }
    for (const o of outs) {
      await o.flush();
      await writeAll(o.hintFile, o.hint.finish());
      await o.data.syncData();
      await o.hintFile.syncData();
      plan.onProgress({ phase: "sync", bytesDone: bytesTotal, bytesTotal });
    }
  } catch (e) {
    for (const o of outs) closeOutput(o);
    await cleanupMerge(plan.dir);
    throw e;
  }
  for (const o of outs) closeOutput(o);
  return outs.map((o) => ({ id: o.id, size: o.size, keys: o.keys, offsets: o.offsets }));

  // A visit: copies the record when it is the live one for its key. The bytes
  // were verified by the scanner and are copied unchanged; batch flags inside
  // are void by the output's COMPACTED file flag.
  function copyIfLive(
    input: DataFile,
    offset: number,
    h: RecordHeader,
    buf: Uint8Array,
    at: number,
  ): void {
    if (h.flags & (FLAG_TOMBSTONE | FLAG_COMMIT)) return;
    const kb = buf.subarray(at + HEADER_SIZE, at + HEADER_SIZE + h.keyLen);
    const key = bytesToKey(kb);
    if (!plan.isLive(key, input.id, offset)) return;
    const n = recordSize(h.keyLen, h.valueLen);
    let o = outs[outs.length - 1];
    if (!o || (o.size + n > plan.maxFileSize && o.size > FILE_HEADER_SIZE && o.id < plan.lastId)) {
      o = openOutput(plan.dir, o ? o.id + 1 : plan.firstId);
      outs.push(o);
    }
    o.hint.add(kb, h, o.size);
    o.keys.push(key);
    o.offsets.push(o.size);
    o.push(buf.subarray(at, at + n));
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
