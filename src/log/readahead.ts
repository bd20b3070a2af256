/**
 * Read-ahead for scans. A scan visits records in key order, and wherever keys
 * were written in order or compacted (compaction writes in key order) that is
 * also file order: one larger read then serves many records. The window adapts:
 * it grows while windows keep serving several records and falls back to reading
 * single records when they do not, so random layouts pay nothing extra.
 * @module
 */

import type { DataFile } from "./datafile.ts";

const MIN_WINDOW = 4 * 1024;
const MAX_WINDOW = 256 * 1024;

/** A window over one data file at a time. */
export class ReadAhead {
  #file?: DataFile;
  #start = 0;
  #len = 0;
  // Grown as the window grows: a short scan (a list of a few keys) should not
  // pay for a 256 KiB buffer it never fills.
  #buf = new Uint8Array(0);
  #want = 0;

  /** `reverse`: the scan walks keys downwards, so the window extends below each record. */
  constructor(readonly reverse: boolean) {}

  /**
   * Bytes [offset, offset + size) of `file`, valid until the next call; undefined
   * when they are not all on disk yet or do not fit a window.
   */
  view(file: DataFile, offset: number, size: number): Uint8Array | undefined {
    if (size > MAX_WINDOW || offset + size > file.size) return undefined;
    const end = offset + size;
    if (file !== this.#file || offset < this.#start || end > this.#start + this.#len) {
      // The scan has moved on to a record that runs past the window's far end, or
      // starts just beyond it: the layout is sequential here. (A record cut by the
      // window's edge counts too: windows are not cut at record boundaries, so
      // nearly every window ends inside one.)
      const next = this.reverse
        ? this.#start - end < MIN_WINDOW && end <= this.#start + this.#len
        : offset - (this.#start + this.#len) < MIN_WINDOW && offset >= this.#start;
      this.#want = file === this.#file && next
        ? Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, this.#want * 2))
        : 0;
      const n = Math.max(this.#want, size);
      this.#start = this.reverse ? Math.max(0, end - n) : offset;
      this.#len = (this.reverse ? end : Math.min(file.size, offset + n)) - this.#start;
      this.#file = file;
      if (this.#buf.length < this.#len) {
        this.#buf = new Uint8Array(Math.min(MAX_WINDOW, Math.max(this.#len, 2 * this.#buf.length)));
      }
      file.read(this.#start, this.#buf.subarray(0, this.#len));
    }
    return this.#buf.subarray(offset - this.#start, end - this.#start);
  }
}
