/**
 * Invalid calls: Cask's openKv throws (or rejects with) the same error class
 * and message as Deno KV, checked against Deno KV in the same run. Where Cask
 * differs on purpose (its larger limits), the test pins Cask's behaviour.
 */

import assert from "node:assert/strict";
import { type KvListSelector, openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";
import { openDenoKv, outcome } from "./kv_peer.ts";

type AnyKv = Deno.Kv;
// deno-lint-ignore no-explicit-any -- invalid arguments on purpose
const bad = (x: unknown) => x as any;

const SAME: [string, (kv: AnyKv) => unknown][] = [
  ["empty key set", (kv) => kv.set([], 1)],
  ["number cursor", (kv) => Array.fromAsync(kv.list({ prefix: [] }, { cursor: bad(5) }))],
  ["object cursor", (kv) => Array.fromAsync(kv.list({ prefix: [] }, { cursor: bad({}) }))],
  ["empty key delete", (kv) => kv.delete([])],
  ["object key part", (kv) => kv.get([bad({})])],
  ["null key part", (kv) => kv.get([bad(null)])],
  ["undefined key part", (kv) => kv.get([bad(undefined)])],
  ["ArrayBuffer key part", (kv) => kv.get([bad(new ArrayBuffer(2))])],
  ["function value", (kv) => kv.set(["x"], () => 1)],
  ["symbol value", (kv) => kv.set(["x"], Symbol())],
  ["negative sum", (kv) => kv.atomic().sum(["n"], -1n)],
  ["number sum", (kv) => kv.atomic().sum(["n"], bad(1))],
  ["too big sum", (kv) => kv.atomic().max(["n"], 2n ** 64n)],
  ["malformed check", (kv) => kv.atomic().check({ key: ["a"], versionstamp: "zz" }).commit()],
  ["empty check key", (kv) => kv.atomic().check({ key: [], versionstamp: null }).commit()],
  ["mutation type", (kv) => kv.atomic().mutate(bad({ key: ["a"], type: "foo" }))],
  ["delete with value", (kv) => kv.atomic().mutate(bad({ key: ["a"], type: "delete", value: 1 }))],
  ["set without value", (kv) => kv.atomic().mutate(bad({ key: ["a"], type: "set" }))],
  ["no selector", (kv) => kv.list(bad({}))],
  ["prefix+start+end", (kv) => kv.list(bad({ prefix: [], start: ["a"], end: ["b"] }))],
  ["start outside prefix", (kv) => kv.list({ prefix: ["a"], start: ["b"] }).next()],
  ["start equal to prefix", (kv) => kv.list({ prefix: ["a"], start: ["a"] }).next()],
  ["end outside prefix", (kv) => kv.list({ prefix: ["a"], end: ["b"] }).next()],
  ["start after end", (kv) => kv.list({ start: ["b"], end: ["a"] }).next()],
  ["zero limit", (kv) => kv.list({ prefix: [] }, { limit: 0 })],
  ["fractional limit", (kv) => kv.list({ prefix: [] }, { limit: 1.5 })],
  ["zero batchSize", (kv) => kv.list({ prefix: [] }, { batchSize: 0 })],
  ["bad cursor", (kv) => kv.list({ prefix: [] }, { cursor: "!!!" }).next()],
  ["cursor before iteration", (kv) => kv.list({ prefix: [] }).cursor],
  [
    "cursor out of bounds",
    (kv) => kv.list({ prefix: ["a"], start: ["a", "m"] }, { cursor: "AmEA" }).next(),
  ],
  ["negative delay", (kv) => kv.enqueue(1, { delay: -1 })],
  ["delay over 30 days", (kv) => kv.enqueue(1, { delay: 31 * 86_400_000 })],
  ["six backoff intervals", (kv) => kv.enqueue(1, { backoffSchedule: [1, 1, 1, 1, 1, 1] })],
  ["backoff over an hour", (kv) => kv.enqueue(1, { backoffSchedule: [3_600_001] })],
  ["negative expireIn", (kv) => kv.set(["e"], 1, { expireIn: -1 })],
  ["fractional expireIn", (kv) => kv.set(["e"], 1, { expireIn: 1.5 })],
  ["expireIn too large", (kv) => kv.set(["e"], 1, { expireIn: 2 ** 60 })],
  ["awaited atomic", (kv) => bad(kv.atomic()).then()],
  ["bigint over 255 bytes", (kv) => kv.get([2n ** 2100n])],
  // Keys, versionstamps and key lists of the wrong type: serde_v8's words.
  ["string key set", (kv) => kv.set(bad("a"), 1)],
  ["number key set", (kv) => kv.set(bad(5), 1)],
  ["object key set", (kv) => kv.set(bad({}), 1)],
  ["null key set", (kv) => kv.set(bad(null), 1)],
  ["no key set", (kv) => bad(kv).set()],
  ["null key delete", (kv) => kv.delete(bad(null))],
  ["undefined key sum", (kv) => kv.atomic().sum(bad(undefined), 1n).commit()],
  [
    "null key mutate",
    (kv) => kv.atomic().mutate(bad({ type: "set", key: null, value: 1 })).commit(),
  ],
  ["string key get", (kv) => kv.get(bad("a"))],
  ["boolean key get", (kv) => kv.get(bad(true))],
  ["null key get", (kv) => kv.get(bad(null))],
  ["no key get", (kv) => bad(kv).get()],
  ["string getMany", (kv) => kv.getMany(bad("x"))],
  ["null getMany", (kv) => kv.getMany(bad(null))],
  ["null key getMany", (kv) => kv.getMany([bad(null)])],
  ["string watch", (kv) => kv.watch(bad("x")).getReader().read()],
  ["null watch", (kv) => kv.watch(bad(null)).getReader().read()],
  ["string key watch", (kv) => kv.watch([bad("x")]).getReader().read()],
  ["string check key", (kv) => kv.atomic().check({ key: bad("a"), versionstamp: null }).commit()],
  ["null check key", (kv) => kv.atomic().check({ key: bad(null), versionstamp: null }).commit()],
  ["number versionstamp", (kv) => kv.atomic().check({ key: ["a"], versionstamp: bad(5) }).commit()],
  [
    "bigint versionstamp",
    (kv) => kv.atomic().check({ key: ["a"], versionstamp: bad(5n) }).commit(),
  ],
  ["array versionstamp", (kv) => kv.atomic().check({ key: ["a"], versionstamp: bad([]) }).commit()],
  ["string keysIfUndelivered key", (kv) => kv.enqueue(1, { keysIfUndelivered: [bad("a")] })],
  ["string keysIfUndelivered", (kv) => kv.enqueue(1, { keysIfUndelivered: bad("a") })],
  ["symbol key part", (kv) => kv.set([Symbol("s")], 1)],
];

Deno.test("invalid calls fail as in Deno KV: same error class and message", async () => {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const cask = await openKv(`${dir}/cask`);
    try {
      await cask.set(["n"], "not a u64");
      await denoKv.set(["n"], "not a u64");
      const cases: typeof SAME = [
        ...SAME,
        ["sum on a non-U64 value", (kv) => kv.atomic().sum(["n"], 1n).commit()],
      ];
      const differing: string[] = [];
      for (const [name, call] of cases) {
        const want = await outcome(() => call(denoKv));
        const got = await outcome(() => call(cask as unknown as AnyKv));
        assert.ok("error" in want, `${name}: Deno KV accepts it (${JSON.stringify(want)})`);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          differing.push(`${name}: Deno ${JSON.stringify(want)} / Cask ${JSON.stringify(got)}`);
        }
      }
      assert.deepEqual(differing, []);
    } finally {
      denoKv.close();
      await cask.close();
    }
  });
});

Deno.test("Cask keeps its larger limits where Deno KV refuses", async () => {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const kv = await openKv(`${dir}/cask`);
    try {
      const bigKey = ["x".repeat(3000)];
      const bigValue = new Uint8Array(100_000).fill(7);
      const many = Array.from({ length: 11 }, (_, i) => [i]);
      const limited: [string, (kv: AnyKv) => Promise<unknown>][] = [
        ["3000-byte key", (k) => k.set(bigKey, 1)],
        ["100 kB value", (k) => k.set(["big"], bigValue)],
        ["getMany of 11", (k) => k.getMany(many)],
        ["batchSize 2000", (k) => k.list({ prefix: [] }, { batchSize: 2000 }).next()],
        ["1001 mutations", (k) => {
          const a = k.atomic();
          for (let i = 0; i < 1001; i++) a.set(["m", i], i);
          return a.commit();
        }],
      ];
      for (const [name, call] of limited) {
        const want = await outcome(() => call(denoKv));
        assert.match(
          JSON.stringify(want),
          /TypeError: (Too many|Key too large|Value too large)/,
          name,
        );
        const got = await outcome(() => call(kv as unknown as AnyKv));
        assert.ok("ok" in got, `${name}: ${JSON.stringify(got)}`);
      }
      assert.deepEqual((await kv.get(bigKey)).value, 1);
      assert.deepEqual((await kv.get(["big"])).value, bigValue);
      assert.equal((await kv.get(["m", 1000])).value, 1000);
    } finally {
      denoKv.close();
      await kv.close();
    }
  });
});

Deno.test("cursors past the keys list as in Deno KV and never reach the queue; unpadded ones are refused", async () => {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const cask = await openKv(`${dir}/cask`);
    const b64 = (bytes: number[]) =>
      btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
    try {
      for (const kv of [denoKv, cask as unknown as AnyKv]) {
        await kv.set(["a"], 1);
        await kv.set(["a", "b"], 2);
        // Cask stores messages under keys starting with 0xff, past every KvKey.
        await kv.enqueue({ secret: 1 }, { delay: 60_000 });
      }
      const cases: [KvListSelector, number[]][] = [
        [{ prefix: [] }, [0xff, 0x72]], // the audit's cursor: past Cask's queue records
        [{ prefix: [] }, [0xff]],
        [{ prefix: [] }, [0xfe]],
        [{ prefix: [] }, [0x00]],
        [{ prefix: [] }, [0x03]],
        [{ prefix: ["a"] }, [0xff, 0x01]],
        [{ start: ["a"], end: ["b"] }, [0xff]],
        [{ prefix: [] }, [0x02, 0x61, 0x00]], // ["a"]: a key, listed from
        [{ prefix: [] }, [0x27]], // [true]
      ];
      // Deno KV's cursors are padded base64url, and it refuses them unpadded.
      const strings: [KvListSelector, string][] = [
        ...cases.map(([s, bytes]): [KvListSelector, string] => [s, b64(bytes)]),
        [{ prefix: [] }, "Jw"],
        [{ prefix: [] }, "AmFhAA"],
        [{ prefix: [] }, "AmEA="],
        [{ prefix: [] }, "Am+A"],
        [{ prefix: [] }, "Am/A"],
        // Whitespace, and padding bits that are not zero, which atob lets through.
        [{ prefix: [] }, "IcAA AAAAAAA"],
        [{ prefix: [] }, "IcAAAAAAAAA\n"],
        [{ prefix: [] }, "JAAAAAAAAA  "],
        [{ prefix: [] }, "JAAAAAAAAB=="],
        [{ prefix: [] }, "Jx=="],
      ];
      const differing: string[] = [];
      for (const [selector, cursor] of strings) {
        for (const reverse of [false, true]) {
          const list = (kv: AnyKv) =>
            Array.fromAsync(kv.list(selector, { reverse, cursor }), (e) => e.key);
          const want = await outcome(() => list(denoKv));
          const got = await outcome(() => list(cask as unknown as AnyKv));
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            differing.push(
              `${JSON.stringify(selector)} ${cursor} reverse=${reverse}: ` +
                `Deno ${JSON.stringify(want)} / Cask ${JSON.stringify(got)}`,
            );
          }
        }
      }
      assert.deepEqual(differing, []);
    } finally {
      denoKv.close();
      await cask.close();
    }
  });
});
