/**
 * Memory per key of the KeyDir against a naive Map<string, Entry>, for 1M random
 * 16-byte keys: resident-set growth after a full GC, and V8's own accounting
 * (heap + ArrayBuffers) for comparison.
 *
 *   deno run -A --v8-flags=--expose-gc bench/memory.ts
 *
 * Each variant runs in its own process so none inherits another's heap. The children
 * pin the young generation to one size: V8 otherwise grows it by tens of MB while any
 * large structure is built, a fixed cost that would read as tens of bytes per key.
 * @module
 */
import { type Entry, KeyDir } from "../src/index/keydir.ts";

const KEYS = 1_000_000;
const KEY_BYTES = 16;
const CHILD_V8_FLAGS = "--expose-gc,--min-semi-space-size=16,--max-semi-space-size=16";

const variants: Record<string, (keys: number) => unknown> = {
  "KeyDir (random order)": (n) => fill(new KeyDir(), n, false),
  "KeyDir (ascending order)": (n) => fill(new KeyDir(), n, true),
  "Map<string, Entry>": (n) => fill(new Map<string, Entry>(), n, false),
};

/** Key i: random bytes, or when `ascending` a big-endian counter followed by random bytes. */
function key(bytes: Uint8Array, i: number, ascending: boolean): string {
  crypto.getRandomValues(bytes);
  if (ascending) new DataView(bytes.buffer).setUint32(0, i);
  // fromCharCode makes a flat one-byte string, like the engine's key decoding should.
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

function fill(
  dir: { set(k: string, e: Entry): unknown },
  keys: number,
  ascending: boolean,
): unknown {
  const bytes = new Uint8Array(KEY_BYTES);
  const now = Date.now();
  for (let i = 0; i < keys; i++) {
    dir.set(key(bytes, i, ascending), {
      fileId: i >>> 16,
      offset: (i & 0xffff) * 1024,
      size: 100 + (i & 511),
      timestamp: now + i,
      expireAt: i % 10 === 0 ? now + 3_600_000 : 0,
    });
  }
  return dir;
}

/** Child process: builds one variant and prints its memory growth per key as JSON. */
async function measure(name: string): Promise<void> {
  // Warm up so the baseline already holds compiled code, the pages it touches and a
  // young generation whose pages have all been used.
  variants[name](KEYS / 50);
  fill({ set() {} }, KEYS, false);
  const before = await settled();
  const kept = variants[name](KEYS);
  const after = await settled();
  console.log(JSON.stringify({
    rss: (after.rss - before.rss) / KEYS,
    v8: (after.heapUsed + after.external - before.heapUsed - before.external) / KEYS,
  }));
  // Keeps the structure alive until after the measurement.
  if (!kept) throw new Error("unreachable");
}

/** Memory use after a full GC, run from a fresh task so no stale stack slot pins garbage. */
async function settled(): Promise<Deno.MemoryUsage> {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error("run with --v8-flags=--expose-gc");
  await new Promise((resolve) => setTimeout(resolve, 0));
  for (let i = 0; i < 3; i++) collect();
  return Deno.memoryUsage();
}

async function main(): Promise<void> {
  console.log(`${KEYS} keys of ${KEY_BYTES} bytes, bytes per key (beyond the key bytes):`);
  for (const name of Object.keys(variants)) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--v8-flags=${CHILD_V8_FLAGS}`, import.meta.filename!, name],
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`${name}: child failed`);
    const { rss, v8 } = JSON.parse(new TextDecoder().decode(out.stdout));
    const show = (v: number) => `${v.toFixed(1).padStart(6)} (${(v - KEY_BYTES).toFixed(1)})`;
    console.log(`${name.padEnd(26)} RSS ${show(rss)}   V8 heap + buffers ${show(v8)}`);
  }
}

if (Deno.args[0]) await measure(Deno.args[0]);
else await main();
