/**
 * The blind writes (plain SET, MSET, SETEX ...) that follow each other in one
 * pipeline, issued to the store as one atomic batch: one lock check, one
 * append and one commit callback instead of one each, which is what a
 * pipelined mass insert spends its time on.
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
import { blindWrite, blindWrites, errorReply } from "./execute.ts";

/** Consecutive blind writes of one pipeline; their replies in order once issued. */
export class WriteBatch {
  readonly #writes: BatchOp[][] = [];
  #replies?: Promise<Reply[]>;

  /** Adds the next write's ops. */
  add(ops: BatchOp[]): void {
    this.#writes.push(ops);
  }

  /**
   * Hands the writes to the store; call once, before anything after them
   * runs. A lone write is not batched: its reply is returned, to stand in
   * for the batch (the batch's bookkeeping was measurable on unpipelined SETs).
   */
  issue(st: ServerState): Promise<Reply> | undefined {
    const writes = this.#writes;
    // Caught at once: a rejection nobody handles yet would end the process.
    if (writes.length === 1) return blindWrite(st, writes[0]).catch(errorReply);
    this.#replies = blindWrites(st, writes);
    return undefined;
  }

  /** Each write's reply, in order, once the store has answered them all. */
  replies(): Promise<Reply[]> {
    return this.#replies!;
  }
}
