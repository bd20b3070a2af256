/**
 * The codec's bulk work for compaction, on a WebAssembly instance of its own:
 * records gathered into its memory are checked and re-sealed for their output
 * file many per call, and blocks of the inputs are kept there so records are
 * copied out of them by wasm rather than one by one from JS. The instance, and
 * its memory (which a WebAssembly memory never gives back while it lives), go
 * with the merge; the shared codec's memory is never grown for it.
 * @module
 */

import { CODEC_MODULE, type CodecExports, type RecordFormat } from "./codec.ts";
import { InvalidArgumentError } from "../base/errors.ts";

// Bytes of a hint entry before its key (src/log/hint.ts).
const HINT_ENTRY = 44;

/** A compaction's codec: `slots` blocks of `slotBytes` each for its reads, then room for one batch. */
export class MergeCodec {
  readonly #wasm: CodecExports;
  readonly #base: number;
  readonly #slotBytes: number;
  readonly #batchAt: number;

  constructor(slots: number, slotBytes: number) {
    this.#wasm = new WebAssembly.Instance(CODEC_MODULE).exports as unknown as CodecExports;
    this.#base = this.#wasm.SCRATCH_PTR.value;
    this.#slotBytes = align16(slotBytes);
    this.#batchAt = slots * this.#slotBytes;
  }

  /** Block slot `i`, `len` bytes of it, to read a block of an input into; valid until the next batch. */
  slot(i: number, len: number): Uint8Array {
    this.#reserve(this.#batchAt);
    return new Uint8Array(this.#wasm.memory.buffer, this.#base + i * this.#slotBytes, len);
  }

  /** A batch of `count` records of `bytes` bytes in all whose keys take `keyBytes`; replaces the last one. */
  batch(bytes: number, count: number, keyBytes: number): SealBatch {
    const rowWords = this.#wasm.ROW_SIZE.value / 4;
    const tableAt = align16(bytes);
    const listAt = align16(tableAt + count * rowWords * 4);
    const hintAt = align16(listAt + count * 4);
    const size = hintAt + count * HINT_ENTRY + keyBytes;
    this.#reserve(this.#batchAt + size);
    const at = this.#base + this.#batchAt, buf = this.#wasm.memory.buffer;
    return new SealBatch(
      this.#wasm,
      new Uint8Array(buf, at, bytes),
      new Uint32Array(buf, at + tableAt, count * rowWords),
      new Uint32Array(buf, at + listAt, count),
      new Uint8Array(buf, at + hintAt, size - hintAt),
      (slot) => this.#base + slot * this.#slotBytes,
    );
  }

  #reserve(size: number): void {
    if (!(size <= 0xffff_ffff && this.#wasm.reserveScratch(size))) {
      throw new InvalidArgumentError(`cannot reserve ${size} bytes of WebAssembly memory`);
    }
  }
}

/**
 * Records gathered for one output segment: where each lies and what it must be
 * (see {@link SealBatch.place}), checked and re-sealed in bulk. Its views are
 * valid until its codec makes the next batch.
 */
export class SealBatch {
  readonly #rowWords: number;

  constructor(
    readonly wasm: CodecExports,
    /** Where the records go: record i at the position given to {@link SealBatch.place}. */
    readonly records: Uint8Array,
    readonly table: Uint32Array,
    readonly list: Uint32Array,
    readonly hint: Uint8Array,
    readonly slotAt: (slot: number) => number,
  ) {
    this.#rowWords = wasm.ROW_SIZE.value / 4;
  }

  /** Says that record i, of format `fmt`, `size` bytes and a key of `keyLen` bytes, lies at `pos`. */
  place(i: number, pos: number, size: number, fmt: RecordFormat, keyLen: number): void {
    const t = this.table, r = i * this.#rowWords;
    t[r] = pos;
    t[r + 1] = size;
    t[r + 2] = fmt.salt;
    t[r + 3] = fmt.headerSize;
    t[r + 4] = keyLen;
  }

  /** Lists record i, of `size` bytes, as the k-th to copy from a block slot at `from` to `pos`. */
  fromSlot(k: number, i: number, from: number, pos: number, size: number): void {
    const t = this.table, r = i * this.#rowWords;
    this.list[k] = i;
    t[r] = pos;
    t[r + 1] = size;
    t[r + 5] = from;
  }

  /** Copies the first `count` records listed by fromSlot out of block slot `slot` to their places. */
  copyFromSlot(slot: number, count: number): void {
    this.wasm.copyRows(
      this.records.byteOffset,
      this.table.byteOffset,
      this.list.byteOffset,
      count,
      this.slotAt(slot),
    );
  }

  /**
   * The first record from `from` (below `n`) that is not whole and valid, or
   * not of the size and key length placed; n when every one is.
   */
  check(from: number, n: number): number {
    return this.wasm.checkRecords(this.records.byteOffset, this.table.byteOffset, from, n);
  }

  /**
   * Re-seals the checked records [from, to), which lie back to back, for a
   * file of format `fmt` (same header size as theirs), clearing `clearFlags`;
   * returns their hint entries (src/log/hint.ts's layout), the first record
   * being at offset `outAt` of that file. The view is valid until the next seal.
   */
  seal(from: number, to: number, fmt: RecordFormat, clearFlags: number, outAt: number): Uint8Array {
    const n = this.wasm.sealRecords(
      this.records.byteOffset,
      this.table.byteOffset,
      from,
      to,
      fmt.headerSize,
      fmt.salt,
      clearFlags,
      this.hint.byteOffset,
      outAt,
    );
    return this.hint.subarray(0, n);
  }
}

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}
