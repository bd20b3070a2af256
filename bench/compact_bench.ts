/**
 * Compaction against the disk. A store whose every key was written three times
 * is compacted; the group's baseline writes the same number of live bytes to a
 * file in 1 MiB chunks with one fdatasync, the disk's sequential bandwidth in
 * the same run. `deno bench -A bench/compact_bench.ts`: the summary line of
 * each group says how many times slower compaction is (the target: at most 2x,
 * i.e. half the sequential write bandwidth).
 * @module
 */

import { open } from "../mod.ts";

const MiB = 1024 * 1024;

interface Shape {
  group: string;
  keys: number;
  valueSize: number;
}

const SHAPES: Shape[] = [
  { group: "100k keys, 100-byte values, written 3x", keys: 100_000, valueSize: 100 },
  { group: "64 keys, 1 MiB values, written 3x", keys: 64, valueSize: MiB },
];

// What one compaction of each shape writes, measured once so the baseline writes as much.
const outBytes = new Map<Shape, number>();

async function compaction(b: Deno.BenchContext, s: Shape): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cask-bench-" });
  const db = await open(dir, { sync: "never" });
  try {
    const value = new Uint8Array(s.valueSize).fill(0x2a);
    for (let pass = 0; pass < 3; pass++) {
      // A different order each pass scatters the live records over the files; the
      // steps are primes other than 2 and 5, so each pass writes every key once.
      const step = [1, 7919, 7927][pass];
      for (let i = 0; i < s.keys; i++) {
        await db.set(`key${String((i * step) % s.keys).padStart(8, "0")}`, value);
      }
    }
    await db.sync();
    b.start();
    const r = await db.compact();
    b.end();
    outBytes.set(s, r.bytesOut);
  } finally {
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function sequentialWrite(b: Deno.BenchContext, bytes: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cask-bench-" });
  const chunk = new Uint8Array(MiB).fill(0x2a);
  try {
    using f = await Deno.open(`${dir}/seq`, { write: true, create: true });
    b.start();
    for (let done = 0; done < bytes; done += MiB) {
      const piece = chunk.subarray(0, Math.min(MiB, bytes - done));
      for (let off = 0; off < piece.length;) off += await f.write(piece.subarray(off));
    }
    await f.syncData();
    b.end();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const runs = { n: 5, warmup: 1 };
for (const s of SHAPES) {
  // Registered first so it runs first and measures the bytes the baseline then writes.
  Deno.bench({ name: "compact", group: s.group, ...runs, fn: async (b) => await compaction(b, s) });
  Deno.bench({
    name: "same live bytes, sequential write + fdatasync",
    group: s.group,
    baseline: true,
    ...runs,
    fn: async (b) => await sequentialWrite(b, outBytes.get(s)!),
  });
}
