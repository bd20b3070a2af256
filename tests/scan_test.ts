import assert from "node:assert/strict";
import { type Cask, ClosedError, InvalidArgumentError, open, type ScanOptions } from "../mod.ts";
import { bytesToKey, keyToBytes } from "../src/base/keys.ts";
import { dataFiles, prng, randomBytes, withDir } from "./helpers.ts";

// The model holds keys as binary strings (one char per byte), whose default JS
// sort is unsigned byte order: the order scans promise.
type Model = Map<string, Uint8Array>;

interface Query {
  start?: string;
  end?: string;
  prefix?: string;
  reverse?: boolean;
  limit?: number;
}

// Few distinct bytes and short lengths, so keys are often prefixes of one
// another; the edges of the byte range (0x00, 0x7f/0x80, 0xff) are all there.
const ALPHABET = [0x00, 0x01, 0x41, 0x61, 0x62, 0x7f, 0x80, 0xfe, 0xff];

function randomKey(rand: () => number, maxLen = 5): string {
  const len = 1 + ((rand() * maxLen) | 0);
  let k = "";
  for (let i = 0; i < len; i++) k += String.fromCharCode(ALPHABET[(rand() * ALPHABET.length) | 0]);
  return k;
}

/** A bound that is a key, a prefix of one, just past one, or arbitrary. */
function randomBound(rand: () => number, keys: string[]): string {
  const k = keys[(rand() * keys.length) | 0];
  const r = rand();
  if (r < 0.3) return k;
  if (r < 0.5) return k.slice(0, (rand() * k.length) | 0);
  if (r < 0.7) return k + (rand() < 0.5 ? "\x00" : "\xff");
  return randomKey(rand);
}

function randomQuery(rand: () => number, keys: string[]): Query {
  const q: Query = {};
  if (rand() < 0.4) q.start = randomBound(rand, keys);
  if (rand() < 0.4) q.end = randomBound(rand, keys);
  if (rand() < 0.4) q.prefix = randomBound(rand, keys).slice(0, 1 + ((rand() * 2) | 0));
  if (rand() < 0.5) q.reverse = true;
  const limits = [undefined, undefined, 0, 1, 2, 7, 1000];
  const limit = limits[(rand() * limits.length) | 0];
  if (limit !== undefined) q.limit = limit;
  return q;
}

/** Whether `k` lies within the bounds of `q`, straight from their definition. */
function within(k: string, q: Query): boolean {
  return (q.start === undefined || k >= q.start) && (q.end === undefined || k < q.end) &&
    (q.prefix === undefined || k.startsWith(q.prefix));
}

/** What the scan must yield. */
function expected(model: Model, q: Query): string[] {
  const keys = [...model.keys()].filter((k) => within(k, q)).sort();
  if (q.reverse) keys.reverse();
  return keys.slice(0, q.limit ?? Infinity);
}

/** `q` as scan options: bounds as bytes, or (when ASCII and `rand` says so) as strings. */
function toOptions(q: Query, rand: () => number): ScanOptions {
  // deno-lint-ignore no-control-regex -- control bytes are valid key bytes
  const bound = (k: string) => /^[\x00-\x7f]*$/.test(k) && rand() < 0.5 ? k : keyToBytes(k);
  const o: ScanOptions = { reverse: q.reverse, limit: q.limit };
  if (q.start !== undefined) o.start = bound(q.start);
  if (q.end !== undefined) o.end = bound(q.end);
  if (q.prefix !== undefined) o.prefix = bound(q.prefix);
  return o;
}

async function scanned(db: Cask, o: ScanOptions): Promise<Array<[string, Uint8Array]>> {
  const out: Array<[string, Uint8Array]> = [];
  for await (const [k, v] of db.scan(o)) out.push([bytesToKey(k), v]);
  return out;
}

async function listed(db: Cask, o: ScanOptions): Promise<string[]> {
  const out: string[] = [];
  for await (const k of db.keys(o)) out.push(bytesToKey(k));
  return out;
}

/** scan() and keys() both match the model for `q`. */
async function check(db: Cask, model: Model, q: Query, rand: () => number): Promise<void> {
  const want = expected(model, q);
  const o = toOptions(q, rand);
  const what = JSON.stringify(q);
  const got = await scanned(db, o);
  assert.deepEqual(got.map(([k]) => k), want, `scan ${what}`);
  for (const [k, v] of got) assert.deepEqual(v, model.get(k), `value of ${JSON.stringify(k)}`);
  assert.deepEqual(await listed(db, o), want, `keys ${what}`);
}

async function fill(db: Cask, model: Model, keys: Iterable<string>, rand: () => number) {
  for (const k of keys) {
    const v = randomBytes(rand, (rand() * 40) | 0);
    await db.set(keyToBytes(k), v);
    model.set(k, v);
  }
}

Deno.test("scans match a sorted model for random binary keys and bounds", () =>
  withDir(async (dir) => {
    const rand = prng(7);
    await using db = await open(dir, { sync: "never" });
    const model: Model = new Map();
    await fill(db, model, Array.from({ length: 1500 }, () => randomKey(rand)), rand);
    const keys = [...model.keys()];
    for (let i = 0; i < 400; i++) await check(db, model, randomQuery(rand, keys), rand);
  }));

Deno.test("scan edge cases: 0x00/0xff bytes, prefixes of keys, empty and inverted ranges, limits", () =>
  withDir(async (dir) => {
    const rand = prng(8);
    await using db = await open(dir, { sync: "never" });
    const model: Model = new Map();
    await fill(db, model, [
      "\x00",
      "\x00\x00",
      "\x00\x01",
      "a",
      "a\x00",
      "a\x00\x00",
      "a\xff",
      "ab",
      "b",
      "\xfe\xff",
      "\xff",
      "\xff\xfe",
      "\xff\xff",
      "\xff\xff\x00",
      "\xff\xff\xff\xff",
    ], rand);
    const queries: Query[] = [
      {},
      { reverse: true },
      { prefix: "\xff\xff" },
      { prefix: "\xff\xff", reverse: true },
      { prefix: "\xff\xff", reverse: true, limit: 1 },
      { prefix: "\xff\xff\xff\xff" },
      { prefix: "\xff\xff\xff\xff\xff" },
      { prefix: "\xff" },
      { prefix: "a\xff" },
      { prefix: "\xfe\xff", reverse: true },
      { prefix: "\x00" },
      { prefix: "\x00", reverse: true },
      { prefix: "a" },
      { prefix: "a\x00" },
      { prefix: "" },
      { prefix: "zz" },
      { start: "a", end: "a" },
      { start: "a", end: "a", reverse: true },
      { start: "b", end: "a" },
      { start: "b", end: "a", reverse: true },
      { start: "a\x00\x01", end: "a\xff\x00" },
      { start: "a\x00\x01", end: "a\xff\x00", reverse: true },
      { start: "", end: "\x00" },
      { end: "" },
      { end: "", reverse: true },
      { start: "\xff\xff\xff\xff\x00" },
      { start: "\xff\xff\xff\xff\x00", reverse: true },
      { prefix: "a", start: "0" },
      { prefix: "a", start: "a\x00\x01" },
      { prefix: "a", start: "a\x00\x01", reverse: true },
      { prefix: "a", start: "b" },
      { prefix: "a", end: "a\xff" },
      { prefix: "a", end: "a\xff", reverse: true },
      { prefix: "a", end: "z" },
      { prefix: "a", end: "0" },
      { prefix: "\xff\xff", start: "\xff\xff\x01", reverse: true },
      { prefix: "\xff", start: "\xff\xff", end: "\xff\xff\xff", reverse: true, limit: 1 },
      { limit: 0 },
      { limit: 0, reverse: true, prefix: "a" },
      { reverse: true, limit: 3 },
      { reverse: true, limit: 3, end: "b" },
      { limit: 100 },
    ];
    for (const q of queries) await check(db, model, q, rand);
  }));

Deno.test("string bounds are their UTF-8 bytes", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    for (const k of ["e", "é", "éa", "éz", "ê", "f", "ü", "日本"]) await db.set(k, k);
    const utf8 = (s: string) => new TextEncoder().encode(s);
    const forms: Array<[string, ScanOptions, string[]]> = [
      ["prefix", { prefix: "é" }, ["é", "éa", "éz"]],
      ["start", { start: "éa" }, ["éa", "éz", "ê", "ü", "日本"]],
      ["end", { end: "ê", reverse: true }, ["éz", "éa", "é", "f", "e"]],
      ["start and end", { start: "é", end: "ü" }, ["é", "éa", "éz", "ê"]],
    ];
    for (const [what, o, want] of forms) {
      const asBytes = {
        ...o,
        start: o.start && utf8(o.start as string),
        end: o.end && utf8(o.end as string),
        prefix: o.prefix && utf8(o.prefix as string),
      };
      const text = (keys: string[]) => keys.map((k) => new TextDecoder().decode(keyToBytes(k)));
      assert.deepEqual(text(await listed(db, o)), want, `${what} as a string`);
      assert.deepEqual(text(await listed(db, asBytes)), want, `${what} as bytes`);
    }
  }));

Deno.test("scans are the same after overwrites, deletes, batches, restart and compaction", () =>
  withDir(async (dir) => {
    const rand = prng(9);
    const model: Model = new Map();
    const opts = { maxFileSize: 4096, onWarning: () => {} };
    const checkAll = async (db: Cask, stage: string) => {
      assert.equal(db.size, model.size, stage);
      const keys = [...model.keys()];
      const queries = prng(10);
      for (let i = 0; i < 60; i++) await check(db, model, randomQuery(queries, keys), rand);
    };
    {
      await using db = await open(dir, opts);
      for (let round = 0; round < 3; round++) {
        await fill(db, model, Array.from({ length: 300 }, () => randomKey(rand, 3)), rand);
        for (const k of [...model.keys()].filter(() => rand() < 0.2)) {
          await db.delete(keyToBytes(k));
          model.delete(k);
        }
        const [a, b] = [randomKey(rand, 3), randomKey(rand, 3)];
        await db.atomic([{ type: "set", key: keyToBytes(a), value: "batch" }, {
          type: "delete",
          key: keyToBytes(b),
        }]);
        model.set(a, new TextEncoder().encode("batch"));
        model.delete(b);
      }
      assert.ok((await dataFiles(dir)).length > 3, "the data spans several files");
      await checkAll(db, "before restart");
    }
    {
      await using db = await open(dir, opts);
      await checkAll(db, "after restart");
      await db.compact();
      await checkAll(db, "after compaction");
    }
    await using db = await open(dir, opts);
    await checkAll(db, "after compaction and restart");
  }));

// Writes during a scan: issued between next() calls, awaited only now and then, so
// under sync "always" they land at arbitrary points of the scan.
const concurrent = [
  { name: "forward, sync always", reverse: false, sync: "always", compact: false },
  { name: "reverse, sync always", reverse: true, sync: "always", compact: false },
  { name: "forward, sync never, with compactions", reverse: false, sync: "never", compact: true },
  { name: "reverse, sync never, with compactions", reverse: true, sync: "never", compact: true },
] as const;

for (const [n, v] of concurrent.entries()) {
  Deno.test(`writes and deletes during a scan (${v.name}) never break it`, () =>
    withDir(async (dir) => {
      const rand = prng(20 + n);
      await using db = await open(dir, { sync: v.sync, maxFileSize: 8192, onWarning: () => {} });
      const model: Model = new Map();
      await fill(db, model, Array.from({ length: 1000 }, () => randomKey(rand, 4)), rand);
      await db.sync();
      // Every value ever written per key, as binary strings.
      const written = new Map<string, Set<string>>();
      for (const [k, val] of model) written.set(k, new Set([bytesToKey(val)]));
      const keys = [...model.keys()].sort();
      const q: Query = { start: keys[keys.length >>> 3] + "\x00", reverse: v.reverse };
      // Keys in range that nothing deletes during the scan: each must be yielded.
      const present = new Set(keys.filter((k) => within(k, q)));
      const pending: Promise<unknown>[] = [];
      const seen: string[] = [];
      const it = db.scan(toOptions(q, rand));
      for (let step = 0;; step++) {
        const r = await it.next();
        if (r.done) break;
        const [k, val] = [bytesToKey(r.value[0]), r.value[1]];
        assert.ok(within(k, q), `yielded ${JSON.stringify(k)} is outside the range`);
        const prev = seen.at(-1);
        if (prev !== undefined) {
          assert.ok(v.reverse ? k < prev : k > prev, `${JSON.stringify(k)} after ${prev}`);
        }
        seen.push(k);
        assert.ok(written.get(k)?.has(bytesToKey(val)), `a value never written for ${k}`);
        for (let i = (rand() * 4) | 0; i > 0; i--) {
          const live = [...model.keys()];
          if (rand() < 0.25 && live.length > 0) {
            const d = live[(rand() * live.length) | 0];
            pending.push(db.delete(keyToBytes(d)));
            model.delete(d);
            present.delete(d);
          } else {
            const s = rand() < 0.5 && live.length > 0
              ? live[(rand() * live.length) | 0]
              : randomKey(rand, 4);
            const nv = randomBytes(rand, (rand() * 40) | 0);
            if (!written.has(s)) written.set(s, new Set());
            written.get(s)!.add(bytesToKey(nv));
            pending.push(db.set(keyToBytes(s), nv));
            model.set(s, nv);
          }
        }
        if (v.compact && step % 150 === 10) pending.push(db.compact());
        if (rand() < 0.1) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      const yielded = new Set(seen);
      const missing = [...present].filter((k) => !yielded.has(k));
      assert.deepEqual(missing, [], "keys present for the whole scan were all yielded");
      await check(db, model, {}, rand);
    }));
}

Deno.test("a scan reads values still in the write buffer (sync never)", () =>
  withDir(async (dir) => {
    const rand = prng(30);
    await using db = await open(dir, { sync: "never" });
    const model: Model = new Map();
    // Sizes on both sides of the writer's 256 KiB chunks and of the 1 MiB read scratch.
    const sizes = [0, 1, 100, 300 * 1024, 1536 * 1024];
    for (let i = 0; i < 400; i++) {
      const k = `key${String(i % 300).padStart(3, "0")}`;
      const v = randomBytes(rand, sizes[i % sizes.length]);
      db.set(k, v);
      model.set(k, v);
    }
    let onDisk = 0;
    for (const f of await dataFiles(dir)) onDisk += (await Deno.stat(f)).size;
    assert.ok(onDisk < db.stats().files.reduce((n, f) => n + f.size, 0), "writes still buffered");
    // Collected before comparing, so a value overwritten by a later read would show.
    const got = await scanned(db, {});
    assert.deepEqual(got.map(([k]) => k), [...model.keys()].sort());
    for (const [k, v] of got) assert.deepEqual(v, model.get(k), k);
  }));

Deno.test("a scan after close(), or resumed after it, rejects with ClosedError", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    for (const k of ["a", "b", "c"]) await db.set(k, k);
    const it = db.scan();
    const keys = db.keys({ prefix: "a" });
    assert.equal((await it.next()).done, false);
    await db.close();
    await assert.rejects(() => it.next(), ClosedError);
    await assert.rejects(() => keys.next(), ClosedError);
    await assert.rejects(() => db.scan().next(), ClosedError);
    await assert.rejects(() => db.scan({ reverse: true }).next(), ClosedError);
  }));

Deno.test("bad scan options reject with InvalidArgumentError", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("a", "1");
    const bad: unknown[] = [
      null,
      "a",
      { limit: -1 },
      { limit: 1.5 },
      { limit: NaN },
      { limit: "3" },
      { limit: null },
      { start: 42 },
      { end: {} },
      { prefix: null },
      { start: [97] },
      { reverse: "yes" },
      { reverse: 1 },
      { prefx: "a" },
      { prefix: "a", limt: 1 },
      [],
    ];
    for (const o of bad) {
      await assert.rejects(
        () => db.scan(o as ScanOptions).next(),
        InvalidArgumentError,
        Deno.inspect(o),
      );
      await assert.rejects(() => db.keys(o as ScanOptions).next(), InvalidArgumentError);
      await assert.rejects(() => db.scanEntries(o as ScanOptions).next(), InvalidArgumentError);
    }
    await assert.rejects(
      () => db.count("a" as never),
      (e: Error) => e instanceof InvalidArgumentError && /must be an object/.test(e.message),
    );
    assert.deepEqual(await listed(db, { limit: Infinity, reverse: false }), ["a"]);
  }));

Deno.test("after every key is deleted, new keys that share part of the old keys' head scan in byte order", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    const old = (i: number) => `user:0000${String(i).padStart(6, "0")}`;
    for (let i = 0; i < 2000; i++) await db.set(old(i), "v");
    for (let i = 0; i < 2000; i++) await db.delete(old(i));
    const fresh = ["user:9", "user:8", "uxer", "user:7a", "usa", "user:0000x", "b", "user:", "uz"];
    for (const k of fresh) await db.set(k, "w");
    const text = (k: Uint8Array) => new TextDecoder().decode(k);
    const all = [];
    for await (const k of db.keys()) all.push(text(k));
    assert.deepEqual(all, [...fresh].sort());
    const users = [];
    for await (const k of db.keys({ prefix: "user:" })) users.push(text(k));
    assert.deepEqual(users, fresh.filter((k) => k.startsWith("user:")).sort());
  }));
