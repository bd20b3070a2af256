/**
 * Over-limit keys and values: Cask's limits (the store's maxKeySize and
 * maxValueSize) with Deno KV's error class and message shape, checked against
 * Deno KV in the same run; the numbers in the messages are the user's sizes.
 */

import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { KvU64, openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";
import { openDenoKv, outcome } from "./kv_peer.ts";

const MAX_KEY = 100;
const MAX_VALUE = 1000;
/** An encoded key of `n` bytes: a string part is a tag, its bytes and a terminator. */
const keyOf = (n: number) => ["k".repeat(n - 2)];
const u64 = new KvU64(1n);

type AnyKv = Deno.Kv;
/** Each call with a key (or value) just over the limit of the store it is given. */
const CALLS: [string, (kv: AnyKv, key: string[], value: Uint8Array) => Promise<unknown>][] = [
  ["set key", (kv, key) => kv.set(key, 1)],
  ["delete key", (kv, key) => kv.delete(key)],
  ["get key", (kv, key) => kv.get([...key, "more"])],
  ["getMany key", (kv, key) => kv.getMany([["a"], [...key, "more"]])],
  ["check key", (kv, key) => kv.atomic().check({ key, versionstamp: null }).commit()],
  ["sum key", (kv, key) => kv.atomic().sum(key, 1n).commit()],
  ["min key", (kv, key) => kv.atomic().min(key, 1n).commit()],
  ["max key", (kv, key) => kv.atomic().max(key, 1n).commit()],
  ["mutate sum key", (kv, key) => kv.atomic().mutate({ type: "sum", key, value: u64 }).commit()],
  ["set value", (kv, _, value) => kv.set(["v"], value)],
  [
    "mutate set value",
    (kv, _, value) => kv.atomic().mutate({ type: "set", key: ["v"], value }).commit(),
  ],
  ["enqueue value", (kv, _, value) => kv.enqueue(value)],
];

/** Deno KV's message with its number taken out. */
const shape = (o: unknown) => JSON.stringify(o).replace(/max \d+ bytes/, "max N bytes");

Deno.test("over-limit keys and values throw TypeError with Deno KV's messages", async () => {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const kv = await openKv(`${dir}/cask`, { maxKeySize: MAX_KEY, maxValueSize: MAX_VALUE });
    try {
      for (const [name, call] of CALLS) {
        const want = await outcome(() => call(denoKv, keyOf(2049), new Uint8Array(65537)));
        const got = await outcome(() =>
          call(kv as unknown as AnyKv, keyOf(MAX_KEY + 1), new Uint8Array(MAX_VALUE))
        );
        assert.match(shape(want), /TypeError/, `${name}: Deno KV ${shape(want)}`);
        assert.equal(shape(got), shape(want), name);
      }
    } finally {
      denoKv.close();
      await kv.close();
    }
  });
});

Deno.test("reads of keys one and two bytes past the write limit fail where Deno KV's do", async () => {
  // Deno KV checks its read limit on the bounds of the range a call reads.
  const READS: [string, (kv: AnyKv, key: string[]) => Promise<unknown>][] = [
    ["get", (kv, key) => kv.get(key).then((e) => e.versionstamp)],
    ["getMany", (kv, key) => kv.getMany([key]).then((es) => es.length)],
    ["watch", async (kv, key) => await kv.watch([key]).cancel()],
    ["list prefix", (kv, key) => Array.fromAsync(kv.list({ prefix: key })).then((l) => l.length)],
    [
      "list start",
      (kv, key) => Array.fromAsync(kv.list({ start: key, end: ["z"] })).then((l) => l.length),
    ],
    [
      "list end",
      (kv, key) => Array.fromAsync(kv.list({ start: ["a"], end: key })).then((l) => l.length),
    ],
  ];
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const kv = await openKv(`${dir}/cask`, { maxKeySize: MAX_KEY });
    try {
      for (const [name, read] of READS) {
        for (const over of [0, 1, 2]) {
          const want = await outcome(() => read(denoKv, keyOf(2048 + over)));
          const got = await outcome(() => read(kv as unknown as AnyKv, keyOf(MAX_KEY + over)));
          assert.equal(shape(got), shape(want), `${name}, ${over} bytes past the write limit`);
        }
      }
    } finally {
      denoKv.close();
      await kv.close();
    }
  });
});

Deno.test("a list resumed from a long cursor fails where Deno KV's does", async () => {
  // Cursors of `n` bytes of "A", in the URL-safe base64 both stores use.
  const cursor = (n: number) => btoa("A".repeat(n)).replaceAll("+", "-").replaceAll("/", "_");
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const kv = await openKv(`${dir}/cask`, { maxKeySize: 2048 });
    try {
      for (const store of [denoKv, kv as unknown as AnyKv]) await store.set(["a", 1], 1);
      for (const n of [10, 2040, 2047, 2048, 2049]) {
        for (const selector of [{ prefix: ["a"] }, { start: ["a"], end: ["b"] }]) {
          for (const reverse of [false, true]) {
            const read = (store: AnyKv) => () =>
              Array.fromAsync(store.list(selector, { cursor: cursor(n), reverse })).then((l) =>
                l.length
              );
            const want = await outcome(read(denoKv));
            const got = await outcome(read(kv as unknown as AnyKv));
            assert.deepEqual(
              got,
              want,
              `${n} bytes, ${JSON.stringify(selector)}, reverse ${reverse}`,
            );
          }
        }
      }
    } finally {
      denoKv.close();
      await kv.close();
    }
  });
});

Deno.test("limit messages name the user's sizes, and the largest allowed sizes work", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir, { maxKeySize: MAX_KEY, maxValueSize: MAX_VALUE });
    try {
      const key = keyOf(MAX_KEY);
      // The store keeps a tag byte before each value: the user gets one byte less.
      const value = new Uint8Array(MAX_VALUE - 1).fill(3);
      assert.ok((await kv.set(key, value)).ok);
      assert.deepEqual((await kv.get(key)).value, value);
      await assert.rejects(kv.set(keyOf(MAX_KEY + 1), 1), {
        name: "TypeError",
        message: `Key too large for write (max ${MAX_KEY} bytes)`,
      });
      // The read limit is one byte more, on the range read: a get reads up to
      // the key and a zero byte.
      await assert.rejects(kv.get(keyOf(MAX_KEY + 1)), {
        name: "TypeError",
        message: `Key too large for read (max ${MAX_KEY + 1} bytes)`,
      });
      await assert.rejects(kv.set(["v"], new Uint8Array(MAX_VALUE)), {
        name: "TypeError",
        message: `Value too large (max ${MAX_VALUE - 1} bytes)`,
      });
      // The message shares its record with its delivery state: the room is what that leaves.
      const err = await kv.enqueue(new Uint8Array(MAX_VALUE)).catch((e) => e);
      assert.ok(err instanceof TypeError);
      const room = Number(/^enqueue payload too large \(max (\d+) bytes\)$/.exec(err.message)?.[1]);
      assert.ok(room > 0 && room < MAX_VALUE - 1, err.message);
      // The room is for the message's structured clone, which wraps the bytes of an array.
      const fits = room - (serialize(new Uint8Array(room)).length - room);
      assert.ok((await kv.enqueue(new Uint8Array(fits))).ok);
      await assert.rejects(kv.enqueue(new Uint8Array(fits + 1)), TypeError);
    } finally {
      await kv.close();
    }
  });
});

Deno.test("a keysIfUndelivered key the store could not write is refused at enqueue", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir, { maxKeySize: MAX_KEY });
    try {
      await assert.rejects(kv.enqueue("m", { keysIfUndelivered: [["ok"], keyOf(MAX_KEY + 1)] }), {
        name: "TypeError",
        message: `Key too large for write (max ${MAX_KEY} bytes)`,
      });
      assert.ok((await kv.enqueue("m", { keysIfUndelivered: [keyOf(MAX_KEY)] })).ok);
    } finally {
      await kv.close();
    }
  });
});
