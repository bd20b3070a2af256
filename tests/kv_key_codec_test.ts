/**
 * Key encoding: decode(encode(k)) is k, and sorting keys by their encoded
 * bytes gives exactly the order Deno KV lists them in.
 */

import assert from "node:assert/strict";
import { decodeKey, encodeKey } from "../src/kv/key_codec.ts";
import { compareBytes } from "../src/kv/bytes.ts";
import type { KvKey } from "../mod.ts";
import { withDir } from "./helpers.ts";
import { openDenoKv } from "./kv_peer.ts";

const PARTS: KvKey[number][] = [
  new Uint8Array([]),
  new Uint8Array([0]),
  new Uint8Array([0, 0]),
  new Uint8Array([0, 255]),
  new Uint8Array([1]),
  new Uint8Array([255]),
  "",
  "\0",
  "a",
  "a\0",
  "a\0b",
  "ab",
  "é",
  "\u{1F600}",
  "\uFFFF",
  -(2n ** 2000n),
  -(2n ** 64n),
  -(2n ** 64n) + 1n,
  -(2n ** 63n),
  -256n,
  -255n,
  -1n,
  0n,
  1n,
  255n,
  256n,
  2n ** 63n,
  2n ** 64n - 1n,
  2n ** 64n,
  2n ** 2000n,
  -Infinity,
  -Number.MAX_VALUE,
  -1.5,
  -Number.MIN_VALUE,
  -0,
  0,
  Number.MIN_VALUE,
  1,
  1.5,
  2 ** 53,
  Number.MAX_VALUE,
  Infinity,
  NaN,
  false,
  true,
];

const KEYS: KvKey[] = [
  ...PARTS.map((p) => [p]),
  ...PARTS.map((p) => ["pair", p, 1]),
  ...PARTS.map((p) => [p, p]),
];

Deno.test("every key part round-trips through its encoding", () => {
  for (const key of KEYS) assert.deepEqual(decodeKey(encodeKey(key)), key);
});

Deno.test("byte order of encoded keys is Deno KV's key order", async () => {
  await withDir(async (dir) => {
    const kv = await openDenoKv(`${dir}/deno.sqlite3`);
    try {
      // Write in a shuffled order, so list order cannot come from insertion order.
      const shuffled = KEYS.map((k, i) => ({ k, r: (i * 7919) % KEYS.length }))
        .sort((a, b) => a.r - b.r).map((x) => x.k);
      for (const key of shuffled) await kv.set(key, 0);
      const denoOrder: KvKey[] = [];
      for await (const e of kv.list({ prefix: [] })) denoOrder.push(e.key);
      const ours = [...KEYS].sort((a, b) => compareBytes(encodeKey(a), encodeKey(b)));
      assert.equal(denoOrder.length, KEYS.length, "all keys are distinct in Deno KV too");
      assert.deepEqual(ours, denoOrder);
    } finally {
      kv.close();
    }
  });
});
