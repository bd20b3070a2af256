import assert from "node:assert/strict";
import { type Cask, InvalidArgumentError, type OpenOptions } from "../mod.ts";
import { dataFiles, openQuiet, text, withDir } from "./helpers.ts";

const T0 = 1_700_000_000_000;

/** A store whose clock reads `clock.now`, which the test moves by hand. */
async function openAt(
  dir: string,
  clock: { now: number },
  options: OpenOptions = {},
): Promise<Cask> {
  const { db, warnings } = await openQuiet(dir, { clock: () => clock.now, ...options });
  assert.deepEqual(warnings, []);
  return db;
}

async function keyList(db: Cask, reverse = false, limit?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const k of db.keys({ reverse, limit })) out.push(text(k)!);
  return out;
}

async function scanList(db: Cask): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of db.scan()) out.push(`${text(k)}=${text(v)}`);
  return out;
}

// Each API gets keys of its own, so that one noticing an expiry (and dropping the
// key from the index) cannot hide whether another would have noticed it.
const presence: Record<string, (db: Cask, k: string) => Promise<boolean>> = {
  get: async (db, k) => (await db.get(k)) !== undefined,
  getString: async (db, k) => (await db.getString(k)) !== undefined,
  has: (db, k) => db.has(k),
  ttl: async (db, k) => (await db.ttl(k)) !== undefined,
};

Deno.test("a key is present until exactly its expiry and absent from that ms on", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    await using db = await openAt(dir, clock);
    const keys: string[] = [];
    for (const api of Object.keys(presence)) {
      await db.set(`ttl:${api}`, "v", { ttl: 100 });
      await db.set(`at:${api}`, "v", { expireAt: T0 + 100 });
      keys.push(`at:${api}`, `ttl:${api}`);
    }
    await db.set("forever", "v");
    keys.sort();

    clock.now = T0 + 99;
    assert.deepEqual(await keyList(db), [...keys, "forever"].sort());
    assert.equal((await scanList(db)).length, keys.length + 1);
    for (const k of keys) {
      assert.equal(await db.ttl(k), 1, k);
      assert.equal(await db.getString(k), "v", k);
    }

    clock.now = T0 + 100;
    assert.deepEqual(await keyList(db), ["forever"]);
    assert.deepEqual(await keyList(db, true), ["forever"]);
    assert.deepEqual(await scanList(db), ["forever=v"]);
    for (const [api, present] of Object.entries(presence)) {
      assert.equal(await present(db, `ttl:${api}`), false, `${api} after a ttl`);
      assert.equal(await present(db, `at:${api}`), false, `${api} after an expireAt`);
    }
    assert.equal(await db.ttl("forever"), Infinity);
  }));

Deno.test("ttl() is the remaining ms, Infinity without expiry, undefined when absent", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    await using db = await openAt(dir, clock);
    await db.set("a", "v", { ttl: 5000 });
    await db.set("b", "v", { expireAt: T0 + 1_000_000 });
    await db.set("c", "v");
    await db.set("d", "v", { ttl: 10 });
    await db.delete("d");
    assert.equal(await db.ttl("a"), 5000);
    clock.now += 1234;
    assert.equal(await db.ttl("a"), 5000 - 1234);
    assert.equal(await db.ttl("b"), 1_000_000 - 1234);
    assert.equal(await db.ttl("c"), Infinity);
    assert.equal(await db.ttl("d"), undefined);
    assert.equal(await db.ttl("never-set"), undefined);
  }));

Deno.test("ttl() never reports no time left for a present key, on a clock that moves", () =>
  withDir(async (dir) => {
    // Every read of this clock advances it, as a real clock may between two reads.
    let now = T0;
    await using db = (await openQuiet(dir, { clock: () => now++ })).db;
    // Two lengths, so the clock reads of set() and ttl() fall on every parity.
    for (const ttl of [50, 51]) {
      await db.set("k", "v", { ttl });
      const seen: Array<number | undefined> = [];
      while (seen.at(-1) !== undefined || seen.length === 0) {
        seen.push(await db.ttl("k"));
        assert.ok(seen.length <= ttl, `still present after ${ttl} calls: ${seen.join(", ")}`);
      }
      assert.ok(seen.length > 1);
      assert.ok(seen.every((t) => t === undefined || t > 0), `ttl() reported ${seen.join(", ")}`);
    }
  }));

Deno.test("overwriting without a TTL clears the expiry; with one, replaces it", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    {
      await using db = await openAt(dir, clock);
      await db.set("cleared", "1", { ttl: 100 });
      await db.set("cleared", "2");
      await db.set("batch-cleared", "1", { ttl: 100 });
      await db.atomic([{ type: "set", key: "batch-cleared", value: "2" }]);
      await db.set("longer", "1", { ttl: 100 });
      await db.set("longer", "2", { ttl: 10_000 });
      await db.set("shorter", "1", { ttl: 10_000 });
      await db.set("shorter", "2", { expireAt: T0 + 50 });
      await db.set("expiring", "1");
      await db.set("expiring", "2", { ttl: 100 });
      assert.equal(await db.ttl("cleared"), Infinity);
      assert.equal(await db.ttl("batch-cleared"), Infinity);
      assert.equal(await db.ttl("longer"), 10_000);
      assert.equal(await db.ttl("shorter"), 50);
      assert.equal(await db.ttl("expiring"), 100);
      clock.now = T0 + 100;
      assert.equal(await db.getString("cleared"), "2");
      assert.equal(await db.getString("batch-cleared"), "2");
      assert.equal(await db.getString("longer"), "2");
      assert.equal(await db.has("shorter"), false);
      assert.equal(await db.has("expiring"), false, "the older value without TTL stays gone");
    }
    clock.now = T0 + 1_000_000;
    await using db = await openAt(dir, clock);
    assert.deepEqual(await scanList(db), ["batch-cleared=2", "cleared=2"]);
  }));

Deno.test("expiry survives restart: absent when reopened later, present when reopened earlier", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    {
      await using db = await openAt(dir, clock);
      await db.set("a", "old");
      await db.set("a", "new", { ttl: 100 });
      await db.set("b", "v", { expireAt: T0 + 200 });
      await db.set("c", "v");
    }
    const reopened = async (at: number) => {
      clock.now = at;
      await using db = await openAt(dir, clock);
      return { size: db.size, scan: await scanList(db), a: await db.ttl("a") };
    };
    assert.deepEqual(await reopened(T0 + 99), {
      size: 3,
      scan: ["a=new", "b=v", "c=v"],
      a: 1,
    });
    assert.deepEqual(await reopened(T0 + 100), { size: 2, scan: ["b=v", "c=v"], a: undefined });
    assert.deepEqual(await reopened(T0 + 200), { size: 1, scan: ["c=v"], a: undefined });
    // Expiry is judged by the clock, not stored as a deletion.
    assert.deepEqual(await reopened(T0 + 50), {
      size: 3,
      scan: ["a=new", "b=v", "c=v"],
      a: 50,
    });
  }));

Deno.test("compact() drops expired records for good; hint files carry the expiry of the rest", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    const small = { maxFileSize: 1024 };
    {
      await using db = await openAt(dir, clock, small);
      for (let i = 0; i < 20; i++) await db.set(`filler${i}`, "x".repeat(50));
      await db.set("gone", "old");
      await db.set("gone", "v", { ttl: 100 });
      await db.set("kept", "v", { ttl: 10_000 });
      await db.atomic([{ type: "set", key: "batched", value: "v", expireAt: T0 + 100 }]);
      clock.now = T0 + 100;
      assert.equal(db.stats().keys, 23, "expired keys stay in the index until noticed");
      await db.compact();
      assert.equal(db.size, 21);
      assert.equal(await db.has("gone"), false);
      assert.equal(await db.ttl("kept"), 9_900);
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.ok(names.some((n) => n.startsWith("hint.")), `hint files in ${names}`);
    // Even a clock from before the expiry finds nothing: the records are gone.
    clock.now = T0;
    {
      await using db = await openAt(dir, clock, small);
      assert.equal(db.size, 21);
      assert.equal(await db.has("gone"), false);
      assert.equal(await db.has("batched"), false);
      assert.equal(await db.ttl("kept"), 10_000, "the hint kept the expiry");
    }
    clock.now = T0 + 10_000;
    await using db = await openAt(dir, clock, small);
    assert.equal(db.size, 20);
    assert.equal(await db.has("kept"), false);
  }));

Deno.test("TTLs inside atomic batches, also after restart", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    {
      await using db = await openAt(dir, clock);
      await db.set("deleted", "v");
      await db.atomic([
        { type: "set", key: "a", value: "v", ttl: 100 },
        { type: "set", key: "b", value: "v", expireAt: T0 + 200 },
        { type: "set", key: "c", value: "v" },
        { type: "delete", key: "deleted" },
      ]);
      await db.batch().set("d", "v", { ttl: 100 }).set("e", "v", { expireAt: T0 + 300 }).commit();
      assert.deepEqual(
        await Promise.all(["a", "b", "c", "d", "e"].map((k) => db.ttl(k))),
        [100, 200, Infinity, 100, 300],
      );
      clock.now = T0 + 100;
      assert.deepEqual(await keyList(db), ["b", "c", "e"]);
    }
    clock.now = T0 + 99;
    {
      await using db = await openAt(dir, clock);
      assert.deepEqual(await keyList(db), ["a", "b", "c", "d", "e"]);
      assert.equal(await db.ttl("a"), 1);
    }
    clock.now = T0 + 250;
    await using db = await openAt(dir, clock);
    assert.deepEqual(await keyList(db), ["c", "e"]);
    assert.equal(await db.ttl("e"), 50);
  }));

Deno.test("invalid ttl and expireAt reject with InvalidArgumentError and write nothing", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    const options = { maxFileSize: 1024 };
    {
      await using db = await openAt(dir, clock, options);
      await db.set("k", "old");
      // Fill the active file until a 40-byte record no longer fits: a rejected write
      // that got as far as rotating would leave a new file behind.
      for (let i = 0; db.stats().files.at(-1)!.size <= 1024 - 40; i++) await db.set(`f${i}`, "x");
      const before = { size: db.size, files: db.stats().files, onDisk: await dataFiles(dir) };
      const bad: unknown[] = [
        { ttl: 0 },
        { ttl: -1 },
        { ttl: NaN },
        { ttl: Infinity },
        { ttl: -Infinity },
        { ttl: "100" },
        { ttl: null },
        { ttl: Number.MAX_VALUE },
        { ttl: 2 ** 53 },
        { expireAt: 0 },
        { expireAt: -1 },
        { expireAt: 1.5 },
        { expireAt: NaN },
        { expireAt: Infinity },
        { expireAt: 2 ** 53 },
        { expireAt: "soon" },
        { expireAt: null },
        { ttl: 100, expireAt: T0 + 100 },
      ];
      for (const o of bad) {
        const what = Deno.inspect(o);
        await assert.rejects(() => db.set("k", "new", o as never), InvalidArgumentError, what);
        await assert.rejects(
          () =>
            db.atomic([
              { type: "set", key: "other", value: "v" },
              { type: "set", key: "k", value: "new", ...o as object },
            ]),
          InvalidArgumentError,
          `atomic ${what}`,
        );
        await assert.rejects(
          () => db.batch().set("k", "new", o as never).commit(),
          InvalidArgumentError,
          `batch ${what}`,
        );
      }
      assert.equal(await db.getString("k"), "old");
      assert.equal(await db.ttl("k"), Infinity);
      assert.equal(await db.has("other"), false);
      assert.deepEqual(
        { size: db.size, files: db.stats().files, onDisk: await dataFiles(dir) },
        before,
      );
      await db.set("after", "v", { ttl: 100 });
    }
    await using db = await openAt(dir, clock, options);
    assert.equal(await db.getString("k"), "old");
    assert.equal(await db.ttl("after"), 100);
  }));

Deno.test("an expireAt already reached makes the key absent at once", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    {
      await using db = await openAt(dir, clock);
      await db.set("past", "old");
      await db.set("past", "new", { expireAt: T0 - 1 });
      await db.set("now", "old");
      await db.atomic([{ type: "set", key: "now", value: "new", expireAt: T0 }]);
      assert.equal(await db.has("past"), false);
      assert.equal(await db.get("now"), undefined);
      assert.deepEqual(await keyList(db), []);
    }
    await using db = await openAt(dir, clock);
    assert.deepEqual(await keyList(db), []);
  }));

Deno.test("db.size counts live keys only: expired ones leave the index as it is read", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    {
      await using db = await openAt(dir, clock);
      for (const k of ["a", "b", "c", "d"]) await db.set(k, "v", { ttl: 100 });
      await db.set("later", "v", { ttl: 300 });
      await db.set("c", "v", { ttl: 50 });
      await db.set("d", "v");
      await db.set("forever", "v");
      assert.equal(db.size, 6);
      assert.equal(db.stats().keys, 6);
      clock.now = T0 + 50;
      assert.equal(db.size, 5, "c expired at its new, earlier time");
      clock.now = T0 + 99;
      assert.equal(db.size, 5);
      clock.now = T0 + 100;
      assert.equal(db.size, 3, "a and b expired; d was overwritten without a TTL");
      assert.equal(db.stats().keys, 3, "the expired keys left the index");
      assert.equal(await db.delete("a"), false, "an expired key is not there to delete");
      await db.compact();
      assert.equal(db.size, 3);
    }
    clock.now = T0 + 300;
    await using db = await openAt(dir, clock);
    assert.equal(db.size, 2, "recovery skips what has expired, and size what expires later");
  }));

Deno.test("db.size stays exact through many overwrites of keys with TTLs", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    await using db = await openAt(dir, clock, { sync: "never" });
    const expireAt = new Map<string, number>();
    let x = 7;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const k = `k${x % 500}`, ttl = x % 3 === 0 ? undefined : 1 + (x % 1000);
      await db.set(k, "v", ttl === undefined ? {} : { ttl });
      expireAt.set(k, ttl === undefined ? Infinity : clock.now + ttl);
      if (i % 7 === 0) clock.now++;
      if (i % 997 === 0) {
        const live = [...expireAt.values()].filter((t) => t > clock.now).length;
        assert.equal(db.size, live, `after ${i} writes`);
      }
    }
  }));

Deno.test("keys that expire during a scan are not yielded after that; limits count live keys", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    await using db = await openAt(dir, clock);
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    for (const [i, k] of keys.entries()) await db.set(k, "v", i % 2 ? {} : { ttl: 100 });
    const seen: string[] = [];
    for await (const k of db.keys()) {
      seen.push(text(k)!);
      clock.now = T0 + 100;
    }
    assert.deepEqual(seen, ["k0", "k1", "k3", "k5", "k7", "k9"]);
    assert.deepEqual(await keyList(db, false, 2), ["k1", "k3"]);
    assert.deepEqual(await keyList(db, true, 2), ["k9", "k7"]);
    assert.deepEqual(await scanList(db), ["k1=v", "k3=v", "k5=v", "k7=v", "k9=v"]);
  }));

Deno.test("stats().expiredKeys counts keys dropped as expired since the open, each once", () =>
  withDir(async (dir) => {
    const clock = { now: T0 };
    let db = await openAt(dir, clock);
    for (const k of ["read", "deleted", "overwritten", "listed", "compacted", "live"]) {
      await db.set(k, "v", { ttl: k === "live" ? 1_000 : 100 });
    }
    await db.set("forever", "v");
    assert.equal(db.stats().expiredKeys, 0);
    clock.now = T0 + 100;
    assert.equal(await db.get("read"), undefined);
    assert.equal(await db.get("read"), undefined);
    assert.equal(db.stats().expiredKeys, 1);
    assert.equal(await db.delete("deleted"), false);
    await db.set("overwritten", "new");
    assert.equal(db.stats().expiredKeys, 3);
    // A delete or overwrite of a key that never expired counts nothing.
    await db.delete("forever");
    await db.set("live", "v2", { ttl: 1_000 });
    assert.equal(db.stats().expiredKeys, 3);
    // A listing skips expired keys and leaves them to a compaction, which drops them.
    assert.deepEqual(await keyList(db), ["live", "overwritten"]);
    assert.equal(db.stats().expiredKeys, 3);
    await db.compact();
    assert.equal(db.stats().expiredKeys, 5);
    assert.equal(await db.get("listed"), undefined);
    assert.equal(db.stats().expiredKeys, 5);
    await db.close();

    // Keys the open finds expired are dropped as the log is replayed: not counted.
    db = await openAt(dir, clock);
    await db.set("soon", "v", { ttl: 10 });
    await db.set("later", "v", { ttl: 50 });
    await db.close();
    clock.now = T0 + 120;
    db = await openAt(dir, clock);
    assert.equal(db.stats().expiredKeys, 0);
    clock.now = T0 + 200;
    assert.equal(await db.has("later"), false);
    assert.equal(db.stats().expiredKeys, 1);
    await db.close();
  }));
