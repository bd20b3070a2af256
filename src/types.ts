/**
 * Public argument and result types of the store API.
 * @module
 */

import type { Bytes } from "./keys.ts";
import type { CompactProgress } from "./merge.ts";

/**
 * Per-write options of `set`.
 *
 * @example
 * ```ts
 * import { open, type SetOptions } from "@cask/cask";
 * await using db = await open("./data");
 * const oneHour: SetOptions = { ttl: 3_600_000 };
 * await db.set("session:1", "token", oneHour);
 * await db.set("report", "...", { expireAt: Date.parse("2030-01-01") });
 * ```
 */
export interface SetOptions {
  /** Time to live in milliseconds; the key reads as absent once it has passed. */
  ttl?: number;
  /** Absolute expiry time in milliseconds since the epoch (instead of `ttl`). */
  expireAt?: number;
}

/**
 * One operation of an atomic batch.
 *
 * @example
 * ```ts
 * import { type BatchOp, open } from "@cask/cask";
 * const ops: BatchOp[] = [
 *   { type: "set", key: "a", value: "1", ttl: 60_000 },
 *   { type: "delete", key: "b" },
 * ];
 * await using db = await open("./data");
 * await db.atomic(ops);
 * ```
 */
export type BatchOp =
  | { type: "set"; key: Bytes; value: Bytes; ttl?: number; expireAt?: number }
  | { type: "delete"; key: Bytes };

/**
 * Bounds of a scan. Keys compare as unsigned bytes.
 *
 * @example
 * ```ts
 * import { open, type ScanOptions } from "@cask/cask";
 * await using db = await open("./data");
 * const lastTen: ScanOptions = { prefix: "log:", reverse: true, limit: 10 };
 * for await (const [key, value] of db.scan(lastTen)) console.log(key, value);
 * ```
 */
export interface ScanOptions {
  /** First key to include. */
  start?: Bytes;
  /** First key past the range (excluded). */
  end?: Bytes;
  /** Only keys starting with these bytes. Combines with start/end. */
  prefix?: Bytes;
  /** Descending order. */
  reverse?: boolean;
  /** Stop after this many entries. */
  limit?: number;
}

/**
 * Space use of one data file.
 *
 * @example
 * ```ts
 * import { type FileStats, open } from "@cask/cask";
 * await using db = await open("./data");
 * const worst: FileStats | undefined = db.stats().files.sort((a, b) => b.deadRatio - a.deadRatio)[0];
 * ```
 */
export interface FileStats {
  /** Data file id (`data.<id>`). */
  id: number;
  /** Bytes in the file, buffered appends included. */
  size: number;
  /** Bytes of records that are the current value of a key. */
  liveBytes: number;
  /** Bytes of overwritten, deleted and expired records, tombstones and damage. */
  deadBytes: number;
  /** deadBytes / size. */
  deadRatio: number;
}

/**
 * What `stats()` reports.
 *
 * @example
 * ```ts
 * import { open, type Stats } from "@cask/cask";
 * await using db = await open("./data");
 * const s: Stats = db.stats();
 * if (s.deadBytes > s.liveBytes) await db.compact();
 * ```
 */
export interface Stats {
  /** Keys in the index (keys expired but not yet noticed included). */
  keys: number;
  /** Bytes of live records over all files. */
  liveBytes: number;
  /** Bytes of dead records over all files. */
  deadBytes: number;
  /** Per-file figures, by ascending id. */
  files: FileStats[];
  /** The last compaction of this open store, if any. */
  lastCompaction?: CompactResult;
}

/**
 * Options of `compact()`.
 *
 * @example
 * ```ts
 * import { type CompactOptions, open } from "@cask/cask";
 * await using db = await open("./data");
 * const options: CompactOptions = { onProgress: (p) => console.log(p.phase, p.bytesDone) };
 * await db.compact(options);
 * ```
 */
export interface CompactOptions {
  /** Called as the compaction advances (e.g. to draw a progress bar). */
  onProgress?: (progress: CompactProgress) => void;
}

/**
 * What a compaction did.
 *
 * @example
 * ```ts
 * import { type CompactResult, open } from "@cask/cask";
 * await using db = await open("./data");
 * const r: CompactResult = await db.compact();
 * console.log(`reclaimed ${r.bytesIn - r.bytesOut} bytes in ${r.durationMs.toFixed(0)} ms`);
 * ```
 */
export interface CompactResult {
  /** When it finished, ms since the epoch. */
  finishedAt: number;
  /** How long it took in ms. */
  durationMs: number;
  /** Data files merged. */
  filesIn: number;
  /** Data files written. */
  filesOut: number;
  /** Bytes of the merged files. */
  bytesIn: number;
  /** Bytes of the files written. */
  bytesOut: number;
}
