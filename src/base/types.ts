/**
 * Public types of the store API: arguments, results, options vocabulary and the one
 * vocabulary of damage shared by recovery, verify and compaction. Every layer may
 * import this module; it imports nothing but keys.ts.
 * @module
 */

import type { Bytes } from "./keys.ts";

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
  /** deadBytes / the bytes of its records (size less the file header): the share that is dead. */
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
  /**
   * Keys dropped because their expiry passed, since the store opened: by a
   * read that found them expired, a write or delete of the key, a compaction,
   * or `size` (as Redis' `expired_keys`, which `cask serve` reports from it).
   */
  expiredKeys: number;
  /** Memory of the in-memory index (an estimate; see `maxIndexBytes`). */
  index: {
    /** Bytes in use. */
    bytes: number;
    /** Bytes per key (0 when empty). */
    bytesPerKey: number;
  };
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

/**
 * How much durability writes pay for: the `sync` option of `open()`.
 *
 * @example
 * ```ts
 * import { open, type SyncMode } from "@cask/cask";
 * const sync: SyncMode = Deno.env.get("FAST") ? { intervalMs: 50 } : "always";
 * await using db = await open("./data", { sync });
 * ```
 */
export type SyncMode = "always" | "never" | { intervalMs: number };

/**
 * The kinds of damage and doubt Cask can find in a store's files: one vocabulary
 * for recovery, `verify` and compaction.
 * - "torn-tail": the newest file ends in an incomplete or invalid write (cut off on open);
 * - "damaged": records fail their checks and valid records of the store follow;
 * - "incomplete-batch": records of an atomic batch (of more than one write) without their commit record;
 * - "bad-file-header": a file header fails its checks;
 * - "bad-hint": a hint file is damaged or disagrees with its data file (open scans the data file);
 * - "missing-file": a file the log continues from is gone (a sequence gap);
 * - "foreign-file": a file with a data-file name that is not one of this store's files.
 *
 * @example
 * ```ts
 * import type { ProblemKind } from "@cask/cask";
 * const fatal: ProblemKind[] = ["missing-file", "damaged"];
 * ```
 */
export type ProblemKind =
  | "torn-tail"
  | "damaged"
  | "incomplete-batch"
  | "bad-file-header"
  | "bad-hint"
  | "missing-file"
  | "foreign-file";

/**
 * Something found in a store's files, with where it is. Recovery reports it
 * through the `onWarning` option; `verify` lists it.
 *
 * @example
 * ```ts
 * import { open, type RecoveryWarning } from "@cask/cask";
 * const seen: RecoveryWarning[] = [];
 * await using db = await open("./data", { onWarning: (w) => seen.push(w) });
 * for (const w of seen) console.warn(`${w.kind}: ${w.bytes} bytes at ${w.file}:${w.offset}`);
 * ```
 */
export interface RecoveryWarning {
  /** What was found. */
  kind: ProblemKind;
  /** Path of the file. */
  file: string;
  /** Byte offset where the problem starts. */
  offset: number;
  /** Bytes cut off, skipped or affected. */
  bytes: number;
  /** Human-readable description. */
  message: string;
}

/**
 * Where a compaction is; reported through `onProgress`.
 *
 * @example
 * ```ts
 * import { type CompactProgress, open } from "@cask/cask";
 * await using db = await open("./data");
 * const show = (p: CompactProgress) =>
 *   console.log(`${p.phase} ${Math.round((100 * p.bytesDone) / (p.bytesTotal || 1))}%`);
 * await db.compact({ onProgress: show });
 * ```
 */
export interface CompactProgress {
  /** "copy": live records are being copied; "sync": new files are fsynced;
   * "install": new files are renamed into place; "cleanup": old files are removed. */
  phase: "copy" | "sync" | "install" | "cleanup";
  /** Bytes of live records copied so far. */
  bytesDone: number;
  /** Bytes of live records to copy in all (the inputs' dead bytes are not copied). */
  bytesTotal: number;
}

/**
 * One problem found by {@link verify}: the same record as a recovery warning.
 *
 * @example
 * ```ts
 * import { verify, type VerifyIssue } from "@cask/cask";
 * const describe = (i: VerifyIssue) => `${i.kind}: ${i.bytes} bytes at ${i.file}:${i.offset}`;
 * (await verify("./data")).issues.forEach((i) => console.error(describe(i)));
 * ```
 */
export type VerifyIssue = RecoveryWarning;

/**
 * What {@link verify} found.
 *
 * @example
 * ```ts
 * import { verify } from "@cask/cask";
 * const r = await verify("./data");
 * console.log(`${r.records} records in ${r.files} files, ${r.issues.length} problems`);
 * ```
 */
export interface VerifyReport {
  /** Data files checked. */
  files: number;
  /** Valid records seen. */
  records: number;
  /** Bytes of data files checked. */
  bytes: number;
  /** Problems found; empty when the store is intact. */
  issues: VerifyIssue[];
}

/**
 * A validated write on its way to the log (internal: the API layer builds it,
 * the log layer encodes it).
 */
export interface WriteOp {
  /** Key bytes (non-empty). */
  kb: Uint8Array;
  /** Value bytes (empty for a tombstone). */
  vb: Uint8Array;
  /** Expiry, ms since the epoch; 0 = never. */
  expireAt: number;
  /** Deletes the key. */
  tombstone: boolean;
  /** Deletes every key from `kb` up to `vb` (excluded; empty: no end). */
  range?: boolean;
}

/**
 * Thresholds of automatic compaction; both must be exceeded.
 *
 * @example
 * ```ts
 * import { open } from "@cask/cask";
 * await using db = await open("./data", {
 *   autoCompact: { minDeadRatio: 0.4, minDeadBytes: 256 << 20 },
 * });
 * ```
 */
export interface AutoCompact {
  /** Dead bytes / all bytes of the store. Default 0.5. */
  minDeadRatio?: number;
  /** Dead bytes of the store. Default 64 MiB. */
  minDeadBytes?: number;
}

/**
 * Options of {@link open}.
 *
 * @example
 * ```ts
 * import { open, type OpenOptions } from "@cask/cask";
 * const options: OpenOptions = {
 *   sync: { intervalMs: 100 },
 *   maxFileSize: 128 << 20,
 *   autoCompact: true,
 *   onWarning: (w) => console.warn(w.kind, w.file, w.offset),
 * };
 * await using db = await open("./data", options);
 * ```
 */
export interface OpenOptions {
  /**
   * Durability of `set`/`delete`/`atomic`:
   * - `"always"` (default): the promise resolves only after the record is fsynced;
   *   concurrent writes share fsyncs (group commit).
   * - `{ intervalMs }`: writes are acknowledged at once and fsynced in the background
   *   every `intervalMs`; a power cut can lose that much acknowledged data.
   * - `"never"`: the OS decides when data reaches the disk; `sync()` and `close()`
   *   still flush and fsync. A crash of the process itself can lose writes of the
   *   last few milliseconds (still in Cask's write buffer).
   */
  sync?: SyncMode;
  /** Size at which the active data file is closed and a new one started. Default 64 MiB. */
  maxFileSize?: number;
  /** Largest key in bytes. Default 64 KiB. */
  maxKeySize?: number;
  /** Largest value in bytes. Default 64 MiB. */
  maxValueSize?: number;
  /**
   * How damage found on open in the middle of the log is handled. `false` (default):
   * the damaged bytes are skipped and reported through `onWarning`, everything
   * else is kept. `true`: open fails with a CorruptionError. A torn tail of the
   * newest file (an interrupted write) is cut off in both modes.
   */
  strict?: boolean;
  /** Receives what recovery found and handled. Default: `console.warn`. */
  onWarning?: (warning: RecoveryWarning) => void;
  /**
   * Receives the failure of work the store started by itself (an automatic
   * compaction); the store stays usable. Default: `console.error`.
   */
  onBackgroundError?: (error: Error) => void;
  /**
   * Budget for the in-memory index in bytes (see `stats().index`): past it, a
   * write that would add a key rejects with IndexFullError, while overwrites
   * and deletes still work. Default: no budget.
   */
  maxIndexBytes?: number;
  /** Milliseconds since the epoch, for timestamps and expiry; injectable for tests. Default `Date.now`. */
  clock?: () => number;
  /**
   * Start a compaction by itself when a data file fills up and the dead bytes
   * exceed both thresholds. Default `false` (compact only when `compact()` is
   * called); `true` uses `{ minDeadRatio: 0.5, minDeadBytes: 64 MiB }`.
   */
  autoCompact?: boolean | AutoCompact;
  /**
   * Write an index checkpoint when the store closes, so the next open loads
   * the index from it in one sequential pass instead of replaying the log (see
   * the README, Start-up). It is written only for stores of at least `minKeys`
   * keys (default 65,536; smaller stores open fast from the log) and never
   * trusted over the log: a damaged, foreign or stale checkpoint is ignored.
   * `false`: none is written or used (a writable open removes one an earlier
   * open left, since it could not keep it in step with the log). Default `true`.
   */
  checkpoint?: boolean | { minKeys?: number };
  /**
   * Open without the write lock, beside a writer in another process (or none):
   * nothing in the directory is created, written, truncated or removed, so
   * `--allow-read` is enough. Writes reject with `ReadOnlyError`; `sync()` does
   * nothing. The store shows the log as it was when opened (a record or batch
   * the writer is still appending is not yet there) until `refresh()`, or
   * `follow`, catches up. Default `false`.
   */
  readOnly?: boolean;
  /**
   * With `readOnly`: call `refresh()` by itself every `intervalMs` (`true`:
   * every 100 ms). Failures go to `onBackgroundError`. Default `false`.
   */
  follow?: boolean | { intervalMs: number };
  /**
   * Read sealed data files (every file but the one being appended to) through
   * read-only memory maps instead of one `pread` per value: a `get` then makes
   * no system call. Needs `--allow-ffi` (libc's `mmap` is called through
   * `Deno.dlopen`); without it, or on Windows, reads silently stay on
   * `pread`. Values are still checksum-verified and are copies, so they stay
   * valid after a compaction unmaps and removes their file. Not with
   * `readOnly` (another process's writer may cut back the files a reader
   * would map). Default `false`.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * // deno run --allow-read --allow-write --allow-ffi app.ts
   * await using db = await open("./data", { mmap: true });
   * console.log(await db.get("k"));
   * ```
   */
  mmap?: boolean;
  /**
   * Keep a hash table of where each key's record lies beside the ordered
   * index, asked first by every `get`: a read of a present key then skips the
   * tree walk (at 1M keys about a fifth of a `get`). It costs 12-24 bytes of
   * memory per key and about one cache miss per write (pipelined writes up to
   * a quarter slower, sequential loads the most); turn it off for stores that
   * are mostly written. Default `true`.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * // A bulk load that is read back rarely.
   * await using db = await open("./data", { pointCache: false });
   * await db.set("k", "v");
   * ```
   */
  pointCache?: boolean;
  /**
   * Call `fdatasync` on the JavaScript thread, as redis-server does under
   * `appendfsync always`, instead of on Deno's blocking-task thread. The event
   * loop then stops for each fsync (other calls, timers and sockets wait for
   * it), and in exchange a group commit skips two hand-offs between threads
   * and the requests that arrive during an fsync are read in one turn of the
   * loop: on 2 cores, 2000 durable writes awaited one at a time took 484-502
   * ms against 622-702, and `cask serve` answered 25.9-34.3k unpipelined
   * durable SETs a second from 50 clients against 21.7-26.0k. A
   * store that serves reads beside durable writes keeps the default, so that
   * a slow disk does not hold its reads. Default `false`.
   *
   * @example
   * ```ts
   * import { open } from "@cask/cask";
   * // A process whose only job is durable writes.
   * await using db = await open("./data", { sync: "always", inlineFsync: true });
   * await db.set("k", "v");
   * ```
   */
  inlineFsync?: boolean;
}

/**
 * What `backup()` did.
 *
 * @example
 * ```ts
 * import { type BackupResult, open } from "@cask/cask";
 * await using db = await open("./data");
 * const r: BackupResult = await db.backup("./data-backup");
 * console.log(`sequence ${r.sequence}: ${r.filesLinked} linked, ${r.bytesCopied} bytes copied`);
 * ```
 */
export interface BackupResult {
  /** The sequence number the backup holds the store at: it opens with this `sequence`. */
  sequence: number;
  /** Data and hint files in the backup. */
  files: number;
  /** Of those, files hard-linked to the source's (sealed files on the same file system). */
  filesLinked: number;
  /** Files already in the target from an earlier backup, left as they were. */
  filesKept: number;
  /** Bytes copied (files that could not be linked, and the active file up to the snapshot). */
  bytesCopied: number;
  /** Files of an earlier backup removed from the target (no longer in the store). */
  filesRemoved: number;
}

/**
 * A condition of a checked `atomic()` commit: the key's current record must
 * carry `sequence`, or with `null` the key must be absent.
 *
 * @example
 * ```ts
 * import { type AtomicCheck, open } from "@cask/cask";
 * await using db = await open("./data");
 * const check: AtomicCheck = { key: "counter", sequence: null };
 * await db.atomic([{ type: "set", key: "counter", value: "1" }], { checks: [check] });
 * ```
 */
export interface AtomicCheck {
  /** The key to check. */
  key: Bytes;
  /** The sequence number its current record must carry, or null for "absent". */
  sequence: number | null;
}

/**
 * Options of `atomic()`.
 *
 * @example
 * ```ts
 * import { type AtomicOptions, open } from "@cask/cask";
 * await using db = await open("./data");
 * const e = await db.getEntry("k");
 * const options: AtomicOptions = { checks: [{ key: "k", sequence: e?.sequence ?? null }] };
 * await db.atomic([{ type: "set", key: "k", value: "next" }], options);
 * ```
 */
export interface AtomicOptions {
  /** Conditions judged at commit time; when one fails nothing is written. */
  checks?: readonly AtomicCheck[];
}

/**
 * What `atomic()` did: `ok` with the commit's sequence number, or not ok when a
 * check failed (and nothing was written).
 *
 * @example
 * ```ts
 * import { type AtomicResult, open } from "@cask/cask";
 * await using db = await open("./data");
 * const r: AtomicResult = await db.atomic([{ type: "set", key: "k", value: "v" }]);
 * if (r.ok) console.log("committed as", r.sequence);
 * ```
 */
export type AtomicResult = { ok: true; sequence: number } | { ok: false };

/**
 * A key's current value with the sequence number of the commit that wrote it.
 *
 * @example
 * ```ts
 * import { open, type VersionedEntry } from "@cask/cask";
 * await using db = await open("./data");
 * const e: VersionedEntry | undefined = await db.getEntry("k");
 * if (e) console.log(e.sequence, e.value.length, e.expireAt);
 * ```
 */
export interface VersionedEntry {
  /** The key's bytes. */
  key: Uint8Array;
  /** The value. */
  value: Uint8Array;
  /** Sequence number of the commit that wrote it (0 for a record of a version-1 file). */
  sequence: number;
  /** Expiry, ms since the epoch; 0 = never. */
  expireAt: number;
}

/**
 * Which keys `watch()` follows: a list of keys, a prefix, or a range.
 *
 * @example
 * ```ts
 * import { open, type WatchOptions } from "@cask/cask";
 * await using db = await open("./data");
 * const options: WatchOptions = { prefix: "user:" };
 * const changes = db.watch(options);
 * ```
 */
export type WatchOptions =
  & ({ keys: readonly Bytes[] } | { prefix: Bytes } | { start: Bytes; end: Bytes })
  & {
    /**
     * Resume: first deliver, from the log, every change committed after this
     * sequence number. Refused with HistoryGoneError when a compaction has
     * merged commits after it.
     */
    since?: number;
  };

/**
 * One change `watch()` reports: `value` is undefined when the key was deleted
 * or expired.
 *
 * @example
 * ```ts
 * import { type Change, open } from "@cask/cask";
 * await using db = await open("./data");
 * for await (const c of db.watch({ keys: ["k"] }) as AsyncIterable<Change>) {
 *   console.log(c.sequence, c.value === undefined ? "gone" : "set");
 *   break;
 * }
 * ```
 */
export interface Change {
  /** The key's bytes. */
  key: Uint8Array;
  /** The new value; undefined for a delete or an expiry. */
  value: Uint8Array | undefined;
  /** Sequence number of the commit (for an expiry: the last commit when it was noticed). */
  sequence: number;
  /**
   * Only in changes replayed from the log (`since`): this change is a range
   * delete of every key from `key` up to `end` (excluded; undefined: no end).
   * Live changes list each deleted key instead.
   */
  range?: { end: Uint8Array | undefined };
}
