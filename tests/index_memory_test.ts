import assert from "node:assert/strict";
import { KeyDir } from "../src/index/keydir.ts";

// The keydir's memory estimate against what the heap really grows by. Needs
// --expose-gc for stable numbers, so it runs in a child process.
Deno.test("the keydir's memory estimate is within 15% of measured heap growth, its point cache apart", async () => {
  const script = `
    import { KeyDir } from ${
    JSON.stringify(new URL("../src/index/keydir.ts", import.meta.url).href)
  };
    const n = 300_000;
    const keys = [];
    for (let i = 0; i < n; i++) keys.push(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const gc = () => { for (let i = 0; i < 3; i++) globalThis.gc(); };
    gc();
    const m0 = Deno.memoryUsage();
    const d = new KeyDir();
    for (let i = 0; i < n; i++) d.set(keys[i], { fileId: 1, offset: i * 100, size: 152, timestamp: 1, expireAt: 0 });
    gc();
    const m1 = Deno.memoryUsage();
    // The key strings were made before m0; what the keydir holds of them is 12 + 16 bytes each.
    const measured = m1.heapUsed - m0.heapUsed + m1.external - m0.external + n * 28;
    console.log(JSON.stringify({ estimate: d.memoryBytes(), cache: d.cacheBytes, measured, n }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  const { estimate, cache, measured, n } = JSON.parse(new TextDecoder().decode(out.stdout));
  // The point cache's table lives in a WebAssembly.Memory, which the heap
  // figures do not see; its size is exact: 12-byte slots, a power of two of
  // them, at least one per key.
  assert.ok(cache >= n * 12 && cache <= n * 24, `point cache ${cache} bytes for ${n} keys`);
  const tree = estimate - cache;
  assert.ok(Math.abs(tree / measured - 1) < 0.15, `estimate ${tree}, measured ${measured}`);
  assert.equal(new KeyDir().memoryBytes() < 64 * 1024, true, "an empty keydir is small");
});
