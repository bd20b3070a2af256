// lmdb-js from npm (native addon), binary keys and values, default sync settings.

import { open, type RootDatabase } from "lmdb";
import type { Keys, Writes } from "../data.ts";
import type { Engine, ReadTally, Store } from "../store.ts";

// put() queues into lmdb-js's own async batches; awaiting only every this-many ops keeps
// the queue bounded without forcing one commit per write.
const AWAIT_EVERY = 1000;

class LmdbStore implements Store {
  constructor(private db: RootDatabase<Uint8Array, Uint8Array>) {}

  async load(w: Writes): Promise<void> {
    let last: Promise<boolean> = Promise.resolve(true);
    for (let i = 0; i < w.count; i++) {
      last = this.db.put(w.key(i), w.value(i));
      if (i % AWAIT_EVERY === AWAIT_EVERY - 1) await last;
    }
    await last;
  }

  async loadBatched(w: Writes, size: number): Promise<void> {
    for (let start = 0; start < w.count; start += size) {
      const end = Math.min(w.count, start + size);
      await this.db.transaction(() => {
        for (let i = start; i < end; i++) this.db.put(w.key(i), w.value(i));
      });
    }
  }

  async putDurable(key: Uint8Array, value: Uint8Array): Promise<void> {
    // With overlappingSync (the Linux default) put() resolves at commit; flushed is the fsync.
    await this.db.put(key, value);
    await this.db.flushed;
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

  async deleteAll(keys: Keys): Promise<void> {
    let last: Promise<boolean> = Promise.resolve(true);
    for (let i = 0; i < keys.count; i++) {
      last = this.db.remove(keys.key(i));
      if (i % AWAIT_EVERY === AWAIT_EVERY - 1) await last;
    }
    await last;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const engine: Engine = {
  notes: [
    `non-durable writes/deletes: put()/remove() queued into lmdb-js async batches, awaited every ${AWAIT_EVERY} ops (commits still fsync, overlapped)`,
    "fillrandom-batch: one awaited transaction() per 1000 puts; durable writes: await put() then db.flushed",
    "no compaction API (freed pages are reused in place; only a compacting copy exists); RSS includes the touched pages of its memory map",
  ],
  open: (dir) =>
    Promise.resolve(
      new LmdbStore(
        open<Uint8Array, Uint8Array>({ path: dir, encoding: "binary", keyEncoding: "binary" }),
      ),
    ),
};
