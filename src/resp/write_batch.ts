/**
 * The writes that follow each other in one pipeline, issued to the store as
 * one atomic batch. Blind writes (plain SET, MSET, SETEX ...): one lock
 * check, one append and one commit callback instead of one each, which is
 * what a pipelined mass insert spends its time on. Read-modify-writes (INCR,
 * SET NX, APPEND ...): one turn of their keys' locks and one commit (see
 * execute.ts, lockedWrites).
 *
 * Merging changes nothing a client can see: the writes are gathered without
 * an await in between, so no other command runs among them, and a batch
 * that the store refuses (one empty key fails it all) was not applied at
 * all and is retried write by write, in order and before anything queued
 * after it, so only the bad write fails.
 * @module
 */

import type { BatchOp } from "../../mod.ts";
import type { ServerState } from "./context.ts";
import type { Reply } from "./encoder.ts";
import {
  blindWrite,
  blindWrites,
  errorReply,
  type LockedCommand,
  lockedWrites,
  runCommand,
} from "./execute.ts";
import type { Session } from "./context.ts";

/** Consecutive writes of one kind in one pipeline; their replies in order once issued. */
export abstract class GatheredWrites {
  protected result?: Promise<Reply[]>;

  /**
   * Hands the writes to the store; call once, before anything after them
   * runs. A lone write is not batched: its reply is returned, to stand in
   * for the batch (the batch's bookkeeping was measurable on unpipelined
   * commands).
   */
  abstract issue(st: ServerState): Promise<Reply> | undefined;

  /** Each write's reply, in order, once the store has answered them all. */
  replies(): Promise<Reply[]> {
    return this.result!;
  }
}

/** Consecutive blind writes of one pipeline. */
export class WriteBatch extends GatheredWrites {
  readonly #writes: BatchOp[][] = [];

  /**
   * Whether the store refuses `ops` for their sizes (an empty key, a key or a
   * value past its limits): such a write goes alone. A batch the store
   * refuses is retried write by write once the refusal is known, after the
   * writes issued behind it went to the store, which then applied a retried
   * SET over a later one (an audit lost an acknowledged SET that way).
   */
  static alone(st: ServerState, ops: readonly BatchOp[]): boolean {
    const { maxKeySize, maxValueSize } = st.limits;
    for (const op of ops) {
      const key = op.key as Uint8Array;
      if (key.length === 0 || key.length > maxKeySize) return true;
      if (op.type === "set" && (op.value as Uint8Array).length > maxValueSize) return true;
    }
    return false;
  }

  /** Adds the next write's ops. */
  add(ops: BatchOp[]): void {
    this.#writes.push(ops);
  }

  issue(st: ServerState): Promise<Reply> | undefined {
    const writes = this.#writes;
    // Caught at once: a rejection nobody handles yet would end the process.
    if (writes.length === 1) return blindWrite(st, writes[0]).catch(errorReply);
    this.result = blindWrites(st, writes);
    return undefined;
  }
}

/** Consecutive read-modify-writes of known keys in one pipeline. */
export class LockedBatch extends GatheredWrites {
  readonly #commands: LockedCommand[] = [];

  constructor(readonly session: Session) {
    super();
  }

  /** Adds the next command. */
  add(command: LockedCommand): void {
    this.#commands.push(command);
  }

  /** How many commands it holds. */
  get size(): number {
    return this.#commands.length;
  }

  issue(): Promise<Reply> | undefined {
    const commands = this.#commands;
    if (commands.length === 1) {
      return runCommand(commands[0].spec, this.session, commands[0].args);
    }
    this.result = lockedWrites(this.session, commands);
    return undefined;
  }
}
