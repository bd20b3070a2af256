// lmdb-js from npm (native addon), binary keys and values, driven the way its README
// recommends: synchronous reads from the memory map, asynchronous put()/remove() that its
// commit thread batches into one transaction per event turn.

import { open, type RootDatabase } from "lmdb";
import type { Keys, Writes } from "../data.ts";
import { type Engine, PIPELINE, type ReadTally, type Store } from "../store.ts";

type Db = RootDatabase<Uint8Array, Uint8Array>;

class LmdbStore implements Store {
  constructor(private db: Db, private durable: boolean) {}

  // With overlappingSync (the Linux default) a write's promise resolves at commit, and
  // db.flushed once that commit is fsynced: a durable acknowledgement needs both.
  async #acknowledged(last: Promise<boolean>): Promise<void> {
    await last;
    if (this.durable) await this.db.flushed;
  }

  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.#acknowledged(this.db.put(key, value));
  }

  // Writes issued in one event turn land in one transaction, so the last promise of a
  // group resolving means the whole group committed.
  async #pipelined(count: number, op: (i: number) => Promise<boolean>): Promise<void> {
    for (let start = 0; start < count; start += PIPELINE) {
      const end = Math.min(count, start + PIPELINE);
      let last: Promise<boolean> = Promise.resolve(true);
      for (let i = start; i < end; i++) last = op(i);
      await this.#acknowledged(last);
    }
  }

  load(w: Writes): Promise<void> {
    return this.#pipelined(w.count, (i) => this.db.put(w.key(i), w.value(i)));
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.db.get(key));
  }

  read(keys: Keys): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for (let i = 0; i < keys.count; i++) {
      const v = this.db.get(keys.key(i));
      if (v !== undefined) {
        t.hits++;
        t.bytes += v.length;
      }
    }
    return Promise.resolve(t);
  }

  scan(): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for (const { value } of this.db.getRange({})) {
      t.hits++;
      t.bytes += value.length;
    }
    return Promise.resolve(t);
  }

  scanFrom(start: Uint8Array, limit: number): Promise<number> {
    let count = 0;
    for (const _ of this.db.getRange({ start, limit })) count++;
    return Promise.resolve(count);
  }

  deleteAll(keys: Keys): Promise<void> {
    return this.#pipelined(keys.count, (i) => this.db.remove(keys.key(i)));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const engine: Engine = {
  notes: [
    "fsync off: `noSync: true`; durable: default sync settings (overlappingSync), and a write counts as acknowledged once its put() promise and then `db.flushed` resolved",
    `one-at-a-time rows: await put() per write (one commit each); pipelined rows: ${PIPELINE} put()/remove() calls in one event turn (lmdb-js's commit thread makes them one transaction), then await the last; reads: synchronous get(); scans: getRange()`,
    "no compaction API (freed pages are reused in place; only a compacting copy exists); RSS includes the touched pages of its memory map",
  ],
  open: (dir, durable) =>
    Promise.resolve(
      new LmdbStore(
        open<Uint8Array, Uint8Array>({
          path: dir,
          encoding: "binary",
          keyEncoding: "binary",
          noSync: !durable,
        }),
        durable,
      ),
    ),
};
