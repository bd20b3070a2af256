/**
 * Cask: a Bitcask-style persistent key-value store for Deno.
 *
 * Append-only data files with a CRC on every record, an in-memory ordered index,
 * one positional read per `get`, crash recovery that cuts torn tails, fsync-based
 * durability with group commit, atomic batches, TTLs and ordered scans.
 *
 * @example
 * ```ts
 * import { open } from "@cask/cask";
 *
 * await using db = await open("./cask-data");
 * await db.set("user:1", "Ada");
 * console.log(await db.getString("user:1")); // "Ada"
 * for await (const [key, value] of db.scan({ prefix: "user:" })) {
 *   console.log(new TextDecoder().decode(key), value.length);
 * }
 * ```
 * @module
 */

import type { OpenOptions } from "./src/options.ts";
import { Cask } from "./src/store.ts";

export { Cask } from "./src/store.ts";
export { Batch } from "./src/batch.ts";
export type {
  BatchOp,
  CompactOptions,
  CompactResult,
  FileStats,
  ScanOptions,
  SetOptions,
  Stats,
} from "./src/types.ts";
export type { CompactProgress } from "./src/merge.ts";
export type { AutoCompact, OpenOptions } from "./src/options.ts";
export { verify, type VerifyIssue, type VerifyReport } from "./src/verify.ts";
export type { SyncMode } from "./src/writer.ts";
export type { RecoveryWarning } from "./src/recovery.ts";
export type { Bytes } from "./src/keys.ts";
export {
  CaskError,
  type CaskErrorCode,
  ClosedError,
  CorruptionError,
  InvalidArgumentError,
  IOError,
  LockedError,
} from "./src/errors.ts";

/**
 * Opens (creating if needed) the store in directory `dir`, rebuilding its index
 * from the files there. Only one open store may use a directory at a time, in
 * any process: a second open rejects with LockedError.
 *
 * @example
 * ```ts
 * import { open } from "@cask/cask";
 * const db = await open("./cask-data", { sync: "always", maxFileSize: 64 << 20 });
 * await db.set("k", "v");
 * await db.close();
 * ```
 */
export function open(dir: string, options?: OpenOptions): Promise<Cask> {
  return Cask.open(dir, options);
}
