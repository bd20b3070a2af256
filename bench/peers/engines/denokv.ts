// Deno KV (local SQLite backend) through its public API only.

import type { Keys, Writes } from "../data.ts";
import { type Engine, PIPELINE, type ReadTally, type Store } from "../store.ts";

// Deno KV rejects atomic operations with more than 1000 mutations or 800 KiB of them.
const MAX_ATOMIC = Math.min(PIPELINE, 1000);
const MAX_ATOMIC_BYTES = 800 * 1024;
// Key and per-mutation overhead, kept out of the byte budget with room to spare.
const MUTATION_OVERHEAD = 64;

class DenoKvStore implements Store {
  constructor(private kv: Deno.Kv) {}

  /** Commits `op(a, i)` for i in 0..count-1 in as few atomics as its limits allow. */
  async #atomics(
    count: number,
    op: (a: Deno.AtomicOperation, i: number) => number,
  ): Promise<void> {
    let a = this.kv.atomic();
    let ops = 0;
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const size = op(a, i) + MUTATION_OVERHEAD;
      ops++;
      bytes += size;
      if (ops === MAX_ATOMIC || bytes + size > MAX_ATOMIC_BYTES) {
        await a.commit();
        a = this.kv.atomic();
        ops = 0;
        bytes = 0;
      }
    }
    if (ops > 0) await a.commit();
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.kv.set([key], value);
  }

  load(w: Writes): Promise<void> {
    return this.#atomics(w.count, (a, i) => {
      const value = w.value(i);
      a.set([w.key(i)], value);
      return value.length;
    });
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return (await this.kv.get<Uint8Array>([key])).value ?? undefined;
  }

  async read(keys: Keys): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for (let i = 0; i < keys.count; i++) {
      const e = await this.kv.get<Uint8Array>([keys.key(i)]);
      if (e.value !== null) {
        t.hits++;
        t.bytes += e.value.length;
      }
    }
    return t;
  }

  async scan(): Promise<ReadTally> {
    const t = { hits: 0, bytes: 0 };
    for await (const e of this.kv.list<Uint8Array>({ prefix: [] })) {
      t.hits++;
      t.bytes += e.value.length;
    }
    return t;
  }

  async scanFrom(start: Uint8Array, limit: number): Promise<number> {
    let count = 0;
    const end = new Uint8Array(17).fill(0xff);
    for await (const _ of this.kv.list({ start: [start], end: [end] }, { limit })) count++;
    return count;
  }

  deleteAll(keys: Keys): Promise<void> {
    return this.#atomics(keys.count, (a, i) => {
      a.delete([keys.key(i)]);
      return 0;
    });
  }

  close(): Promise<void> {
    this.kv.close();
    return Promise.resolve();
  }
}

// At 1M keys its chain alone took ~9 minutes here (awaited get() ~12k/s, shuffled
// atomic writes ~10-20k/s), more than every other engine together.
const MAX_N = 100_000;

// Each of its one-at-a-time writes is a commit with an fsync (~1-2k/s here).
const MAX_ONE_AT_A_TIME = 5000;

export const engine: Engine = {
  maxN: MAX_N,
  maxOneAtATimeWrites: MAX_ONE_AT_A_TIME,
  fsyncsEveryCommit: true,
  notes: [
    `runs at most ${
      MAX_N.toLocaleString("en-US")
    } keys (YCSB records too): its full-size run takes far longer than the rest of the suite; a smaller store is friendlier to its caches, so ratios against it favour it`,
    "fsyncs every commit and exposes no setting to stop it, so its fsync-off rows fsync too (the durable rows use the same store settings): those rows give no ratio against Cask, which does not fsync there",
    `one-at-a-time rows: await kv.set() per write, ${
      MAX_ONE_AT_A_TIME.toLocaleString("en-US")
    } writes at most; pipelined rows: atomic() batches of up to ${MAX_ATOMIC} writes and 800 KiB (its per-atomic limits); reads: await kv.get() per key; scans: kv.list()`,
    "values are limited to 64 KiB, so the 1 MiB workloads cannot run",
  ],
  // The same settings serve both modes: Deno KV exposes no durability knob.
  open: async (dir) => new DenoKvStore(await Deno.openKv(`${dir}/kv.sqlite3`)),
};
