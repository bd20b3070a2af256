/**
 * What the server's read-modify-writes wrote while their writes wait for
 * their fsync. Under sync "always" the store applies a write only once it is
 * durable, so an INCR that read the store would have to wait a whole group
 * commit for the INCR before it. Instead each read-modify-write records the
 * entries it wrote here as it issues them, and the next one on those keys
 * reads them here (see key_locks.ts).
 *
 * A record is trusted only while the store still lists its write as the
 * key's newest one in flight (`stillInFlight`): once that write is applied,
 * the store itself has the value, and once it is dropped (its write failed),
 * the store has the value from before it. Building on a write that is later
 * dropped is safe, because the store drops every write appended after a
 * dropped one too: no write that read a record outlives the write it read.
 * @module
 */

import {
  appendedSeq,
  type InFlightWrite,
  inFlightWrite,
  stillInFlight,
  writeDrops,
} from "../api/store.ts";
import type { Cask } from "../../mod.ts";
import type { Entry, InFlightEntries } from "./keyspace.ts";
import { byteString } from "./words.ts";

/** One recorded write; see {@link InFlightEntries}. */
export interface PendingWrite {
  readonly write: InFlightWrite;
  /** What the key holds once the write is applied; null when it is deleted. */
  readonly entry: Entry | null;
  /** Settles once the write is applied or dropped. */
  readonly settled: Promise<unknown>;
}

/** The entries written by read-modify-writes in flight, by key; see the module doc. */
export class PendingWrites implements InFlightEntries {
  readonly #byKey = new Map<string, PendingWrite>();

  /**
   * Records the entries just issued, right after the `db.atomic()` call that
   * wrote them (`done`, its promise); `before` is {@link appended} from just
   * before the call. Returns the records to {@link settled} once that call
   * settles, or undefined when the write is not in flight: applied at once, or
   * refused (then the key's newest write in flight is an earlier one, whose
   * record must stay).
   */
  issued(
    db: Cask,
    written: Iterable<{ key: Uint8Array; entry: Entry | null }>,
    before: number,
    done: Promise<unknown>,
  ): Map<string, PendingWrite> | undefined {
    if (appendedSeq(db) === before) return undefined;
    let mine: Map<string, PendingWrite> | undefined;
    for (const { key, entry } of written) {
      const write = inFlightWrite(db, key);
      if (write === undefined) continue;
      const record = { write, entry, settled: done };
      const id = byteString(key);
      this.#byKey.set(id, record);
      (mine ??= new Map()).set(id, record);
    }
    return mine;
  }

  /**
   * The sequence number of the newest write appended ({@link appendedSeq}):
   * a call that leaves it unchanged appended nothing.
   */
  appended(db: Cask): number {
    return appendedSeq(db);
  }

  /** Forgets `records`, unless a later write replaced them. */
  settled(records: Map<string, PendingWrite>): void {
    for (const [id, record] of records) {
      if (this.#byKey.get(id) === record) this.#byKey.delete(id);
    }
  }

  /**
   * The record of `key`'s newest write if it is still in flight; undefined
   * when none is, so the store has the key's latest value.
   */
  record(db: Cask, key: Uint8Array, id = byteString(key)): PendingWrite | undefined {
    const record = this.#byKey.get(id);
    if (record === undefined) return undefined;
    if (stillInFlight(db, key, record.write)) return record;
    this.#byKey.delete(id);
    return undefined;
  }

  /**
   * Whether writes in flight were dropped since `drops` (an
   * {@link InFlightWrite}'s): a write built on a record read before may now
   * build on one that never happened.
   */
  droppedSince(db: Cask, drops: number): boolean {
    return writeDrops(db) !== drops;
  }
}
