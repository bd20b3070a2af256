/**
 * The store calls the KV layer makes, as one structural interface. `Cask`
 * satisfies it, so `openKv` hands its store over without this folder
 * importing `mod.ts` (which exports `openKv`, so an import would be a cycle).
 * @module
 */

/** One write of a commit; the shape of `BatchOp` in mod.ts. */
export type EngineOp =
  | { type: "set"; key: Uint8Array; value: Uint8Array; expireAt?: number }
  | { type: "delete"; key: Uint8Array };

/** A commit precondition: the key's current sequence, or `null` for "absent". */
export interface EngineCheck {
  key: Uint8Array;
  sequence: number | null;
}

/** A stored record with the sequence of the commit that wrote it. */
export interface EngineEntry {
  value: Uint8Array;
  sequence: number;
  /** Expiry in ms since the epoch; 0 means never. */
  expireAt: number;
}

/** A record met by a range scan. */
export interface EngineScanEntry extends EngineEntry {
  key: Uint8Array;
}

/** One committed change to a watched key; `value` is undefined for a delete. */
export interface EngineChange {
  key: Uint8Array;
  value: Uint8Array | undefined;
  sequence: number;
}

/** What a watch covers. */
export type EngineWatchTarget =
  | { keys: Uint8Array[] }
  | { prefix: Uint8Array }
  | { start: Uint8Array; end: Uint8Array };

/** The store operations the KV layer is built on. */
export interface KvEngine {
  /** The last committed sequence number; 0 for an empty store. */
  readonly sequence: number;
  /** Whether the store was opened read-only: it takes no writes, and so no queue deliveries. */
  readonly readOnly: boolean;
  /** Applies `ops` as one commit if every check holds at commit time. */
  atomic(
    ops: EngineOp[],
    options?: { checks?: EngineCheck[] },
  ): Promise<{ ok: true; sequence: number } | { ok: false }>;
  /** The live record of `key`, if any. */
  getEntry(key: Uint8Array): Promise<EngineEntry | undefined>;
  /** Live records of a key range in key order. */
  scanEntries(options: {
    start?: Uint8Array;
    end?: Uint8Array;
    reverse?: boolean;
    limit?: number;
  }): AsyncGenerator<EngineScanEntry>;
  /** Changes committed after the call, in commit order. */
  watch(target: EngineWatchTarget): AsyncIterable<EngineChange>;
  /** Flushes and releases the store. */
  close(): Promise<void>;
}
