/**
 * The entry and commit-result shapes of the KV API, and the one place that
 * turns a stored record into an entry.
 * @module
 */

import type { EngineEntry } from "./engine.ts";
import { decodeKey, type KvKey } from "./key_codec.ts";
import { decodeValue } from "./value_codec.ts";
import { versionstampOf } from "./versionstamp.ts";

/**
 * A key with its value and the versionstamp of the commit that wrote it.
 *
 * @example
 * ```ts
 * import { type KvEntry, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * for await (const e of kv.list<string>({ prefix: ["users"] })) {
 *   const entry: KvEntry<string> = e;
 *   console.log(entry.key, entry.value, entry.versionstamp);
 * }
 * await kv.close();
 * ```
 */
export interface KvEntry<T> {
  /** The key, decoded from storage (byte parts come back as Uint8Array). */
  key: KvKey;
  /** The value. */
  value: T;
  /** 20 hex digits naming the commit; later commits have larger stamps. */
  versionstamp: string;
}

/**
 * What `get` returns: an entry, or `value` and `versionstamp` null when the key is absent.
 *
 * @example
 * ```ts
 * import { type KvEntryMaybe, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const e: KvEntryMaybe<number> = await kv.get<number>(["counter"]);
 * if (e.versionstamp === null) console.log("absent");
 * await kv.close();
 * ```
 */
export type KvEntryMaybe<T> = KvEntry<T> | { key: KvKey; value: null; versionstamp: null };

/**
 * A successful commit.
 *
 * @example
 * ```ts
 * import { type KvCommitResult, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const r: KvCommitResult = await kv.set(["k"], "v");
 * console.log(r.versionstamp);
 * await kv.close();
 * ```
 */
export interface KvCommitResult {
  /** Always true. */
  ok: true;
  /** The versionstamp shared by every mutation of the commit. */
  versionstamp: string;
}

/**
 * A commit refused because a check failed; nothing was written.
 *
 * @example
 * ```ts
 * import { type KvCommitError, type KvCommitResult, openKv } from "@cask/cask";
 * const kv = await openKv("./kv-data");
 * const r: KvCommitResult | KvCommitError = await kv.atomic()
 *   .check({ key: ["k"], versionstamp: null }).set(["k"], 1).commit();
 * if (!r.ok) console.log("someone else wrote k first");
 * await kv.close();
 * ```
 */
export interface KvCommitError {
  /** Always false. */
  ok: false;
}

/**
 * The entry of a stored record, from its key's bytes: the key read back is a
 * new array, as Deno KV's is (its byte parts are `Uint8Array`s, its strings as
 * UTF-8 gave them back), not the caller's own.
 */
export function entryOf<T>(key: Uint8Array, record: EngineEntry): KvEntry<T> {
  return {
    key: decodeKey(key),
    value: decodeValue(record.value) as T,
    versionstamp: versionstampOf(record.sequence),
  };
}

/** The entry of an absent key: the caller's own key, as Deno KV gives it back. */
export function absentEntry(key: KvKey): { key: KvKey; value: null; versionstamp: null } {
  return { key, value: null, versionstamp: null };
}
