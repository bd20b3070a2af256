/**
 * What a command handler sees: the server-wide state shared by all clients
 * and the session of the client that sent the command.
 * @module
 */

import type { Cask } from "../../mod.ts";
import type { KeyLocks } from "./key_locks.ts";
import type { ScanCursors } from "./scan_cursors.ts";

/** Shared by every connection of one server. */
export interface ServerState {
  readonly db: Cask;
  readonly locks: KeyLocks;
  readonly cursors: ScanCursors;
  /** Cask's version, shown by INFO. */
  readonly version: string;
  /** Port the server listens on, shown by INFO. */
  readonly port: number;
  readonly startedAt: number;
  connectedClients: number;
  totalConnections: number;
  totalCommands: number;
}

/** One client connection. */
export interface Session {
  readonly server: ServerState;
  /** Set by QUIT: reply, flush, then close. */
  quit: boolean;
}
