/**
 * What a command handler sees: the server-wide state shared by all clients
 * and the session of the client that sent the command.
 * @module
 */

import type { Cask } from "../../mod.ts";
import type { KeyLocks, LockScope } from "./key_locks.ts";
import type { Reply } from "./encoder.ts";
import type { KeyView, StoreView } from "./keyspace.ts";
import type { PendingWrites } from "./pending_writes.ts";
import type { ScanCursors } from "./scan_cursors.ts";
import type { ValueCache } from "./value_cache.ts";
import type { Watches } from "./watches.ts";

/** Counters INFO reports. */
export interface ServerStats {
  connectedClients: number;
  totalConnections: number;
  rejectedConnections: number;
  totalCommands: number;
  netInputBytes: number;
  netOutputBytes: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  /** Request bytes buffered by all clients right now. */
  bufferedBytes: number;
}

/** Shared by every connection of one server. */
export interface ServerState {
  readonly db: Cask;
  /** Recently read values; every write of the server must report to it. */
  readonly cache: ValueCache;
  /** Read-only view of the store (through the cache) for commands that only read. */
  readonly reader: StoreView;
  readonly locks: KeyLocks;
  /** What the read-modify-writes in flight wrote; every Overlay reads through it. */
  readonly pending: PendingWrites;
  readonly watches: Watches;
  readonly cursors: ScanCursors;
  /** Cask's version, shown by INFO. */
  readonly version: string;
  /** Port the server listens on, shown by INFO. */
  readonly port: number;
  /** The store's `--sync` mode, shown by INFO. */
  readonly sync: string;
  /** Whether the store compacts by itself, shown by INFO. */
  readonly autoCompact: boolean;
  readonly maxClients: number;
  /** Idle clients are disconnected after this many ms; 0 never. */
  readonly idleTimeoutMs: number;
  /**
   * The longest string a command may make (APPEND, SETRANGE): the longest bulk
   * the parser takes, Redis' proto-max-bulk-len.
   */
  readonly maxString: number;
  /** The store's size limits (see WriteBatch.alone). */
  readonly limits: { readonly maxKeySize: number; readonly maxValueSize: number };
  /** Password AUTH must present; undefined: none required. */
  readonly password?: Uint8Array;
  readonly startedAt: number;
  /** When the last SAVE or BGSAVE finished (ms since the epoch); the start until then. */
  lastSave: number;
  readonly stats: ServerStats;
  /** The BGREWRITEAOF compaction running, if any. */
  compaction?: Promise<void>;
  nextClientId: number;
}

/** A command queued between MULTI and EXEC. */
export interface QueuedCommand {
  /** The keys EXEC must lock for it. */
  readonly keys: LockScope;
  /** Runs it on the transaction's view; resolves to its reply, errors included. */
  run(view: KeyView): Promise<Reply>;
}

/** One client connection. */
export interface Session {
  readonly server: ServerState;
  readonly id: number;
  name?: string;
  /** Protocol version chosen with HELLO. */
  protocol: 2 | 3;
  authenticated: boolean;
  /** Set by QUIT: reply, flush, then close. */
  quit: boolean;
  /** Commands received so far. */
  commands: number;
  /** Set when the client must be dropped without a reply (a cross-protocol attack). */
  drop: boolean;
  /**
   * Commands queued since MULTI; `aborted` once one failed to queue; `cost`:
   * what the queue counts toward the query-buffer limits.
   */
  transaction?: { commands: QueuedCommand[]; aborted: boolean; cost: number };
  /**
   * Watched keys (by byteString) with their version at WATCH time and when
   * the key then present expires (Infinity: absent, or no expiry).
   */
  watched: Map<string, { key: Uint8Array; version: number; expiresAt: number }>;
  /** What the watched keys count toward the query-buffer limits (held until EXEC or UNWATCH). */
  watchedCost: number;
}
