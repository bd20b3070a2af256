/**
 * The catalog: the key index together with the data files it points into and
 * how many live bytes each file holds. Every change of the index goes through
 * here, so the per-file accounting behind stats and compaction stays exact.
 * @module
 */

import { recordSize } from "./codec.ts";
import type { DataFile } from "./datafile.ts";
import { FLAG_TOMBSTONE } from "./format.ts";
import { type Entry, KeyDir } from "./keydir.ts";
import type { RecoverySink } from "./recovery.ts";

/** Index, files and live-byte accounting of one store. */
export class Catalog {
  /** Key -> where its current record is. */
  readonly index: KeyDir = new KeyDir();
  /** Data files by id. */
  readonly files: Map<number, DataFile> = new Map();
  readonly #live = new Map<number, number>();

  /** `clock` gives ms since the epoch, for expiry. */
  constructor(readonly clock: () => number) {}

  /**
   * The entry of `k` when present and not expired. An expired key is dropped
   * from the index on sight; its record stays on disk, dead, until a compaction.
   */
  lookup(k: string, now: number = this.clock()): Entry | undefined {
    const e = this.index.get(k);
    if (!e || e.expireAt === 0 || e.expireAt > now) return e;
    this.remove(k);
    return undefined;
  }

  /** Points `k` at `e`. */
  put(k: string, e: Entry): void {
    const old = this.index.set(k, e);
    if (old) this.#addLive(old.fileId, -old.size);
    this.#addLive(e.fileId, e.size);
  }

  /**
   * Points each of `keys` (ascending) whose record is still in a file of
   * `from` at the same record copied to `offsets[i]` of file `fileId`.
   */
  moveAll(keys: string[], offsets: number[], fileId: number, from: Set<number>): void {
    let moved = 0;
    this.index.relocate(keys, offsets, fileId, (id, size) => {
      if (!from.has(id)) return false;
      this.#addLive(id, -size);
      moved += size;
      return true;
    });
    this.#addLive(fileId, moved);
  }

  /** Drops `k`; true when it was present and not expired. */
  remove(k: string): boolean {
    const old = this.index.delete(k);
    if (!old) return false;
    this.#addLive(old.fileId, -old.size);
    return old.expireAt === 0 || old.expireAt > this.clock();
  }

  /** Bytes of live records in file `id`. */
  liveBytes(id: number): number {
    return this.#live.get(id) ?? 0;
  }

  /** Forgets `files` and closes them (their records must no longer be indexed). */
  dropFiles(files: DataFile[]): void {
    for (const f of files) {
      this.files.delete(f.id);
      this.#live.delete(f.id);
      f.close();
    }
  }

  /** Applies the records recovery replays: the last record of a key wins. */
  readonly sink: RecoverySink = {
    record: (key, fileId, offset, h) => {
      if (h.flags & FLAG_TOMBSTONE || (h.expireAt !== 0 && h.expireAt <= this.clock())) {
        this.remove(key);
        return;
      }
      this.put(key, {
        fileId,
        offset,
        size: recordSize(h.keyLen, h.valueLen),
        timestamp: h.timestamp,
        expireAt: h.expireAt,
      });
    },
  };

  #addLive(id: number, bytes: number): void {
    this.#live.set(id, (this.#live.get(id) ?? 0) + bytes);
  }
}
