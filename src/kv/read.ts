/**
 * Multi-key reads that see one point in time, for getMany and watch.
 * @module
 */

import type { EngineEntry, KvEngine } from "./engine.ts";

/** How often a read is retried when commits keep landing during it. */
const TRIES = 8;

/**
 * The records of `keys`, re-read while a commit landed in between, so they
 * belong to one point in time (after {@link TRIES} tries the last read is
 * returned as it is).
 */
export async function readAtOnce(
  engine: KvEngine,
  keys: readonly Uint8Array[],
): Promise<(EngineEntry | undefined)[]> {
  let records: (EngineEntry | undefined)[] = [];
  for (let i = 0; i < TRIES; i++) {
    const before = engine.sequence;
    records = await Promise.all(keys.map((k) => engine.getEntry(k)));
    if (engine.sequence === before) break;
  }
  return records;
}
