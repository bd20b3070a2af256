/**
 * Point reads and scans on a 100k-key store. `deno bench -A bench/get_bench.ts`.
 * The baseline of the lookup group is a plain Map<string, Uint8Array> holding the
 * same keys and values: the floor for an in-memory index with values in memory.
 * @module
 */

import { open } from "../mod.ts";
import { prng, randomBytes } from "../tests/helpers.ts";

const KEYS = 100_000;
// Lookups per bench iteration, so the harness's per-call overhead stays negligible.
const BATCH = 1000;

const dir = await Deno.makeTempDir({ prefix: "cask-bench-" });
const db = await open(dir, { sync: "never" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const rand = prng(1);
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
// 16-byte keys of random hex, 100-byte values: the peers benchmark's shape.
const keys = Array.from({ length: KEYS }, () => hex(randomBytes(rand, 8)));
const map = new Map<string, Uint8Array>();
for (const k of keys) {
  const v = randomBytes(rand, 100);
  map.set(k, v);
  await db.set(k, v);
}
await db.sync();

// Random existing keys, the same sequence for every contender.
const PICKS = 1 << 16;
const picks = Array.from({ length: PICKS }, () => keys[(rand() * KEYS) | 0]);
let next = 0;
const pick = () => picks[next++ & (PICKS - 1)];

Deno.bench("Map.get", { group: "lookup ×1000", baseline: true }, () => {
  for (let i = 0; i < BATCH; i++) if (map.get(pick()) === undefined) throw new Error("missing");
});
Deno.bench("cask get", { group: "lookup ×1000" }, async () => {
  for (let i = 0; i < BATCH; i++) {
    if ((await db.get(pick())) === undefined) throw new Error("missing");
  }
});
Deno.bench("cask has", { group: "lookup ×1000" }, async () => {
  for (let i = 0; i < BATCH; i++) if (!(await db.has(pick()))) throw new Error("missing");
});

// A two-hex-digit prefix holds ~1/256 of the keys (~390).
const prefix = keys[0].slice(0, 2);
const inPrefix = keys.filter((k) => k.startsWith(prefix)).length;

async function count(it: AsyncIterable<unknown>, want: number): Promise<void> {
  let n = 0;
  for await (const _ of it) n++;
  if (n !== want) throw new Error(`scanned ${n}, expected ${want}`);
}

Deno.bench(`cask scan, all ${KEYS} keys`, { group: "scan" }, async () => {
  await count(db.scan(), KEYS);
});
Deno.bench(`cask keys, all ${KEYS} keys`, { group: "scan" }, async () => {
  await count(db.keys(), KEYS);
});
Deno.bench(`cask scan, prefix (${inPrefix} keys)`, { group: "prefix scan" }, async () => {
  await count(db.scan({ prefix }), inPrefix);
});
