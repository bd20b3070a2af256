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

import type { OpenOptions } from "./src/base/types.ts";
import { Cask } from "./src/api/store.ts";
import { resolveOptions } from "./src/api/options.ts";
import { type Kv, openKvOn } from "./src/kv/mod.ts";

export { Cask } from "./src/api/store.ts";
export { Batch } from "./src/api/batch.ts";
export type {
  AtomicCheck,
  AtomicOptions,
  AtomicResult,
  AutoCompact,
  BackupResult,
  BatchOp,
  Change,
  CompactOptions,
  CompactProgress,
  CompactResult,
  FileStats,
  OpenOptions,
  ProblemKind,
  RecoveryWarning,
  ScanOptions,
  SetOptions,
  Stats,
  SyncMode,
  VerifyIssue,
  VerifyReport,
  VersionedEntry,
  WatchOptions,
} from "./src/base/types.ts";
export { verify } from "./src/log/verify.ts";
export { attach, AttachedCask } from "./src/workers/attach.ts";
export type { SharedCask } from "./src/api/share_protocol.ts";
export type { Bytes } from "./src/base/keys.ts";
export {
  CaskError,
  type CaskErrorCode,
  ClosedError,
  CorruptionError,
  HistoryGoneError,
  IndexFullError,
  InvalidArgumentError,
  IOError,
  LockedError,
  ReadOnlyError,
  WatchOverflowError,
} from "./src/base/errors.ts";

/**
 * Opens (creating if needed) the store in directory `dir`, rebuilding its index
 * from the files there. Only one open store may use a directory at a time, in
 * any process: a second open rejects with LockedError. With `readOnly: true`
 * it takes no lock and changes nothing: any number of readers may open the
 * directory beside its writer, and `refresh()` (or `follow`) catches up.
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

export { DEFAULT_MAX_KEY_SIZE, DEFAULT_MAX_VALUE_SIZE } from "./src/api/options.ts";

export {
  AtomicOperation,
  type EnqueueOptions,
  Kv,
  type KvAtomicCheck,
  type KvCommitError,
  type KvCommitResult,
  type KvConsistencyLevel,
  type KvEntry,
  type KvEntryMaybe,
  type KvKey,
  type KvKeyPart,
  KvListIterator,
  type KvListOptions,
  type KvListSelector,
  type KvMutation,
  KvU64,
} from "./src/kv/mod.ts";

/**
 * Opens (creating if needed) a Deno KV-compatible database on the Cask store
 * in directory `path`: the same calls as `Deno.openKv(path)`, so switching is
 * a one-line change. `options` are the store's {@link OpenOptions}; the
 * default `sync: "always"` makes each commit durable before it resolves, as
 * in Deno KV. As in Deno KV, the path `":memory:"` opens a new empty, private
 * store each time, gone once it is closed (Cask keeps it in a fresh directory
 * under the OS temp dir and removes that directory at close).
 *
 * @example
 * ```ts
 * import { openKv } from "@cask/cask";
 * // was: const kv = await Deno.openKv("./kv.sqlite3");
 * const kv = await openKv("./kv-data");
 * await kv.set(["users", "ada"], { name: "Ada" });
 * console.log((await kv.get(["users", "ada"])).value);
 * await kv.close();
 * ```
 */
export async function openKv(path: string, options?: OpenOptions): Promise<Kv> {
  // The store resolves the same options: its limits and clock are these.
  const { maxKeySize, maxValueSize, clock } = resolveOptions(options);
  return await openKvOn(
    path,
    (dir) => Cask.open(dir, options),
    { maxKeySize, maxValueSize },
    clock,
  );
}
