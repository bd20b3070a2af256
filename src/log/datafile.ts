/**
 * One data file `data.<id>`: its identity, its header (and so its record
 * format), how many of its bytes are on disk, and positional reads of records.
 * Appends go through the Writer; a DataFile only reads.
 * @module
 */

import { closeSync, openSync } from "node:fs";
import { CorruptionError, IOError } from "../base/errors.ts";
import { FORMAT_V1, type RecordFormat } from "../codec/codec.ts";
import { type FileHeader, fileHeaderSize, recordFormat } from "../codec/file_header.ts";
import { FILE_FLAG_BLOB, FILE_FLAG_COMPACTED, FILE_FLAG_OPENED } from "../codec/format.ts";
import { dataPath, readFullAt } from "./fsutil.ts";
import { MappedFile } from "./mapped_file.ts";

/** A data file of a store. */
export class DataFile {
  /** Bytes of the file known to be written to the OS (buffered appends come after). */
  size: number;
  /** The file's header; undefined while unknown (a damaged header). */
  header?: FileHeader;
  /** Record format of the file (a damaged header's salt may be recovered into it). */
  fmt: RecordFormat;
  /**
   * The last sequence number in a log file that recovery found and nothing is
   * appended to: where the next file's header starts can be later, after
   * lost files (undefined for a file the writer appends to or wrote).
   */
  lastSeq?: number;
  #reader?: number;
  // null: mapping was tried and is unavailable.
  #map?: MappedFile | null;

  /** `size`: bytes already on disk (0 for a file not created yet). */
  constructor(readonly dir: string, readonly id: number, size: number, header?: FileHeader) {
    this.size = size;
    this.header = header;
    this.fmt = header ? recordFormat(header) : FORMAT_V1;
  }

  /** The file's path. */
  get path(): string {
    return dataPath(this.dir, this.id);
  }

  /** Bytes of the file header. */
  get headerSize(): number {
    return fileHeaderSize(this.header?.version ?? this.fmt.version);
  }

  /** Whether compaction wrote the file: every record in it is committed, none is a batch member. */
  get compacted(): boolean {
    return this.#flag(FILE_FLAG_COMPACTED);
  }

  /** Whether the file holds one streamed value (see FILE_FLAG_BLOB). */
  get blob(): boolean {
    return this.#flag(FILE_FLAG_BLOB);
  }

  /** Whether an open began the file (see FILE_FLAG_OPENED). */
  get opened(): boolean {
    return this.#flag(FILE_FLAG_OPENED);
  }

  #flag(bit: number): boolean {
    return ((this.header?.flags ?? 0) & bit) !== 0;
  }

  /** Fills `buf` from `offset`; a short read means the index and the file disagree. */
  read(offset: number, buf: Uint8Array): void {
    const mapped = this.#map?.view(offset, buf.length);
    if (mapped) {
      buf.set(mapped);
      return;
    }
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

  /**
   * Opens the read handle now and returns it. A reader beside a live writer
   * holds its files open this way: once open, a file stays readable after the
   * writer's compaction unlinks it (the space is freed when it is closed).
   */
  hold(): number {
    this.#reader ??= openSync(this.path, "r");
    return this.#reader;
  }

  /**
   * A read descriptor of the caller's own (it closes it), for reads that must
   * outlive a compaction that removes the file. Opened by path; once the file
   * is unlinked, through the handle this object holds (a reader's, see hold()),
   * which the system reopens as /proc/self/fd/N (Linux) or /dev/fd/N.
   */
  openOwn(): number {
    try {
      return openSync(this.path, "r");
    } catch (e) {
      const gone = (e as { code?: string }).code === "ENOENT";
      try {
        if (gone && this.#reader !== undefined) {
          return openSync(
            `${Deno.build.os === "linux" ? "/proc/self" : "/dev"}/fd/${this.#reader}`,
            "r",
          );
        }
      } catch {
        // reported as the open by path failing
      }
      throw new IOError(`cannot open ${this.path}`, { cause: e });
    }
  }

  /**
   * Serves later reads of the bytes now on disk from a memory map (see
   * mapped_file.ts) until close(). Only for a file that is never truncated
   * again: a sealed file of a store this process writes. False when no map
   * can be made (reads stay on pread).
   */
  map(): boolean {
    // A file with nothing on disk yet (a streamed value before its install) is tried later.
    if (this.size === 0) return false;
    if (this.#map === undefined) this.#map = MappedFile.map(this.path, this.size) ?? null;
    return this.#map !== null;
  }

  /** Whether reads are served from a map. */
  get mapped(): boolean {
    return this.#map != null;
  }

  /** Whether map() was called since the last close(). */
  get mapTried(): boolean {
    return this.#map !== undefined;
  }

  /** Closes the read handle and any map (both made again on demand). */
  close(): void {
    if (this.#reader !== undefined) closeSync(this.#reader);
    this.#reader = undefined;
    this.#map?.unmap();
    this.#map = undefined;
  }
}
