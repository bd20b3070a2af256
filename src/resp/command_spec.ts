/**
 * How a command is described: arity, key positions and flags (what COMMAND
 * reports and what locking uses), and one of three kinds of handler.
 * @module
 */

import type { BatchOp } from "../../mod.ts";
import type { Session } from "./context.ts";
import type { Reply } from "./encoder.ts";
import type { KeyView, ReadView, StoreView } from "./keyspace.ts";

/** A command that only reads the keyspace, through `view`. */
export type ReadHandler = (
  view: ReadView,
  args: Uint8Array[],
  s: Session,
) => Reply | Promise<Reply>;
/** A keyspace command: reads and writes through `view` (its writes are committed by the caller). */
export type KeyHandler = (view: KeyView, args: Uint8Array[], s: Session) => Reply | Promise<Reply>;
/** A command about the connection or the server, not the keyspace. */
/**
 * A connection or server command. Inside EXEC it gets the transaction's view,
 * so that KEYS and DBSIZE count the writes queued before them.
 */
export type SessionHandler = (
  s: Session,
  args: Uint8Array[],
  view?: KeyView,
) => Reply | Promise<Reply>;

interface Common {
  /** Redis convention: N means exactly N words (name included), -N at least N. */
  arity: number;
  /** First key, last key (-1: the last argument) and step; [0, 0, 0] for none. */
  keys: readonly [number, number, number];
  /** Redis command flags, as COMMAND lists them (`noauth`, `fast`, ...). */
  flags: readonly string[];
  /** One line for COMMAND DOCS. */
  summary: string;
  /** The arguments after the name as Redis' docs write them: `key [key ...]`, `[NX|XX]`. */
  syntax: string;
  /** Redis command group for COMMAND DOCS. */
  group: string;
  /**
   * Sub-commands by name: an unknown one, or a wrong count, is refused before
   * the command runs, so inside MULTI it dooms the EXEC, as in Redis. A command
   * with them is documented as a container of them (COMMAND DOCS), as Redis'
   * are: redis-cli hints each sub-command's arguments.
   */
  subcommands?: Readonly<Record<string, SubcommandSpec>>;
  /** Refused inside MULTI ("Command not allowed inside a transaction"), as in Redis. */
  notInMulti?: true;
}

/** A sub-command of a container command (CONFIG GET). */
export interface SubcommandSpec {
  /** As Redis counts it: the whole command, its name and the sub-command's included. */
  arity: number;
  /** Its arguments after the sub-command's name, as Redis' docs write them. */
  syntax: string;
  /** One line for COMMAND DOCS. */
  summary: string;
}

/**
 * A read answered from memory without waiting (the value cache), or
 * undefined when it must go to the store through the command's `run`. The
 * reply may hold the cache's own bytes, valid until it next keeps a value.
 */
export type ImmediateHandler = (
  view: StoreView,
  args: Uint8Array[],
  s: Session,
) => Reply | undefined;

/** A command that reads the keyspace and never writes. */
export interface ReadSpec extends Common {
  kind: "read";
  run: ReadHandler;
  /** A synchronous shortcut for `run`, tried first outside MULTI. */
  immediate?: ImmediateHandler;
}

/** A command that may write the keyspace. */
export interface WriteSpec extends Common {
  kind: "write";
  run: KeyHandler;
  /**
   * The writes of a command that reads nothing (SET without conditions, MSET),
   * or undefined when these arguments need `run`. Blind writes of one client
   * overlap in flight and share fsyncs; their reply is `+OK`.
   */
  blind?: (args: Uint8Array[]) => BatchOp[] | undefined;
  /**
   * Whether these arguments ask for a stored value back (GETDEL, SET ... GET):
   * such a reply is held until its turn to be encoded, as a read's is, and
   * counts toward the commands a pipeline may have in flight; other writes
   * do not, so that they share fsyncs.
   */
  repliesValue?: (args: Uint8Array[]) => boolean;
}

/** A command about the connection or the server. */
export interface ServerSpec extends Common {
  kind: "server";
  run: SessionHandler;
}

/** Any command. */
export type CommandSpec = ReadSpec | WriteSpec | ServerSpec;

/** The keys `args` names according to `spec.keys`. */
export function keysOf(spec: CommandSpec, args: Uint8Array[]): Uint8Array[] {
  const [first, last, step] = spec.keys;
  if (first === 0) return [];
  const end = last < 0 ? args.length + last : last;
  const keys: Uint8Array[] = [];
  for (let i = first; i <= end && i < args.length; i += step) keys.push(args[i]);
  return keys;
}
