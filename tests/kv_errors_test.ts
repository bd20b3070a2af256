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

/** +262143-12-31T23:59:59.999Z: Deno KV can date no expiry after it. */
// A view of two bytes on an ArrayBuffer that may grow.
const resizable = <T>(View: new (b: ArrayBuffer) => T): T =>
  new View(new ArrayBuffer(2, { maxByteLength: 8 }));
const LATEST_EXPIRY = 8_210_266_876_799_999;
/** An expireIn that puts the expiry a minute past that, by real time (one number: both show it). */
const PAST_LATEST = LATEST_EXPIRY - Date.now() + 60_000;

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
  [
    "SharedArrayBuffer bytes key part",
    (kv) => kv.set([new Uint8Array(new SharedArrayBuffer(2))], 1),
  ],
  [
    "SharedArrayBuffer DataView key part",
    (kv) => kv.get([bad(new DataView(new SharedArrayBuffer(2)))]),
  ],
  // Bytes on a resizable ArrayBuffer: serde_v8 takes no slice of one.
  ["resizable bytes key part", (kv) => kv.set([resizable(Uint8Array)], 1)],
  ["resizable DataView key part", (kv) => kv.get([bad(resizable(DataView))])],
  ["resizable Uint8Array value", (kv) => kv.set(["v"], resizable(Uint8Array))],
  [
    "resizable Uint8Array value, atomic",
    (kv) => kv.atomic().set(["v"], resizable(Uint8Array)).commit(),
  ],
  ["watch with null options", (kv) => kv.watch([["a"]], bad(null))],
  // Several faults in one commit: which one is reported.
  [
    "malformed check and a string mutation key",
    (kv) => kv.atomic().check({ key: ["a"], versionstamp: "zz" }).delete(bad("str")).commit(),
  ],
  [
    "malformed check of an object key part",
    (kv) => kv.atomic().check({ key: [bad({})], versionstamp: "zz" }).commit(),
  ],
  [
    "null check key and a number versionstamp",
    (kv) => kv.atomic().check(bad({ key: null, versionstamp: 5 })).commit(),
  ],
  [
    "number versionstamp and a null mutation key",
    (kv) => kv.atomic().check(bad({ key: ["a"], versionstamp: 5 })).delete(bad(null)).commit(),
  ],
  [
    "too-large expireIn and a string mutation key",
    (kv) => kv.atomic().set(["a"], 1, { expireIn: 2 ** 60 }).delete(bad("str")).commit(),
  ],
  [
    "a check key part of no key type and a resizable value",
    (kv) =>
      kv.atomic().check({ key: [bad({})], versionstamp: null }).set(["a"], resizable(Uint8Array))
        .commit(),
  ],
  [
    "a resizable value and an undefined mutation key",
    (kv) =>
      kv.atomic().set(["a"], resizable(Uint8Array)).mutate(bad({ type: "delete", key: undefined }))
        .commit(),
  ],
  [
    "an undefined mutation key and a delay of the wrong type",
    (kv) =>
      kv.atomic().mutate(bad({ type: "set", key: undefined, value: 1 }))
        .enqueue("v", { delay: bad("x") }).commit(),
  ],
  [
    "a check key part of no key type and a delay of the wrong type",
    (kv) =>
      kv.atomic().check({ key: [bad({})], versionstamp: null }).enqueue("v", { delay: bad("x") })
        .commit(),
  ],
  [
    "an empty check key and a resizable dead-letter key part",
    (kv) =>
      kv.atomic().check({ key: [], versionstamp: null })
        .enqueue("v", { keysIfUndelivered: [["a", resizable(Uint8Array)]] }).commit(),
  ],
  [
    "a too-large expireIn and a dead-letter key part of no key type",
    (kv) =>
      kv.atomic().set(["a"], 1, { expireIn: 2 ** 60 })
        .enqueue("v", { keysIfUndelivered: [[bad({})]] }).commit(),
  ],
  [
    "a growable SharedArrayBuffer value",
    (kv) => kv.set(["v"], new Uint8Array(new SharedArrayBuffer(4, { maxByteLength: 8 }))),
  ],
  ["negative expireIn", (kv) => kv.set(["e"], 1, { expireIn: -1 })],
  ["fractional expireIn", (kv) => kv.set(["e"], 1, { expireIn: 1.5 })],
  ["expireIn too large", (kv) => kv.set(["e"], 1, { expireIn: 2 ** 60 })],
  // Safe integers that put the expiry past the latest time Deno KV can date.
  ["expireIn 2^53-1", (kv) => kv.set(["e"], 1, { expireIn: Number.MAX_SAFE_INTEGER })],
  ["expireIn past the latest date", (kv) => kv.set(["e"], 1, { expireIn: PAST_LATEST })],
  [
    "atomic expireIn 2^53-1",
    (kv) => kv.atomic().set(["e"], 1, { expireIn: Number.MAX_SAFE_INTEGER }).commit(),
  ],
  [
    "mutate expireIn past the latest date",
    (kv) =>
      kv.atomic().mutate({ type: "set", key: ["e"], value: 1, expireIn: PAST_LATEST }).commit(),
  ],
  // Which error a commit with several faults reports.
  [
    "too-large expireIn after a bigint key",
    (kv) => kv.atomic().set([2n ** 70n], 1).set(["e"], 1, { expireIn: PAST_LATEST }).commit(),
  ],
  [
    "too-large expireIn after an oversized key",
    (kv) =>
      kv.atomic().set(["x".repeat(70_000)], 1).set(["e"], 1, { expireIn: PAST_LATEST }).commit(),
  ],
  [
    "two too-large expireIns",
    (kv) =>
      kv.atomic().set(["e"], 1, { expireIn: Number.MAX_SAFE_INTEGER })
        .set(["e"], 1, { expireIn: 2 ** 60 }).commit(),
  ],
  [
    "too-large expireIn and a delay of the wrong type",
    (kv) =>
      kv.atomic().set(["e"], 1, { expireIn: 2 ** 60 }).enqueue(1, { delay: bad("x") }).commit(),
  ],
  [
    "malformed check and a too-large expireIn",
    (kv) =>
      kv.atomic().check({ key: ["a"], versionstamp: "zz" })
        .set(["e"], 1, { expireIn: PAST_LATEST }).commit(),
  ],
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
  ["array-like getMany", (kv) => kv.getMany(bad({ length: 2 }))],
  // deno-lint-ignore no-sparse-arrays -- the hole is the case
  ["sparse getMany", (kv) => kv.getMany([, ["a"]] as Deno.KvKey[])],
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

/**
 * The cases where Cask's outcome differs from Deno KV's. Each must fail on
 * Deno KV, unless `mayAccept`: then where Deno KV accepts it, so must Cask.
 */
async function differences(
  denoKv: AnyKv,
  cask: unknown,
  cases: [string, (kv: AnyKv) => unknown][],
  mayAccept = false,
): Promise<string[]> {
  const differing: string[] = [];
  for (const [name, call] of cases) {
    const want = await outcome(() => call(denoKv));
    const got = await outcome(() => call(cask as AnyKv));
    if (mayAccept && "ok" in want) {
      if (!("ok" in got)) differing.push(`${name}: Deno accepts it / Cask ${JSON.stringify(got)}`);
      continue;
    }
    assert.ok("error" in want, `${name}: Deno KV accepts it (${JSON.stringify(want)})`);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      differing.push(`${name}: Deno ${JSON.stringify(want)} / Cask ${JSON.stringify(got)}`);
    }
  }
  return differing;
}

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
      assert.deepEqual(await differences(denoKv, cask, cases), []);
    } finally {
      denoKv.close();
      await cask.close();
    }
  });
});

Deno.test("an empty path fails as in Deno KV", async () => {
  assert.deepEqual(await outcome(() => openKv("")), await outcome(() => Deno.openKv("")));
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

// One of each kind serde_v8 names in its "got: ..." (a few it names "unknown").
const wasmBytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
const OF_EACH_KIND: [string, () => unknown][] = [
  ["Uint8Array", () => new Uint8Array(1)],
  ["Int8Array", () => new Int8Array(1)],
  ["Uint8ClampedArray", () => new Uint8ClampedArray(1)],
  ["Int16Array", () => new Int16Array(1)],
  ["Uint16Array", () => new Uint16Array(1)],
  ["Int32Array", () => new Int32Array(1)],
  ["Uint32Array", () => new Uint32Array(1)],
  ["Float32Array", () => new Float32Array(1)],
  ["Float64Array", () => new Float64Array(1)],
  ["Float16Array", () => new Float16Array(1)],
  ["BigInt64Array", () => new BigInt64Array(1)],
  ["BigUint64Array", () => new BigUint64Array(1)],
  ["DataView", () => new DataView(new ArrayBuffer(1))],
  ["ArrayBuffer", () => new ArrayBuffer(1)],
  ["SharedArrayBuffer", () => new SharedArrayBuffer(1)],
  ["Map", () => new Map()],
  ["Set", () => new Set()],
  ["WeakMap", () => new WeakMap()],
  ["WeakSet", () => new WeakSet()],
  ["Map Iterator", () => new Map().keys()],
  ["Set Iterator", () => new Set().values()],
  ["Date", () => new Date(0)],
  ["RegExp", () => /a/],
  ["Promise", () => Promise.resolve()],
  ["function", () => () => 1],
  ["async function", () => async () => {}],
  ["generator function", () => function* () {}],
  ["array Proxy", () => new Proxy(["a"], {})],
  ["object Proxy", () => new Proxy({}, {})],
  ["WebAssembly.Module", () => new WebAssembly.Module(wasmBytes)],
  ["WebAssembly.Memory", () => new WebAssembly.Memory({ initial: 1 })],
  ["module namespace", () => nodeAssert],
  ["symbol", () => Symbol()],
  ["bigint", () => 1n],
  ["NaN", () => NaN],
  ["boolean", () => false],
  ["String object", () => new String("a")],
  ["Number object", () => new Number(1)],
  ["plain object", () => ({})],
  ["null-prototype object", () => Object.create(null)],
  ["arguments", function () {
    return arguments;
  }],
];
const nodeAssert = await import("node:assert/strict");

Deno.test("arguments of the wrong type: serde_v8's words, naming the type as Deno KV does", async () => {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const cask = await openKv(`${dir}/cask`);
    const calls: [string, (kv: AnyKv, v: unknown) => unknown][] = [
      ["get key", (kv, v) => kv.get(bad(v))],
      ["set key", (kv, v) => kv.set(bad(v), 1)],
      ["getMany key", (kv, v) => kv.getMany([bad(v)])],
      ["watch keys", (kv, v) => kv.watch(bad(v)).getReader().read()],
      [
        "check versionstamp",
        (kv, v) => kv.atomic().check({ key: ["a"], versionstamp: bad(v) }).commit(),
      ],
      ["cursor", (kv, v) => Array.fromAsync(kv.list({ prefix: ["a"] }, { cursor: bad(v) }))],
      ["keysIfUndelivered", (kv, v) => kv.enqueue(1, { keysIfUndelivered: bad(v) })],
      ["backoffSchedule", (kv, v) => kv.enqueue(1, { backoffSchedule: bad(v) })],
      ["backoffSchedule interval", (kv, v) => kv.enqueue(1, { backoffSchedule: [bad(v)] })],
      [
        "atomic backoffSchedule",
        (kv, v) => kv.atomic().enqueue(1, { backoffSchedule: bad(v) }).commit(),
      ],
      ["delay", (kv, v) => kv.enqueue(1, { delay: bad(v) })],
      ["get consistency", (kv, v) => kv.get(["a"], { consistency: bad(v) })],
      ["getMany consistency", (kv, v) => kv.getMany([["a"]], { consistency: bad(v) })],
      ["list consistency", (kv, v) => kv.list({ prefix: [] }, { consistency: bad(v) }).next()],
    ];
    try {
      const cases = calls.flatMap(([what, call]) =>
        OF_EACH_KIND.map(([kind, make]): [string, (kv: AnyKv) => unknown] => [
          `${what}: ${kind}`,
          (kv) => call(kv, make()),
        ])
      );
      cases.push(
        ["backoffSchedule: 3", (kv) => kv.enqueue(1, { backoffSchedule: bad(3) })],
        ["backoffSchedule: true", (kv) => kv.enqueue(1, { backoffSchedule: bad(true) })],
        ["backoffSchedule: ''", (kv) => kv.enqueue(1, { backoffSchedule: bad("") })],
        ["backoffSchedule: 'abc'", (kv) => kv.enqueue(1, { backoffSchedule: bad("abc") })],
        [
          "backoffSchedule: array-like",
          (kv) => kv.enqueue(1, { backoffSchedule: bad({ length: 2 }) }),
        ],
        ["consistency: 1", (kv) => kv.get(["a"], { consistency: bad(1) })],
        ["consistency: two keys", (kv) => kv.get(["a"], { consistency: bad({ a: 1, b: 2 }) })],
        ["consistency: [1, 2]", (kv) => kv.get(["a"], { consistency: bad([1, 2]) })],
        ["consistency: index key", (kv) => kv.get(["a"], { consistency: bad({ 7: 1 }) })],
        ["consistency: other key", (kv) => kv.get(["a"], { consistency: bad({ x: 1 }) })],
        [
          "consistency: String('ab')",
          (kv) => kv.get(["a"], { consistency: bad(new String("ab")) }),
        ],
        ["mutate(null)", (kv) => kv.atomic().mutate(bad(null)).commit()],
        ["mutate(undefined)", (kv) => kv.atomic().mutate(bad(undefined)).commit()],
        ["Proxy key part", (kv) => kv.get(["a", bad(new Proxy(new Uint8Array(1), {}))])],
      );
      // Some of these Deno KV takes (a falsy cursor is no cursor, and its JS coerces delays).
      assert.deepEqual(await differences(denoKv, cask, cases, true), []);
    } finally {
      denoKv.close();
      await cask.close();
    }
  });
});

Deno.test("consistency given as a one-key object or a String is read as Deno KV reads it", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    try {
      for (const level of [{ strong: null }, { eventual: 1 }, new String("eventual")]) {
        for (const db of [kv as unknown as AnyKv, denoKv]) {
          assert.equal((await db.get(["a"], { consistency: bad(level) })).value, null);
        }
      }
    } finally {
      denoKv.close();
      await kv.close();
    }
  });
});

// Values structured clone refuses, each in the ways a value reaches a commit.
const UNSTORABLE: [string, () => unknown][] = [
  ["getter throwing RangeError", () => ({
    get x() {
      throw new RangeError("boom");
    },
  })],
  ["getter throwing a number", () => ({
    get x() {
      throw 5;
    },
  })],
  ["getter throwing a clone-like Error", () => ({
    get x() {
      throw new Error("#<Object> could not be cloned.");
    },
  })],
  ["SharedArrayBuffer", () => new SharedArrayBuffer(2)],
  ["nested SharedArrayBuffer", () => ({ s: new SharedArrayBuffer(2) })],
  ["Uint8Array on a SharedArrayBuffer", () => new Uint8Array(new SharedArrayBuffer(2))],
  ["WebAssembly.Module", () => new WebAssembly.Module(wasmBytes)],
  ["nested WebAssembly.Module", () => [new WebAssembly.Module(wasmBytes)]],
  ["WebAssembly.Memory", () => new WebAssembly.Memory({ initial: 1 })],
  ["5000-deep object", () => {
    let o: unknown = {};
    for (let i = 0; i < 5000; i++) o = { o };
    return o;
  }],
  ["Proxy", () => new Proxy({}, {})],
  ["WeakMap", () => new WeakMap()],
  ["detached ArrayBuffer", () => {
    const b = new ArrayBuffer(2);
    structuredClone(b, { transfer: [b] });
    return b;
  }],
];

Deno.test("a value that cannot be stored fails with Deno KV's error class and message", async () => {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const cask = await openKv(`${dir}/cask`);
    const ways: [string, (kv: AnyKv, v: unknown) => unknown][] = [
      ["set", (kv, v) => kv.set(["k"], v)],
      ["atomic set", (kv, v) => kv.atomic().set(["k"], v).commit()],
      ["mutate set", (kv, v) => kv.atomic().mutate({ type: "set", key: ["k"], value: v }).commit()],
      ["enqueue", (kv, v) => kv.enqueue(v)],
    ];
    try {
      const cases = ways.flatMap(([way, call]) =>
        UNSTORABLE.map(([name, make]): [string, (kv: AnyKv) => unknown] => [
          `${way}: ${name}`,
          (kv) => call(kv, make()),
        ])
      );
      assert.deepEqual(await differences(denoKv, cask, cases), []);
      // The user's own error passes through as it is, not a copy.
      const mine = new RangeError("mine");
      const value = {
        get x() {
          throw mine;
        },
      };
      await assert.rejects(cask.set(["k"], value), (e) => e === mine);
      await assert.rejects(cask.enqueue(value), (e) => e === mine);
    } finally {
      denoKv.close();
      await cask.close();
    }
  });
});
