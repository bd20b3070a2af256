// The contract every engine adapter implements. Each method owns its own loop so an
// engine can use its natural API (sync calls, transactions, fire-and-await-later)
// instead of paying for a generic per-op await it would never have in real use.

import type { Keys, Writes } from "./data.ts";

/** Most writes a pipelined row keeps in flight before awaiting them together. */
export const PIPELINE = 1000;

export interface ReadTally {
  hits: number;
  bytes: number;
}

/**
 * A store opened either durable (every acknowledged write has been fsynced) or not
 * (fsync off); every method below keeps the durability the store was opened with.
 */
export interface Store {
  /** One write; resolves once the engine acknowledges it. */
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  /**
   * The writes in order, pipelined the way this engine's docs recommend for bulk work:
   * groups of up to {@link PIPELINE} writes in flight (or in one transaction), each
   * group awaited together.
   */
  load(writes: Writes): Promise<void>;
  /** One point read. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Point reads one after another, in the engine's natural loop. */
  read(keys: Keys): Promise<ReadTally>;
  /** Full scan in key order. */
  scan(): Promise<ReadTally>;
  /** Up to `limit` entries in key order from `start` (YCSB's scan); returns how many. */
  scanFrom(start: Uint8Array, limit: number): Promise<number>;
  /** Deletes, pipelined like `load`. */
  deleteAll(keys: Keys): Promise<void>;
  /** Reclaims dead space; absent when the engine has no such operation. */
  compact?(): Promise<void>;
  /** The engine's own estimate of its index memory per key, where it reports one. */
  indexBytesPerKey?(): number;
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
  /**
   * Whether `compact()` lets other operations run while it works; only then can the
   * suite measure latency under compaction.
   */
  readonly compactsInBackground?: boolean;
  /**
   * Durable stores acknowledge a write only after it reached stable storage. `valueSize`
   * is the typical value length, for engines whose docs pick a layout by row size.
   */
  open(dir: string, durable: boolean, valueSize?: number): Promise<Store>;
  /** Caps the one-write-awaited-at-a-time rows, for peers where each such write costs an fsync. */
  readonly maxOneAtATimeWrites?: number;
  /**
   * True for an engine that fsyncs every commit whatever `open` asks, having no setting
   * to stop it: in the rows Cask runs with fsync off it does other work, so the report
   * gives those rows no ratio against it.
   */
  readonly fsyncsEveryCommit?: boolean;
}
