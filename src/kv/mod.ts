/**
 * The public surface of the KV layer, which mod.ts re-exports. One entry
 * point keeps mod.ts's view of this folder to a single import.
 * @module
 */

export { Kv, type KvListOptions } from "./kv.ts";
export type { KvConsistencyLevel } from "./consistency.ts";
export { AtomicOperation } from "./atomic.ts";
export { KvListIterator } from "./list_iterator.ts";
export { KvU64 } from "./u64.ts";
export type { KvKey, KvKeyPart } from "./key_codec.ts";
export type { KvListSelector } from "./selector.ts";
export type { KvCommitError, KvCommitResult, KvEntry, KvEntryMaybe } from "./entry.ts";
export type { EnqueueOptions, KvAtomicCheck, KvMutation } from "./mutation.ts";
// Not re-exported by mod.ts: how its openKv builds a Kv.
export { openKvOn } from "./memory.ts";
