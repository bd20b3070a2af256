/**
 * Reads of keys for get, getMany and watch; multi-key reads see one point in time.
 * @module
 */

import type { EngineEntry, KvEngine } from "./engine.ts";

/**
 * The record of `key`. The empty key is readable in Deno KV but no write can
 * store it (the store refuses it), so it is always absent.
 */
export function readEntry(engine: KvEngine, key: Uint8Array): Promise<EngineEntry | undefined> {
  return key.length === 0 ? Promise.resolve(undefined) : engine.getEntry(key);
}

/** How often a read is retried when commits keep landing during it. */
const TRIES = 8;

/**
 * The records of `keys`, re-read while a commit landed in between, so they
 * belong to one point in time (after {@link TRIES} tries the last read is
 * returned as it is). In between means while they were asked for: a commit
 * that lands while their answers settle was called after the read (the store
 * reads at the call), and must not be seen, as in Deno KV.
 */
export async function readAtOnce(
  engine: KvEngine,
  keys: readonly Uint8Array[],
): Promise<(EngineEntry | undefined)[]> {
  let records: (EngineEntry | undefined)[] = [];
  for (let i = 0; i < TRIES; i++) {
    const before = engine.sequence;
    const reads = keys.map((k) => readEntry(engine, k));
    const still = engine.sequence === before;
    records = await Promise.all(reads);
    if (still) break;
  }
  return records;
}
