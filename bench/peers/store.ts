// The contract every engine adapter implements. Each method owns its own loop so an
// engine can use its natural API (sync calls, transactions, fire-and-await-later)
// instead of paying for a generic per-op await it would never have in real use.

import type { Keys, Writes } from "./data.ts";

export interface ReadTally {
  hits: number;
  bytes: number;
}

export interface Store {
  /** Non-durable bulk write in the given order, the way a user of this engine would do it. */
  load(writes: Writes): Promise<void>;
  /**
   * The same writes grouped into explicit atomic batches of `size`. Absent when `load`
   * already batches that way, so the suite does not measure the same code twice.
   */
  loadBatched?(writes: Writes, size: number): Promise<void>;
  /** One write that resolves only once the engine calls it durable. */
  putDurable(key: Uint8Array, value: Uint8Array): Promise<void>;
  read(keys: Keys): Promise<ReadTally>;
  /** Full scan in key order. */
  scan(): Promise<ReadTally>;
  deleteAll(keys: Keys): Promise<void>;
  /** Reclaims dead space; absent when the engine has no such operation. */
  compact?(): Promise<void>;
  close(): Promise<void>;
}

export interface Engine {
  /** How this adapter maps the workloads onto the engine, shown under the results table. */
  readonly notes: string[];
  /**
   * Largest key count this engine is run with, for peers whose full-size run would take
   * far longer than the rest of the suite; the report flags the smaller n.
   */
  readonly maxN?: number;
  /** Durable stores acknowledge a write only after it reached stable storage. */
  open(dir: string, durable: boolean): Promise<Store>;
}
