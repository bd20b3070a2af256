/**
 * Gathered reads: many records of one data file, each into its own place in a
 * batch in wasm memory, with as few positional reads as their layout allows.
 * Compaction copies records in key order, which scatters them over its inputs;
 * a read costs a few microseconds of system call whatever its size, so where
 * records lie densely one block read serves all of them, and where they are
 * sparse each is read alone.
 * @module
 */

import { MergeCodec, type SealBatch } from "../codec/merge_codec.ts";
import type { DataFile } from "./datafile.ts";
import type { TimeSlicer } from "./time_slice.ts";

// Records are grouped by the block they start in, and the small ones of a group
// are read in one piece when that spans at most DENSE bytes per record (copying
// 8 KiB costs about what a read costs). A larger record gains nothing from
// sharing a read, so it is read alone.
const BLOCK = 1024 * 1024;
const DENSE = 8 * 1024;

// A block is read with DENSE bytes past its end, so that every small record
// starting in it is whole.
const BLOCK_READ = BLOCK + DENSE;

// Blocks read whole are kept for later segments: in key order the next
// segment's records lie in the same blocks as this one's, and reading every
// block again for every segment cost more than everything else a merge does
// (100k live records of 155 bytes scattered over 15 MB were read about 8 times
// over). Up to this many blocks are kept in the merge's wasm memory, least
// recently used out first, for as long as the merge runs.
const CACHED_BLOCKS = 32;

/** Reads records of data files into a merge's batches; keeps recently read blocks between calls. */
export class Gatherer {
  // Block slot by file id and block; Map order is use order, oldest first.
  #slots = new Map<string, number>();

  /** The merge's codec: its memory holds the cached blocks and the batches they are copied to. */
  readonly codec: MergeCodec = new MergeCodec(CACHED_BLOCKS, BLOCK_READ);

  /**
   * For each i in `which`: bytes [offsets[i], offsets[i] + sizes[i]) of `file`
   * into `batch.records` at `at[i]`. Small records that lie densely are copied
   * by wasm out of a block read whole; the others are read alone. Pauses with
   * `slicer` between blocks and between lone reads.
   */
  async read(
    file: DataFile,
    which: readonly number[],
    offsets: readonly number[],
    sizes: readonly number[],
    batch: SealBatch,
    at: Uint32Array,
    slicer?: TimeSlicer,
  ): Promise<void> {
    // Counting sort of `which` by block: no comparisons, and the block order is file order.
    const blocks = Math.floor(file.size / BLOCK) + 1;
    const starts = new Uint32Array(blocks + 1);
    for (const i of which) starts[Math.floor(offsets[i] / BLOCK) + 1]++;
    for (let b = 0; b < blocks; b++) starts[b + 1] += starts[b];
    const fill = starts.slice(0, blocks);
    const order = new Uint32Array(which.length);
    for (const i of which) order[fill[Math.floor(offsets[i] / BLOCK)]++] = i;

    const into = batch.records;
    for (let b = 0; b < blocks; b++) {
      const first = starts[b], end = starts[b + 1];
      let lo = Infinity, hi = 0, small = 0;
      for (let j = first; j < end; j++) {
        const i = order[j];
        if (sizes[i] > DENSE) continue;
        small++;
        lo = Math.min(lo, offsets[i]);
        hi = Math.max(hi, offsets[i] + sizes[i]);
      }
      const slot = small > 0 ? this.#slot(file, b, small > 1 && hi - lo <= small * DENSE) : -1;
      let k = 0;
      for (let j = first; j < end; j++) {
        const i = order[j];
        if (slot >= 0 && sizes[i] <= DENSE) {
          batch.fromSlot(k++, i, offsets[i] - b * BLOCK, at[i], sizes[i]);
        } else {
          file.read(offsets[i], into.subarray(at[i], at[i] + sizes[i]));
          if (slicer?.due) await slicer.yield();
        }
      }
      if (k > 0) batch.copyFromSlot(slot, k);
      if (slicer?.due) await slicer.yield();
    }
  }

  // The slot holding block b of `file`: cached, or read into one when `read`; -1 if neither.
  #slot(file: DataFile, b: number, read: boolean): number {
    const key = `${file.id}/${b}`;
    let slot = this.#slots.get(key);
    if (slot !== undefined) this.#slots.delete(key);
    else if (read) {
      slot = this.#slots.size;
      if (slot === CACHED_BLOCKS) {
        const [oldest, free] = this.#slots.entries().next().value!;
        this.#slots.delete(oldest);
        slot = free;
      }
      const start = b * BLOCK;
      file.read(start, this.codec.slot(slot, Math.min(BLOCK_READ, file.size - start)));
    } else return -1;
    this.#slots.set(key, slot);
    return slot;
  }
}
