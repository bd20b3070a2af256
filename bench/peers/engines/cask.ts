// Cask itself, driven the way its README tells users to: plain awaited calls.

import { type BatchOp, type Cask, open } from "../../../mod.ts";
import type { Keys, Writes } from "../data.ts";
import type { Engine, ReadTally, Store } from "../store.ts";

class CaskStore implements Store {
  constructor(private db: Cask) {}

  async load(w: Writes): Promise<void> {
    for (let i = 0; i < w.count; i++) await this.db.set(w.key(i), w.value(i));
  }

  async loadBatched(w: Writes, size: number): Promise<void> {
    for (let start = 0; start < w.count; start += size) {
      const ops: BatchOp[] = [];
      const end = Math.min(w.count, start + size);
      for (let i = start; i < end; i++) ops.push({ type: "set", key: w.key(i), value: w.value(i) });
      await this.db.atomic(ops);
    }
  }

  putDurable(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.db.set(key, value);
  }

  async read(keys: Keys): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for (let i = 0; i < keys.count; i++) {
      const v = await this.db.get(keys.key(i));
      if (v !== undefined) {
        t.hits++;
        t.bytes += v.length;
      }
    }
    return t;
  }

  async scan(): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for await (const [, v] of this.db.scan()) {
      t.hits++;
      t.bytes += v.length;
    }
    return t;
  }

  async deleteAll(keys: Keys): Promise<void> {
    for (let i = 0; i < keys.count; i++) await this.db.delete(keys.key(i));
  }

  async compact(): Promise<void> {
    await this.db.compact();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const engine: Engine = {
  notes: [
    'non-durable writes: sync "never", one awaited set()/delete() per op (no batching); fillrandom-batch: awaited atomic() of 1000 sets',
    'durable writes: sync "always" (set() resolves after fdatasync; concurrent writers share one, group commit); reads: awaited get() per key',
  ],
  open: async (dir, durable) =>
    new CaskStore(await open(dir, { sync: durable ? "always" : "never" })),
};
