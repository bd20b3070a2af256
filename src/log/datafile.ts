/**
 * One data file `data.<id>`: its identity, how many of its bytes are on disk,
 * and positional reads of records. Appends go through the Writer; a DataFile
 * only reads.
 * @module
 */

import { closeSync, openSync } from "node:fs";
import { crc32 } from "../codec/codec.ts";
import { CorruptionError, IOError } from "../base/errors.ts";
import { FILE_HEADER_SIZE, FILE_MAGIC, FORMAT_VERSION } from "../codec/format.ts";
import { dataPath, readFullAt } from "./fsutil.ts";

/** A data file of a store. */
export class DataFile {
  /** Bytes of the file known to be written to the OS (buffered appends come after). */
  size: number;
  #reader?: number;

  /** `size`: bytes already on disk (0 for a file not created yet). */
  constructor(readonly dir: string, readonly id: number, size: number) {
    this.size = size;
  }

  /** The file's path. */
  get path(): string {
    return dataPath(this.dir, this.id);
  }

  /** Fills `buf` from `offset`; a short read means the index and the file disagree. */
  read(offset: number, buf: Uint8Array): void {
    let got: number;
    try {
      this.#reader ??= openSync(this.path, "r");
      got = readFullAt(this.#reader, offset, buf);
    } catch (e) {
      throw new IOError(`read of ${this.path} at ${offset} failed`, { cause: e });
    }
    if (got !== buf.length) {
      throw new CorruptionError(
        `${this.path} ends before the record at ${offset} (${got} of ${buf.length} bytes)`,
        this.path,
        offset,
      );
    }
  }

  /** Closes the read handle (reopened on demand). */
  close(): void {
    if (this.#reader !== undefined) closeSync(this.#reader);
    this.#reader = undefined;
  }
}

/** The 16-byte header that starts every file of kind `kind`, with file flags `flags`. */
export function fileHeader(kind: number, flags = 0): Uint8Array {
  const b = new Uint8Array(FILE_HEADER_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, FILE_MAGIC, true);
  v.setUint16(4, FORMAT_VERSION, true);
  v.setUint16(6, kind, true);
  v.setUint32(8, flags, true);
  v.setUint32(12, crc32(b.subarray(0, 12)), true);
  return b;
}

/** The file flags of a valid header of kind `kind` at the start of `b`, or -1 when it is not one. */
export function readFileHeader(b: Uint8Array, kind: number): number {
  if (b.length < FILE_HEADER_SIZE) return -1;
  const v = new DataView(b.buffer, b.byteOffset, FILE_HEADER_SIZE);
  const ok = v.getUint32(0, true) === FILE_MAGIC &&
    v.getUint16(4, true) === FORMAT_VERSION &&
    v.getUint16(6, true) === kind &&
    v.getUint32(12, true) === crc32(b.subarray(0, 12));
  return ok ? v.getUint32(8, true) : -1;
}
