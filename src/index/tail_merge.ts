/**
 * Loading the keydir from a checkpoint and the short log written after it in
 * one bottom-up build. Recovery replays that log first; its records are held
 * (in log order), then put in key order with the last record of each key
 * winning, and merged into the checkpoint's entries as those arrive in key
 * order: a key the log wrote takes the log's record (or stays out, if the log
 * deleted it), every other key the checkpoint's. Inserting the log's records
 * into the built tree instead costs a descent and a shift of slots each.
 *
 * A range delete in the log gives the merge up: the checkpoint then loads
 * alone and the held records are applied over it in log order, as a replay
 * would. Recovery sends only a short log this way (see recovery.ts), so what
 * is held stays small next to the index.
 * @module
 */

import type { EntryVisitor } from "../log/checkpoint.ts";
import type { RecoverySink } from "../log/recovery.ts";
import { BulkLoader, type LoadTarget, sortByKey, sortCounts } from "./bulk_load.ts";

/** Where the merged entries go. */
export interface MergeTarget {
  /** Appends an entry; keys ascending (KeyDir.append). */
  append: EntryVisitor;
  /** Ends the appends (KeyDir.endAppend). */
  end(): void;
  /** Where held records go, in log order, when a range delete gave the merge up. */
  replay: LoadTarget;
}

const FIELDS = 5;

/** Holds the log after a checkpoint and merges it into the checkpoint's entries; see the module doc. */
export class TailMerge {
  #keys: string[] = [];
  #num = new Float64Array(1024 * FIELDS);
  #dead: boolean[] = [];
  // Range deletes, each with the number of records held before it.
  #ranges: { at: number; start: string; end: string | undefined }[] = [];
  // The held records' indexes in key order, one per key (its last), once sorted.
  #order?: Uint32Array;
  #count = 0;
  #next = 0;

  constructor(readonly target: MergeTarget, readonly now: number) {}

  /** The sink recovery replays the log after the checkpoint into. */
  readonly sink: RecoverySink = {
    record: (key, fileId, offset, size, tombstone, timestamp, expireAt) => {
      const i = this.#keys.length;
      if ((i + 1) * FIELDS > this.#num.length) {
        const bigger = new Float64Array(this.#num.length * 2);
        bigger.set(this.#num);
        this.#num = bigger;
      }
      this.#keys.push(key);
      const f = this.#num, o = i * FIELDS;
      f[o] = fileId;
      f[o + 1] = offset;
      f[o + 2] = size;
      f[o + 3] = timestamp;
      f[o + 4] = expireAt;
      this.#dead.push(tombstone || (expireAt !== 0 && expireAt <= this.now));
    },
    range: (start, end) => void this.#ranges.push({ at: this.#keys.length, start, end }),
  };

  /** Takes the checkpoint's next entry (keys ascending), after the held records before it. */
  readonly entry: EntryVisitor = (key, fileId, offset, size, timestamp, expireAt) => {
    const order = this.#ordered();
    const keys = this.#keys;
    while (this.#next < this.#count && keys[order[this.#next]] < key) this.#emit(this.#next++);
    // A key the log wrote after the checkpoint: the log's last record decides.
    if (this.#next < this.#count && keys[order[this.#next]] === key) {
      this.#emit(this.#next++);
      return;
    }
    if (expireAt !== 0 && expireAt <= this.now) return;
    this.target.append(key, fileId, offset, size, timestamp, expireAt);
  };

  /** Ends the load: the held records after the last entry, or, past a range delete, all of them. */
  readonly done = (): void => {
    this.#ordered();
    while (this.#next < this.#count) this.#emit(this.#next++);
    this.target.end();
    if (this.#ranges.length > 0) this.#replay();
  };

  // The held records in key order, sorted on first use; none while a range
  // delete makes them wait for the replay.
  #ordered(): Uint32Array {
    if (this.#order) return this.#order;
    const keys = this.#keys, n = keys.length;
    const sorted = new Uint32Array(this.#ranges.length > 0 ? 0 : n);
    if (sorted.length > 1) sortByKey(keys, n, sorted, sortCounts());
    else if (sorted.length === 1) sorted[0] = 0;
    // The sort is stable: of a key's records, the last in the run is the newest.
    let count = 0;
    for (let j = 0; j < sorted.length; j++) {
      if (j + 1 < sorted.length && keys[sorted[j + 1]] === keys[sorted[j]]) continue;
      sorted[count++] = sorted[j];
    }
    this.#count = count;
    return this.#order = sorted;
  }

  #emit(j: number): void {
    const i = this.#order![j];
    if (this.#dead[i]) return;
    const f = this.#num, o = i * FIELDS;
    this.target.append(this.#keys[i], f[o], f[o + 1], f[o + 2], f[o + 3], f[o + 4]);
  }

  // Applies every held record over the loaded checkpoint, in log order.
  #replay(): void {
    const loader = new BulkLoader(this.target.replay);
    const f = this.#num;
    let r = 0;
    for (let i = 0; i <= this.#keys.length; i++) {
      for (; r < this.#ranges.length && this.#ranges[r].at === i; r++) {
        loader.flush();
        this.target.replay.removeRange(this.#ranges[r].start, this.#ranges[r].end);
      }
      if (i === this.#keys.length) break;
      const o = i * FIELDS;
      loader.add(this.#keys[i], f[o], f[o + 1], f[o + 2], this.#dead[i], f[o + 3], f[o + 4]);
    }
    loader.flush();
  }
}
