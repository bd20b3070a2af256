/**
 * Group commit. Durable throughput (sync "always") of one writer awaiting each
 * `set` against 64 concurrent writers, for the same total of sets in the same
 * run: `deno bench -A bench/durability_bench.ts`. The summary line gives the
 * ratio; the target is 64 writers at least 20x faster than one. The same two
 * with `inlineFsync: true` (the fsync on the JavaScript thread) follow.
 * @module
 */

import { open } from "../mod.ts";

const OPS = 2000;
const value = new Uint8Array(100).fill(0x2a);

async function durableSets(
  b: Deno.BenchContext,
  writers: number,
  inlineFsync = false,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cask-bench-" });
  const db = await open(dir, { inlineFsync });
  try {
    let next = 0;
    const writer = async () => {
      while (next < OPS) await db.set(`key${next++}`, value);
    };
    b.start();
    await Promise.all(Array.from({ length: writers }, writer));
    b.end();
  } finally {
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const group = `${OPS} durable sets`;
// Few iterations: one of the sequential runs is 2000 fsyncs.
const runs = { n: 5, warmup: 1 };
// Async functions, not functions returning a promise: the runner awaits only those.
Deno.bench({
  name: "1 writer",
  group,
  baseline: true,
  ...runs,
  fn: async (b) => await durableSets(b, 1),
});
Deno.bench({ name: "64 writers", group, ...runs, fn: async (b) => await durableSets(b, 64) });
for (const writers of [1, 64]) {
  Deno.bench({
    name: `${writers} writer${writers > 1 ? "s" : ""}, inlineFsync`,
    group,
    ...runs,
    fn: async (b) => await durableSets(b, writers, true),
  });
}
