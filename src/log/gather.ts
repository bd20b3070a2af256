/**
 * Gathered reads: many records of one data file, each into its own place in a
 * destination buffer, with as few positional reads as their layout allows.
 * Compaction copies records in key order, which scatters them over its inputs;
 * a read costs a few microseconds of system call whatever its size, so where
 * records lie densely one block read serves all of them, and where they are
 * sparse each is read alone.
 * @module
 */

import type { DataFile } from "./datafile.ts";

// Records are grouped by the block they start in, and the small ones of a group
// are read in one piece when that spans at most DENSE bytes per record (copying
// 8 KiB costs about what a read costs). A larger record gains nothing from
// sharing a read, so it is read alone.
const BLOCK = 1024 * 1024;
const DENSE = 8 * 1024;

/** Reads records of data files into places of a buffer; keeps its scratch space between calls. */
export class Gatherer {
  #scratch?: Uint8Array;

  /**
   * For each i in `which`: bytes [offsets[i], offsets[i] + sizes[i]) of `file`
   * into `into` at `at[i]`.
   */
  read(
    file: DataFile,
    which: readonly number[],
    offsets: readonly number[],
    sizes: readonly number[],
    into: Uint8Array,
    at: Uint32Array,
  ): void {
    // Counting sort of `which` by block: no comparisons, and the block order is file order.
    const blocks = Math.floor(file.size / BLOCK) + 1;
    const starts = new Uint32Array(blocks + 1);
    for (const i of which) starts[Math.floor(offsets[i] / BLOCK) + 1]++;
    for (let b = 0; b < blocks; b++) starts[b + 1] += starts[b];
    const fill = starts.slice(0, blocks);
    const order = new Uint32Array(which.length);
    for (const i of which) order[fill[Math.floor(offsets[i] / BLOCK)]++] = i;

    for (let b = 0; b < blocks; b++) {
      const first = starts[b], end = starts[b + 1], count = end - first;
      if (count === 0) continue;
      let lo = Infinity, hi = 0, small = 0;
      for (let j = first; j < end; j++) {
        const i = order[j];
        if (sizes[i] > DENSE) continue;
        small++;
        lo = Math.min(lo, offsets[i]);
        hi = Math.max(hi, offsets[i] + sizes[i]);
      }
      const shared = small > 1 && hi - lo <= small * DENSE;
      const block = shared
        ? (this.#scratch ??= new Uint8Array(BLOCK + DENSE)).subarray(0, hi - lo)
        : undefined;
      if (block) file.read(lo, block);
      for (let j = first; j < end; j++) {
        const i = order[j];
        if (block && sizes[i] <= DENSE) {
          const from = offsets[i] - lo;
          into.set(block.subarray(from, from + sizes[i]), at[i]);
        } else file.read(offsets[i], into.subarray(at[i], at[i] + sizes[i]));
      }
    }
  }
}
