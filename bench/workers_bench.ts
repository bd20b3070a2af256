/**
 * Threads: `deno bench -A bench/workers_bench.ts`.
 * - Reads: 40,000 gets of random keys (10,000 keys of 100 bytes) by the owning
 *   thread alone (the baseline) against the same gets split over 1, 2 and 4
 *   Workers attached to it: with their read caches (warmed by one pass), and
 *   with the cache off (every get forwarded to the owner). The target:
 *   2 Workers at least 1.7x one thread on a 2-core machine.
 * - Writes: 2,000 sets by the owner against 2,000 sets by one Worker, under
 *   sync "never" awaited one at a time (the round trip between threads shows)
 *   and 16 in flight, and under sync "always" 16 in flight (fsyncs and group
 *   commit dominate); the same mode on both sides.
 * @module
 */

import { type AttachOptions, type Cask, open } from "../mod.ts";
import { WorkerChild } from "../tests/children/worker_driver.ts";

const KEYS = Array.from({ length: 10_000 }, (_, i) => `key:${i}`);
const READS = 40_000;
const SETS = 2_000;
const value = new Uint8Array(100).fill(0x2a);

// Workers start once: starting one type-checks its module graph (seconds).
const workers = Array.from({ length: 4 }, () => new WorkerChild());
const dir = await Deno.makeTempDir({ prefix: "cask-bench-" });
const db = await open(dir, { sync: "never" });
await db.atomic(KEYS.map((key) => ({ type: "set", key, value })));
globalThis.addEventListener("unload", () => {
  for (const w of workers) w.terminate();
  Deno.removeSync(dir, { recursive: true });
});

async function ownerReads(count: number, seed: number): Promise<void> {
  let i = seed >>> 0;
  for (let n = 0; n < count; n++) {
    i = (Math.imul(i, 1103515245) + 12345) >>> 0;
    if (await db.get(KEYS[i % KEYS.length]) === undefined) throw new Error("missing key");
  }
}

async function workerReads(b: Deno.BenchContext, n: number, options: AttachOptions) {
  const ws = workers.slice(0, n);
  for (const w of ws) await w.attach(db, options);
  // Warm-up: one pass fills the caches (and the page cache for the owner).
  await Promise.all(ws.map((w, i) => w.value({ cmd: "reads", keys: KEYS, count: 5_000, seed: i })));
  b.start();
  await Promise.all(
    ws.map((w, i) => w.value({ cmd: "reads", keys: KEYS, count: READS / n, seed: 100 + i })),
  );
  b.end();
}

const reads = `${READS} gets`;
const runs = { n: 4, warmup: 1 };
Deno.bench({
  name: "owner thread alone",
  group: reads,
  baseline: true,
  ...runs,
  fn: async (b) => {
    await ownerReads(5_000, 0);
    b.start();
    await ownerReads(READS, 100);
    b.end();
  },
});
for (const n of [1, 2, 4]) {
  Deno.bench({
    name: `${n} Worker${n > 1 ? "s" : ""}, cached`,
    group: reads,
    ...runs,
    fn: async (b) => await workerReads(b, n, {}),
  });
}
for (const n of [1, 2]) {
  Deno.bench({
    name: `${n} Worker${n > 1 ? "s" : ""}, cache off (forwarded)`,
    group: reads,
    ...runs,
    fn: async (b) => await workerReads(b, n, { cacheBytes: 0 }),
  });
}

async function ownerSets(store: Cask, prefix: string, concurrency: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < SETS) await store.set(`${prefix}${next++}`, value);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

// A store per sync mode, opened on first use.
const stores = new Map<string, Promise<Cask>>();
function storeFor(sync: "never" | "always"): Promise<Cask> {
  if (!stores.has(sync)) stores.set(sync, open(`${dir}/${sync}`, { sync }));
  return stores.get(sync)!;
}

let round = 0;
const setCases = [["never", 1], ["never", 16], ["always", 16]] as const;
for (const [sync, concurrency] of setCases) {
  const group = `${SETS} sets, sync "${sync}", ${concurrency} in flight`;
  Deno.bench({
    name: "owner's set",
    group,
    baseline: true,
    n: 3,
    warmup: 1,
    fn: async (b) => {
      const store = await storeFor(sync);
      b.start();
      await ownerSets(store, `o${round++}:`, concurrency);
      b.end();
    },
  });
  Deno.bench({
    name: "Worker's set",
    group,
    n: 3,
    warmup: 1,
    fn: async (b) => {
      const store = await storeFor(sync);
      await workers[0].attach(store);
      b.start();
      await workers[0].value({ cmd: "sets", prefix: `w${round++}:`, count: SETS, concurrency });
      b.end();
    },
  });
}
