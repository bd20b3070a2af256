/**
 * Threads: `deno bench -A bench/workers_bench.ts`.
 * - Reads: 40,000 gets of random keys (10,000 keys of 100 bytes) by the owning
 *   thread alone (the baseline) against the same gets split over 1, 2 and 4
 *   Workers attached to it: with their read caches (warmed by one pass), and
 *   with the cache off (every get forwarded to the owner). The target:
 *   2 Workers at least 1.7x one thread on a 2-core machine. For comparison,
 *   the read path of the other design: Workers that each open a read-only
 *   follower of the directory (timed: the gets only, not the open).
 * - Writes: 2,000 sets by the owner against 2,000 sets by one Worker, under
 *   sync "never" awaited one at a time (the round trip between threads shows)
 *   and 16 in flight, and under sync "always" 16 in flight (fsyncs and group
 *   commit dominate); the same mode on both sides.
 *
 * The machine may be shared: at exit the bench prints, per read case, the CPU
 * time the process got over the timed sections divided by their wall time
 * ("cores used"). Below 2, the Workers could not all run at once, and the
 * ratios say more about the neighbours than about Cask.
 * @module
 */

import process from "node:process";
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
// Followers read files, not the owner's buffer: everything is written out first.
await db.sync();
const followers = Array.from(
  { length: 2 },
  () =>
    new Worker(new URL("../tests/children/follower_reader.ts", import.meta.url).href, {
      type: "module",
    }),
);
function ask(w: Worker, m: object): Promise<void> {
  return new Promise((resolve, reject) => {
    w.onmessage = (e) => e.data.error ? reject(new Error(e.data.error)) : resolve();
    w.postMessage(m);
  });
}
// Every thread started (and type-checked) before anything is timed.
await Promise.all([
  ...workers.map((w) => w.attach(db)),
  ...followers.map(async (w) => {
    await ask(w, { open: dir });
    await ask(w, { close: true });
  }),
]);
// Per read case: [CPU ms, wall ms] over the timed sections.
const usage = new Map<string, [number, number]>();
globalThis.addEventListener("unload", () => {
  for (const w of [...workers, ...followers]) w.terminate();
  Deno.removeSync(dir, { recursive: true });
  console.log("\ncores used over the timed sections (CPU time / wall time):");
  for (const [name, [cpu, wall]] of usage) {
    console.log(`  ${name.padEnd(34)} ${(cpu / wall).toFixed(2)}`);
  }
});

// Runs `f` between b.start() and b.end(), adding its CPU and wall time to `name`.
async function timed(b: Deno.BenchContext, name: string, f: () => Promise<unknown>) {
  const c0 = process.cpuUsage(), t0 = performance.now();
  b.start();
  await f();
  b.end();
  const wall = performance.now() - t0, c = process.cpuUsage(c0);
  const [cpu, w] = usage.get(name) ?? [0, 0];
  usage.set(name, [cpu + (c.user + c.system) / 1000, w + wall]);
}

async function ownerReads(count: number, seed: number): Promise<void> {
  let i = seed >>> 0;
  for (let n = 0; n < count; n++) {
    i = (Math.imul(i, 1103515245) + 12345) >>> 0;
    if (await db.get(KEYS[i % KEYS.length]) === undefined) throw new Error("missing key");
  }
}

async function workerReads(
  b: Deno.BenchContext,
  name: string,
  n: number,
  options: AttachOptions,
) {
  const ws = workers.slice(0, n);
  for (const w of ws) await w.attach(db, options);
  // Warm-up: a read of every key fills the caches.
  await Promise.all(ws.map((w) => w.value({ cmd: "readEach", keys: KEYS })));
  await timed(b, name, () =>
    Promise.all(
      ws.map((w, i) => w.value({ cmd: "reads", keys: KEYS, count: READS / n, seed: 100 + i })),
    ));
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
    await timed(b, "owner thread alone", () => ownerReads(READS, 100));
  },
});
const readCases = [
  [1, "cached", {}],
  [2, "cached", {}],
  [4, "cached", {}],
  [1, "cache off (forwarded)", { cacheBytes: 0 }],
  [2, "cache off (forwarded)", { cacheBytes: 0 }],
] as const;
for (const n of [1, 2]) {
  const name = `${n} follower${n > 1 ? "s" : ""} (read-only opens)`;
  Deno.bench({
    name,
    group: reads,
    ...runs,
    fn: async (b) => {
      const ws = followers.slice(0, n);
      await Promise.all(ws.map((w) => ask(w, { open: dir })));
      await Promise.all(ws.map((w, i) => ask(w, { keys: KEYS, count: 5_000, seed: i })));
      await timed(
        b,
        name,
        () =>
          Promise.all(ws.map((w, i) => ask(w, { keys: KEYS, count: READS / n, seed: 100 + i }))),
      );
      await Promise.all(ws.map((w) => ask(w, { close: true })));
    },
  });
}
for (const [n, how, options] of readCases) {
  const name = `${n} Worker${n > 1 ? "s" : ""}, ${how}`;
  Deno.bench({
    name,
    group: reads,
    ...runs,
    fn: async (b) => await workerReads(b, name, n, options),
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
