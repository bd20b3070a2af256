/**
 * Gathered reads: many records of one data file, each into its own place in a
 * batch in wasm memory, with as few positional reads as their layout allows.
 * A read costs a few microseconds of system call whatever its size, so where
 * records lie densely one block read serves all of them, and where they are
 * sparse each is read alone.
 * @module
 */

import { MergeCodec, type SealBatch } from "../codec/merge_codec.ts";
import type { DataFile } from "./datafile.ts";
import type { TimeSlicer } from "./time_slice.ts";

/**
 * Bytes of the blocks records are grouped by, and read in. A block is read on
 * the JS thread, so every call of the store waits it out: 256 KiB take about
 * 50 us from the page cache, 1 MiB about 200. Reading blocks off the thread
 * gave a compaction beside paced get/set calls worse tails (p99.9 0.8-3.2 ms
 * against 0.5-0.6 ms, 1M records of 1 KiB): the callbacks' turns and the
 * threadpool's competition for the two cores cost more than the reads.
 */
export const BLOCK = 256 * 1024;

// Records are grouped by the block they start in, and the small ones of a group
// are read in one piece when that spans at most DENSE bytes per record (copying
// 8 KiB costs about what a read costs). A larger record gains nothing from
// sharing a read, so it is read alone.
const DENSE = 8 * 1024;

// A block is read with DENSE bytes past its end, so that every small record
// starting in it is whole.
const BLOCK_READ = BLOCK + DENSE;

/**
 * Blocks read whole that are kept for later calls, least recently used out
 * first (32 MiB): a merge in key order whose records lie in at most this many
 * blocks reads each of them once, and in file order the block where one
 * segment ends is where the next begins.
 */
export const CACHED_BLOCKS = 128;

/**
 * Block slots for a merge in file order: each block is used by the segment
 * that reaches it and perhaps the next, never again, so a few slots serve, and
 * the merge's memory holds 1 MiB of blocks rather than 32 MiB.
 */
export const FILE_ORDER_BLOCKS = 4;

/**
 * The first pass of {@link sortByBucket}: each item's bucket, and where each
 * bucket starts among the sorted items (with `count` at the end). Pauses with
 * `slicer` every so many items.
 */
export async function bucketCounts(
  count: number,
  bucketOf: (i: number) => number,
  buckets: number,
  slicer?: TimeSlicer,
): Promise<{ bucket: Uint32Array; starts: Uint32Array }> {
  const bucket = new Uint32Array(count);
  const starts = new Uint32Array(buckets + 1);
  for (let i = 0; i < count; i++) {
    starts[(bucket[i] = bucketOf(i)) + 1]++;
    if ((i & 0x3fff) === 0 && slicer?.due) await slicer.yield();
  }
  for (let b = 0; b < buckets; b++) starts[b + 1] += starts[b];
  return { bucket, starts };
}

/** The second pass of {@link sortByBucket}: the items in bucket order, stable. */
export async function bucketOrder(
  bucket: Uint32Array,
  starts: Uint32Array,
  slicer?: TimeSlicer,
): Promise<Uint32Array> {
  const fill = starts.slice(0, starts.length - 1);
  const order = new Uint32Array(bucket.length);
  for (let i = 0; i < bucket.length; i++) {
    order[fill[bucket[i]]++] = i;
    if ((i & 0x3fff) === 0 && slicer?.due) await slicer.yield();
  }
  return order;
}

/**
 * A stable counting sort of the items 0..count-1 by `bucketOf(i)`, an integer
 * in [0, buckets): the items, and where each bucket starts among them (with
 * `count` at the end). Pauses with `slicer` every so many items: a merge sorts
 * all its records at once.
 */
async function sortByBucket(
  count: number,
  bucketOf: (i: number) => number,
  buckets: number,
  slicer?: TimeSlicer,
): Promise<{ order: Uint32Array; starts: Uint32Array }> {
  const { bucket, starts } = await bucketCounts(count, bucketOf, buckets, slicer);
  return { order: await bucketOrder(bucket, starts, slicer), starts };
}

// The codec of the last merge, kept for the next: its memory's pages are
// touched already (see base/spare_buffers.ts for what a fresh page costs), and
// a WebAssembly memory cannot give them back anyway.
let spareCodec: MergeCodec | undefined;

/** Reads records of data files into a merge's batches; keeps recently read blocks between calls. */
export class Gatherer {
  // Block slot by file id and block; Map order is use order, oldest first.
  #slots = new Map<string, number>();

  /** The merge's codec: its memory holds the cached blocks and the batches they are copied to. */
  readonly codec: MergeCodec;

  /** `blocks`: how many blocks read whole are kept (at most {@link CACHED_BLOCKS}). */
  constructor(readonly blocks: number) {
    // Room for the most blocks whatever `blocks` is, so any merge can reuse it;
    // slots never used are never touched.
    this.codec = spareCodec ?? new MergeCodec(CACHED_BLOCKS, BLOCK_READ);
    spareCodec = undefined;
  }

  /** Keeps the codec for the next merge's Gatherer; this one is not used again. */
  release(): void {
    spareCodec = this.codec;
  }

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
    // By block: no comparisons, and the block order is file order.
    const blocks = Math.floor(file.size / BLOCK) + 1;
    const { order: byBlock, starts } = await sortByBucket(
      which.length,
      (j) => Math.floor(offsets[which[j]] / BLOCK),
      blocks,
    );
    const order = byBlock.map((j) => which[j]);

    const into = batch.records;
    for (let b = 0; b < blocks; b++) {
      const first = starts[b], end = starts[b + 1];
      // Most blocks hold none of a segment's records when it is one of many.
      if (first === end) continue;
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
      if (slot === this.blocks) {
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
