/**
 * Runs a compaction of a live store: seals the active file, merges every older
 * file (merge_files.ts does the file work and explains why each step is
 * crash-safe), then moves the index over to the merged files and drops the old
 * ones.
 * @module
 */

import type {
  AutoCompact,
  CompactProgress,
  CompactResult,
  RecoveryWarning,
  Stats,
} from "../base/types.ts";
import { DataFile } from "../log/datafile.ts";
import {
  installMerged,
  type MergePlan,
  releaseMoves,
  removeInputs,
  writeMerged,
} from "../log/merge_files.ts";
import { TimeSlicer } from "../log/time_slice.ts";
import type { Writer } from "../log/writer.ts";
import type { Entry, KeyDir } from "./keydir.ts";

// Keys moved to the outputs between checks of the time slice: a move of 4096
// keys overran a 0.1 ms slice up to 2 ms (241 times in one compaction of 1M
// keys), of 1024 keys 6 times.
const MOVE_KEYS = 1024;

/** What a compaction works on: the catalog's parts it reads and the changes it makes. */
export interface CompactionContext {
  dir: string;
  storeId: string;
  writer: Writer;
  /** Data files by id; outputs are added here. */
  files: Map<number, DataFile>;
  clock: () => number;
  maxFileSize: number;
  onWarning: (w: RecoveryWarning) => void;
  liveBytes(id: number): number;
  /** The sequence number of the last commit applied to the index. */
  applied(): number;
  /** Keys in the index. */
  keyCount(): number;
  /** Every index entry in key order; tolerates changes while iterated. */
  entries(): Iterable<[string, Entry]>;
  /** The index's keys after a key, in order, with their entries' fields; see KeyDir.walk. */
  walk: KeyDir["walk"];
  remove(k: string): void;
  /** Whether expired `k` must stay in the index (a range delete in flight reports it). */
  heldByRange(k: string): boolean;
  /**
   * Points each of `keys` (ascending) still served by a file in `from` at its
   * copy: offset `offsets[i]` of file `fileIds[i]` (none when negative), larger
   * than the record by `from`'s bytes for its file.
   */
  moveAll(
    keys: readonly string[],
    fileIds: ArrayLike<number>,
    offsets: ArrayLike<number>,
    from: ReadonlyMap<number, number>,
  ): void;
  /** Forgets and closes `files`. */
  dropFiles(files: DataFile[]): void;
  /** Throws once the store is closing, which aborts the compaction between chunks. */
  checkOpen: () => void;
}

/** Compacts every data file but the one the writer starts now. */
export async function runCompaction(
  ctx: CompactionContext,
  onProgress: (p: CompactProgress) => void,
): Promise<CompactResult> {
  const { writer } = ctx;
  const t0 = performance.now();
  // A live streamed value stays in its own file: copying it would hold it in memory.
  // So does one not applied yet (its commit waits for its fsync), which counts no
  // live bytes until then.
  const files = [...ctx.files.values()].sort((a, b) => a.id - b.id);
  const kept = (f: DataFile) =>
    f.blob && (ctx.liveBytes(f.id) > 0 || f.header!.baseSeq >= ctx.applied());
  const firstId = writer.nextId;
  // Outputs never outnumber inputs by more than one; the last output grows past
  // maxFileSize rather than run out of ids.
  const lastId = firstId + files.filter((f) => !kept(f)).length;
  const throughId = writer.active.id, throughSeq = writer.seq;
  writer.seal(lastId - firstId + 1);
  await writer.sync();
  // Chosen after the sync: a delete or overwrite of a streamed value that was
  // waiting for it is applied now, and the value's file, dead, must go with the
  // record that killed it (in an input), or a reopen would bring the value back.
  const inputs = files.filter((f) => !kept(f));
  const inputIds = new Set(inputs.map((f) => f.id));
  const bytesIn = inputs.reduce((n, f) => n + f.size, 0);
  const bytesLive = inputs.reduce((n, f) => n + ctx.liveBytes(f.id), 0);
  let damaged = false;
  const { outputs, moves } = await writeMerged({
    dir: ctx.dir,
    live: liveIn(ctx, inputIds),
    inputs: new Map(inputs.map((f) => [f.id, f])),
    bytesTotal: bytesLive,
    keysAtMost: ctx.keyCount(),
    firstId,
    lastId,
    storeId: ctx.storeId,
    throughId,
    throughSeq,
    maxFileSize: ctx.maxFileSize,
    onDamage: (file, offset, bytes) => {
      damaged = true;
      const message = `${file}: compaction dropped a damaged record of ${bytes} bytes at ${offset}`;
      ctx.onWarning({ kind: "damaged", file, offset, bytes, message });
    },
    checkAbort: ctx.checkOpen,
    onProgress,
  });
  // Every later phase reports against the same total as the copy, so a progress
  // bar never jumps back.
  const progress = (phase: CompactProgress["phase"]) => () =>
    onProgress({ phase, bytesDone: bytesLive, bytesTotal: bytesLive });
  await installMerged(ctx.dir, outputs, progress("install"));
  for (const out of outputs) {
    ctx.files.set(out.id, new DataFile(ctx.dir, out.id, out.size, out.header));
  }
  // A key still served by an input was not written since it was copied (new
  // writes go to files after the outputs), so the copy is its current value.
  // Keys move a slice at a time, the store running in between: until the
  // inputs go, a key served by either file reads the same record. A copy out
  // of a version-1 input is larger by the difference of the record headers.
  const outHeader = outputs.length > 0 ? ctx.files.get(outputs[0].id)!.fmt.headerSize : 0;
  const grows = new Map(inputs.map((f) => [f.id, outHeader - f.fmt.headerSize]));
  const slicer = new TimeSlicer();
  for (let i = 0; i < moves.keys.length; i += MOVE_KEYS) {
    const end = i + MOVE_KEYS;
    ctx.moveAll(
      moves.keys.slice(i, end),
      moves.fileIds.subarray(i, end),
      moves.offsets.subarray(i, end),
      grows,
    );
    await slicer.pause();
  }
  releaseMoves(moves);
  // Keys whose records were damaged were not copied; they are gone with the
  // inputs, so they leave the index rather than point nowhere.
  if (damaged) { for (const [k, e] of ctx.entries()) if (inputIds.has(e.fileId)) ctx.remove(k); }
  ctx.dropFiles(inputs);
  await removeInputs(ctx.dir, inputs, progress("cleanup"));
  return {
    finishedAt: ctx.clock(),
    durationMs: performance.now() - t0,
    filesIn: inputs.length,
    filesOut: outputs.length,
    bytesIn,
    bytesOut: outputs.reduce((n, o) => n + o.size, 0),
  };
}

/** Whether the dead bytes of `s` (see Catalog.stats) exceed both thresholds of automatic compaction. */
export function wantsCompaction(
  s: Pick<Stats, "liveBytes" | "deadBytes">,
  a: Required<AutoCompact>,
): boolean {
  const dead = s.deadBytes;
  return dead > 0 && dead >= a.minDeadBytes && dead >= a.minDeadRatio * (s.liveBytes + dead);
}

// The entries served by `inputIds`, in key order, from the first key after
// `after`, while `take` says go on; expired ones leave the index.
function liveIn(ctx: CompactionContext, inputIds: Set<number>): MergePlan["live"] {
  return (after, take) => {
    const now = ctx.clock(), expired: string[] = [];
    ctx.walk(after, (key, fileId, offset, size, _timestamp, expireAt) => {
      if (!inputIds.has(fileId)) return true;
      if (expireAt !== 0 && expireAt <= now && !ctx.heldByRange(key)) {
        expired.push(key);
        return true;
      }
      return take(key, fileId, offset, size);
    });
    for (const k of expired) ctx.remove(k);
  };
}
