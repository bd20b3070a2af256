// Cask itself, driven the way its README tells users to: awaited calls, with many
// set()s in flight when there is bulk work (they share one append buffer, and one
// fdatasync under sync "always": group commit), and getSync() in loops of reads, as
// lmdb-js's synchronous get() is used in its adapter.

import { type Cask, open } from "../../../mod.ts";
import type { Keys, Writes } from "../data.ts";
import { type Engine, PIPELINE, type ReadTally, type Store } from "../store.ts";

class CaskStore implements Store {
  constructor(private db: Cask) {}

  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.db.set(key, value);
  }

  async load(w: Writes): Promise<void> {
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < w.count; i++) {
      inFlight.push(this.db.set(w.key(i), w.value(i)));
      if (inFlight.length === PIPELINE) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.db.get(key);
  }

  read(keys: Keys): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for (let i = 0; i < keys.count; i++) {
      const v = this.db.getSync(keys.key(i));
      if (v !== undefined) {
        t.hits++;
        t.bytes += v.length;
      }
    }
    return Promise.resolve(t);
  }

  async scan(): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for await (const [, v] of this.db.scan()) {
      t.hits++;
      t.bytes += v.length;
    }
    return t;
  }

  async scanFrom(start: Uint8Array, limit: number): Promise<number> {
    let count = 0;
    for await (const _ of this.db.scan({ start, limit })) count++;
    return count;
  }

  async deleteAll(keys: Keys): Promise<void> {
    const inFlight: Promise<boolean>[] = [];
    for (let i = 0; i < keys.count; i++) {
      inFlight.push(this.db.delete(keys.key(i)));
      if (inFlight.length === PIPELINE) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
  }

  async compact(): Promise<void> {
    await this.db.compact();
  }

  indexBytesPerKey(): number {
    return this.db.stats().index.bytesPerKey;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

// CASK_BENCH_MMAP=1 opens with `mmap: true`: sealed files (every file but the one being
// appended to) are read through memory maps, as lmdb-js reads its whole file.
const MMAP = Deno.env.get("CASK_BENCH_MMAP") === "1";
// CASK_BENCH_INLINE_FSYNC=1 opens with `inlineFsync: true`: durable rows fsync on the
// JavaScript thread, as node:sqlite's synchronous calls do.
const INLINE_FSYNC = Deno.env.get("CASK_BENCH_INLINE_FSYNC") === "1";

export const engine: Engine = {
  compactsInBackground: true,
  notes: [
    ...(MMAP
      ? ["mmap: true (sealed files read through memory maps; the active file by pread)"]
      : []),
    ...(INLINE_FSYNC ? ["inlineFsync: true (the fsync on the JavaScript thread)"] : []),
    'fsync off: sync "never" (appends reach the OS page cache, no fsync); durable: sync "always" (set() resolves after the fdatasync that covers it; writes in flight together share one: group commit)',
    `one-at-a-time rows: await set() per write; pipelined rows: ${PIPELINE} set()/delete() calls in flight, then Promise.all; readrandom/readmissing: getSync() per key; YCSB reads: await get(), as for every engine; scans: for await over scan()`,
    "compaction runs between other operations (it yields at every chunk), so YCSB A can run during it",
  ],
  open: async (dir, durable) =>
    new CaskStore(
      await open(dir, {
        sync: durable ? "always" : "never",
        mmap: MMAP,
        inlineFsync: INLINE_FSYNC,
      }),
    ),
};
