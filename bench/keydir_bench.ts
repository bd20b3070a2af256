/**
 * KeyDir against a plain Map<string, Entry> on 1M random 16-byte keys.
 *
 *   deno bench -A bench/keydir_bench.ts
 *
 * The engine decodes a new key string for every call, and V8 hashes a string the first
 * time it is looked up in a Map, so the main lookup groups build the key string inside
 * the timed call (same cost on both sides). "reused key strings" shows Map's best case:
 * the same string objects in every pass, so their hashes are cached.
 * @module
 */
import { type Entry, KeyDir } from "../src/index/keydir.ts";

const N = 1_000_000;
const KEY_BYTES = 16;

// One spare byte so that every 17-byte window from a key's start exists (see missKey).
const bytes = new Uint8Array(N * KEY_BYTES + 1).map(() => Math.random() * 256);
/** Key i as a new flat one-byte string, the form the engine decodes keys into. */
function key(i: number, length = KEY_BYTES): string {
  return String.fromCharCode.apply(
    null,
    bytes.subarray(i * KEY_BYTES, i * KEY_BYTES + length) as unknown as number[],
  );
}
/** A key one byte longer than key i: absent, but it shares key i's whole path. */
const missKey = (i: number) => key(i, KEY_BYTES + 1);

function entry(i: number): Entry {
  return { fileId: i >>> 16, offset: i * 64, size: 100, timestamp: 1.7e12 + i, expireAt: 0 };
}

function shuffled<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const keys = Array.from({ length: N }, (_, i) => key(i));
const ascending = [...keys].sort();
const entries = keys.map((_, i) => entry(i));
// Lookups visit the keys in an order unrelated to insertion.
const order = shuffled(Array.from({ length: N }, (_, i) => i));

function fillMap(from = keys): Map<string, Entry> {
  const map = new Map<string, Entry>();
  for (let i = 0; i < N; i++) map.set(from[i], entries[i]);
  return map;
}

function fillDir(from = keys): KeyDir {
  const dir = new KeyDir();
  for (let i = 0; i < N; i++) dir.set(from[i], entries[i]);
  return dir;
}

const map = fillMap();
const dir = fillDir();

// Results feed a sink so the optimizer cannot drop lookups whose value goes unused.
let sink = 0;

// Lookup benchmarks do one pass of 1M lookups per iteration, so ms per iteration reads
// as ns per lookup.
function lookups(
  group: string,
  name: "Map.get" | "KeyDir.get",
  lookup: (i: number) => Entry | undefined,
  warmup: number,
): void {
  const hit = group.includes("hit");
  Deno.bench({
    name,
    group,
    baseline: name === "Map.get",
    n: 3,
    warmup,
    fn: () => {
      for (let i = 0; i < N; i++) {
        const e = lookup(order[i]);
        sink += hit ? e!.offset : e === undefined ? 1 : 0;
      }
    },
  });
}

const perCall = "get hit ×1M, new key string per call";
lookups(perCall, "Map.get", (i) => map.get(key(i)), 1);
lookups(perCall, "KeyDir.get", (i) => dir.get(key(i)), 1);
const missPerCall = "get miss ×1M, new key string per call";
lookups(missPerCall, "Map.get", (i) => map.get(missKey(i)), 1);
lookups(missPerCall, "KeyDir.get", (i) => dir.get(missKey(i)), 1);
// The same string objects every pass, so Map finds their hashes cached.
const warm = "get hit ×1M, reused key strings";
const reused = keys.map((_, i) => key(i));
lookups(warm, "Map.get", (i) => map.get(reused[i]), 2);
lookups(warm, "KeyDir.get", (i) => dir.get(reused[i]), 2);

// Whole-structure operations: one iteration handles all 1M keys. The key strings are
// reused, so Map.set/delete find their hashes cached.
const bulk = { n: 5, warmup: 1 };

Deno.bench({
  name: "Map.set random",
  group: "insert 1M",
  baseline: true,
  ...bulk,
  fn: () => void fillMap(),
});
Deno.bench({ name: "KeyDir.set random", group: "insert 1M", ...bulk, fn: () => void fillDir() });
Deno.bench({
  name: "KeyDir.set ascending",
  group: "insert 1M",
  ...bulk,
  fn: () => void fillDir(ascending),
});

Deno.bench({
  name: "Map.delete random",
  group: "delete 1M",
  baseline: true,
  ...bulk,
  fn: (b) => {
    const m = fillMap();
    b.start();
    for (const i of order) m.delete(keys[i]);
    b.end();
  },
});
Deno.bench({
  name: "KeyDir.delete random",
  group: "delete 1M",
  ...bulk,
  fn: (b) => {
    const d = fillDir();
    b.start();
    for (const i of order) d.delete(keys[i]);
    b.end();
  },
});

Deno.bench({
  name: "Map iteration (unordered)",
  group: "scan 1M",
  baseline: true,
  ...bulk,
  fn: () => {
    for (const [, e] of map) sink += e.size;
  },
});
Deno.bench({
  name: "KeyDir.range()",
  group: "scan 1M",
  ...bulk,
  fn: () => {
    for (const [, e] of dir.range()) sink += e.size;
  },
});
