/**
 * Runs a compaction of a live store: seals the active file, merges every older
 * file (merge.ts does the file work and explains why each step is crash-safe),
 * then moves the index over to the merged files and drops the old ones.
 * @module
 */

import type { Catalog } from "./catalog.ts";
import type { Entry } from "./keydir.ts";
import { DataFile } from "./datafile.ts";
import {
  type CompactProgress,
  installMerged,
  type MergeOutput,
  removeInputs,
  writeMerged,
} from "./merge.ts";
import type { AutoCompact } from "./options.ts";
import type { RecoveryWarning } from "./recovery.ts";
import type { CompactResult } from "./types.ts";
import type { Writer } from "./writer.ts";

/** What a compaction works on. */
export interface CompactionContext {
  dir: string;
  catalog: Catalog;
  writer: Writer;
  maxFileSize: number;
  onWarning: (w: RecoveryWarning) => void;
  /** Throws once the store is closing, which aborts the compaction between chunks. */
  checkOpen: () => void;
}

/** Compacts every data file but the one the writer starts now. */
export async function runCompaction(
  ctx: CompactionContext,
  onProgress: (p: CompactProgress) => void,
): Promise<CompactResult> {
  const { catalog, writer } = ctx;
  const t0 = performance.now();
  const inputs = [...catalog.files.values()].sort((a, b) => a.id - b.id);
  const inputIds = new Set(inputs.map((f) => f.id));
  const firstId = writer.nextId;
  // Outputs never outnumber inputs by more than one; the last output grows past
  // maxFileSize rather than run out of ids.
  const lastId = firstId + inputs.length;
  writer.seal(inputs.length + 1);
  await writer.sync();
  const bytesIn = inputs.reduce((n, f) => n + f.size, 0);
  let damaged = false;
  const outputs = await writeMerged({
    dir: ctx.dir,
    live: liveIn(catalog, inputIds),
    inputs: new Map(inputs.map((f) => [f.id, f])),
    bytesTotal: inputs.reduce((n, f) => n + catalog.liveBytes(f.id), 0),
    firstId,
    lastId,
    maxFileSize: ctx.maxFileSize,
    onDamage: (file, offset, bytes) => {
      damaged = true;
      const message = `${file}: compaction dropped a damaged record of ${bytes} bytes at ${offset}`;
      ctx.onWarning({ kind: "damaged", file, offset, bytes, message });
    },
    checkAbort: ctx.checkOpen,
    onProgress,
  });
  const progress = (phase: CompactProgress["phase"]) => () =>
    onProgress({ phase, bytesDone: bytesIn, bytesTotal: bytesIn });
  await installMerged(ctx.dir, outputs, progress("install"));
  for (const out of outputs) adopt(catalog, new DataFile(ctx.dir, out.id, out.size), out, inputIds);
  if (damaged) dropEntriesIn(catalog, inputIds);
  catalog.dropFiles(inputs);
  await removeInputs(ctx.dir, inputs, progress("cleanup"));
  return {
    finishedAt: catalog.clock(),
    durationMs: performance.now() - t0,
    filesIn: inputs.length,
    filesOut: outputs.length,
    bytesIn,
    bytesOut: outputs.reduce((n, o) => n + o.size, 0),
  };
}

/** Whether dead bytes exceed both thresholds of automatic compaction. */
export function wantsCompaction(ctx: CompactionContext, a: Required<AutoCompact>): boolean {
  let total = 0, live = 0;
  for (const f of ctx.catalog.files.values()) {
    total += ctx.writer.sizeOf(f);
    live += ctx.catalog.liveBytes(f.id);
  }
  const dead = total - live;
  return dead >= a.minDeadBytes && dead >= a.minDeadRatio * total;
}

// The entries served by `inputIds`, in key order; expired ones leave the index.
function* liveIn(catalog: Catalog, inputIds: Set<number>): Generator<[string, Entry]> {
  const now = catalog.clock();
  for (const [k, e] of catalog.index.range()) {
    if (!inputIds.has(e.fileId)) continue;
    if (e.expireAt !== 0 && e.expireAt <= now) catalog.remove(k);
    else yield [k, e];
  }
}

// Points the index at a merged file for every key still served by an input:
// such a key was not written since it was copied (new writes go to files after
// the outputs), so the copy is its current value.
function adopt(catalog: Catalog, file: DataFile, out: MergeOutput, inputIds: Set<number>): void {
  catalog.files.set(file.id, file);
  catalog.moveAll(out.keys, out.offsets, file.id, inputIds);
}

// Keys whose records were damaged were not copied; they are gone with the
// inputs, so they leave the index rather than point nowhere.
function dropEntriesIn(catalog: Catalog, fileIds: Set<number>): void {
  for (const [k, e] of catalog.index.range()) if (fileIds.has(e.fileId)) catalog.remove(k);
}
