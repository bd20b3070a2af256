import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { type Entry, KeyDir } from "../src/index/keydir.ts";
import { hashKey } from "../src/index/point_cache.ts";
import { InvalidArgumentError, open } from "../mod.ts";
import { prng, withDir } from "./helpers.ts";

function int(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

// Mostly cacheable places, sometimes ones past what a slot holds (big records,
// high file ids) or that expire, which must never be cached.
function randomEntry(rand: () => number): Entry {
  const r = rand();
  return {
    fileId: r < 0.05 ? 0x10000 + int(rand, 100) : int(rand, 50),
    offset: int(rand, 2 ** 32),
    size: r > 0.9 ? 0x10000 + int(rand, 100) : 1 + int(rand, 0xffff),
    timestamp: int(rand, 2 ** 40),
    expireAt: r > 0.85 && r <= 0.9 ? 1 + int(rand, 2 ** 40) : 0,
  };
}

// Where relocations moved each key from since it was last written: a copy of
// the record it has now, which the cache may still name (see KeyDir.relocate).
type MovedFrom = Map<string, Entry[]>;

// What the cache says of `k` is nothing, exactly where the index has it, or a
// place a relocation moved that same record from (the keys here have distinct
// hashes, so a slot can only be `k`'s). True when it is where the index has it.
function checkKey(
  dir: KeyDir,
  model: Map<string, Entry>,
  k: string,
  msg: string,
  movedFrom: MovedFrom = new Map(),
): boolean {
  const at = dir.cached(k);
  if (at === undefined) return false;
  const e = model.get(k);
  assert.ok(e, `${msg}: ${JSON.stringify(k)} is absent but cached at ${JSON.stringify(at)}`);
  assert.equal(e.expireAt, 0, `${msg}: a record that expires is cached`);
  const place = (x: { fileId: number; offset: number; size: number }) => ({
    fileId: x.fileId,
    offset: x.offset,
    size: x.size,
  });
  const copies = [e, ...(movedFrom.get(k) ?? [])].map(place);
  assert.ok(
    copies.some((c) => isDeepStrictEqual(c, place(at))),
    `${msg}: ${JSON.stringify(k)} cached at ${JSON.stringify(place(at))}, not at ${
      JSON.stringify(copies)
    }`,
  );
  return isDeepStrictEqual(copies[0], place(at));
}

Deno.test("point cache: through sets, deletes, relocations and resizes, never an older place of a key", () => {
  const rand = prng(5);
  const dir = new KeyDir();
  const model = new Map<string, Entry>();
  const movedFrom: MovedFrom = new Map();
  const universe = Array.from({ length: 30_000 }, (_, i) => `key:${i * 7919 % 30_011}`);
  assert.equal(new Set(universe.map(hashKey)).size, universe.length, "distinct hashes");
  let checked = 0;
  // Grow to most of the universe, shrink to a few keys, grow again: the table
  // resizes both ways, with its old table still being moved while changes go on.
  for (const [target, rounds] of [[25_000, 60_000], [200, 60_000], [20_000, 50_000]]) {
    for (let r = 0; r < rounds; r++) {
      const k = universe[int(rand, universe.length)];
      const op = rand();
      const grow = model.size < target;
      if (op < (grow ? 0.75 : 0.2)) {
        const e = randomEntry(rand);
        dir.set(k, e);
        model.set(k, e);
        movedFrom.delete(k);
      } else if (op < 0.95) {
        assert.equal(dir.delete(k) !== undefined, model.delete(k));
        movedFrom.delete(k);
      } else {
        // A compaction's switchover: a sorted run of keys moves to a new file,
        // those whose entry `take` still recognizes.
        const keys = [
          ...new Set(Array.from({ length: 50 }, () => universe[int(rand, universe.length)])),
        ]
          .sort();
        const to = int(rand, 60);
        const offsets = keys.map((_, i) => i * 300);
        dir.relocate(
          keys,
          keys.map(() => to),
          offsets,
          (fileId, size) => fileId % 2 === 0 ? size : -1,
        );
        keys.forEach((key, i) => {
          const e = model.get(key);
          if (!e || e.fileId % 2 !== 0) return;
          model.set(key, { ...e, fileId: to, offset: offsets[i] });
          movedFrom.set(key, [...(movedFrom.get(key) ?? []), e]);
        });
      }
      checkKey(dir, model, k, `round ${r}`, movedFrom);
      const other = universe[int(rand, universe.length)];
      checkKey(dir, model, other, `round ${r}, another key`, movedFrom);
      checked++;
    }
    let hits = 0, cacheable = 0;
    for (const k of universe) {
      if (checkKey(dir, model, k, `after growing/shrinking to ${target}`, movedFrom)) hits++;
      const e = model.get(k);
      if (e && e.expireAt === 0 && e.size <= 0xffff && e.fileId <= 0xffff) {
        cacheable++;
      }
    }
    // The cache is used: with about a slot per key, two ways keep two thirds.
    assert.ok(hits > cacheable * 0.5, `${hits} of ${cacheable} cacheable keys cached`);
  }
  assert.ok(checked > 100_000);
});

Deno.test("point cache: a keydir loaded in key order caches keys as they are read back", () => {
  const dir = new KeyDir();
  const model = new Map<string, Entry>();
  const keys = Array.from({ length: 50_000 }, (_, i) => `k${String(i).padStart(8, "0")}`);
  for (const [i, k] of keys.entries()) {
    const e = {
      fileId: i % 7,
      offset: i * 120,
      size: 120,
      timestamp: 1,
      expireAt: i % 10 ? 0 : 99,
    };
    dir.append(k, e);
    model.set(k, e);
  }
  dir.endAppend();
  for (const k of keys) assert.equal(dir.cached(k), undefined, "a load caches nothing");
  for (const k of keys) dir.remember(k, dir.get(k)!);
  let hits = 0;
  for (const k of keys) if (checkKey(dir, model, k, "after reads")) hits++;
  // Sized for the load at once: two thirds of the 90% that do not expire.
  assert.ok(hits > keys.length * 0.9 * 0.6, `${hits} cached`);
});

Deno.test("point cache: two keys of one hash in a store read back their own values", async () => {
  // A birthday search finds two keys whose 32-bit hashes match: they share a
  // slot and its fingerprint, so a get of one may be pointed at the other's record.
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; pair === undefined; i++) {
    const k = `c${i}`, h = hashKey(k);
    const other = seen.get(h);
    if (other !== undefined) pair = [other, k];
    else seen.set(h, k);
  }
  const [a, b] = pair;
  const dir = await Deno.makeTempDir();
  try {
    for (const reopen of [false, true]) {
      await using db = await open(dir);
      if (!reopen) {
        await db.set(a, "value of a");
        await db.set(b, "value of b");
      }
      assert.equal(await db.getString(a), "value of a");
      assert.equal(await db.getString(b), "value of b");
      assert.equal(db.getSync("c-absent"), undefined);
      if (reopen) {
        await db.delete(b);
        assert.equal(await db.getString(a), "value of a");
        assert.equal(await db.get(b), undefined);
        await db.compact();
        assert.equal(await db.getString(a), "value of a");
        assert.equal(await db.get(b), undefined);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A KeyDir and its Map model over `n` keys of distinct hashes, with set (a
 * fresh cacheable place) and delete applied to both.
 */
function keyed(seed: number, prefix: string, n: number) {
  const rand = prng(seed);
  const dir = new KeyDir();
  const model = new Map<string, Entry>();
  const keys = Array.from({ length: n }, (_, i) => `${prefix}:${i}`);
  assert.equal(new Set(keys.map(hashKey)).size, keys.length, "distinct hashes");
  const set = (k: string) => {
    const e = {
      fileId: int(rand, 9),
      offset: int(rand, 2 ** 32),
      size: 40,
      timestamp: 1,
      expireAt: 0,
    };
    dir.set(k, e);
    model.set(k, e);
  };
  const del = (k: string) => {
    dir.delete(k);
    model.delete(k);
  };
  return { rand, dir, model, keys, set, del };
}

Deno.test("point cache: grown past its array into a Memory, emptied and refilled, it keeps up", () => {
  const { rand, dir, model, keys, set, del } = keyed(11, "seg", 150_000);
  const sample = (msg: string) => {
    for (let i = 0; i < 20; i++) checkKey(dir, model, keys[int(rand, keys.length)], msg);
  };
  const all = (msg: string) => {
    let hits = 0;
    for (const k of keys) if (checkKey(dir, model, k, msg)) hits++;
    return hits;
  };
  for (const [i, k] of keys.entries()) {
    set(k);
    if (i % 97 === 0) sample(`filling, ${i}`);
  }
  assert.ok(all("filled") > keys.length * 0.6);
  // Overwrites while nothing resizes, then deletes down to a few hundred keys,
  // through every halving, with overwrites among them.
  for (let i = 0; i < 30_000; i++) set(keys[int(rand, keys.length)]);
  for (const [i, k] of keys.entries()) {
    if (i < 300) continue;
    del(k);
    if (i % 5 === 0) set(keys[int(rand, 300)]);
    if (i % 97 === 0) sample(`emptying, ${i}`);
  }
  assert.ok(all("emptied") > 150);
  for (const [i, k] of keys.entries()) {
    set(k);
    if (i % 97 === 0) sample(`refilling, ${i}`);
  }
  assert.ok(all("refilled") > keys.length * 0.6);
});

Deno.test("point cache: pointCache: false keeps none, and reads and writes behave the same", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sizes: number[] = [];
    for (const pointCache of [true, false]) {
      const sub = `${dir}/${pointCache}`;
      await using db = await open(sub, { sync: "never", pointCache });
      for (let i = 0; i < 20_000; i++) await db.set(`k${i}`, `v${i}`);
      for (let i = 0; i < 20_000; i += 3) await db.delete(`k${i}`);
      for (let i = 0; i < 20_000; i += 7) await db.set(`k${i}`, `w${i}`);
      await db.compact();
      for (let i = 0; i < 20_000; i++) {
        const want = i % 7 === 0 ? `w${i}` : i % 3 === 0 ? undefined : `v${i}`;
        assert.equal(await db.getString(`k${i}`), want, `k${i}, pointCache: ${pointCache}`);
      }
      sizes.push(db.stats().index.bytes);
    }
    // Past 16,384 keys the table doubled to 32,768 slots of 12 bytes; a third
    // deleted is not enough to halve it (that waits for half a slot per key).
    assert.equal(sizes[0] - sizes[1], 32_768 * 12);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("point cache: pointCache must be a boolean", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(open(dir, { pointCache: "yes" as never }), InvalidArgumentError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("point cache: halved in its Memory, then changed and grown again, it shows nothing stale", () => {
  const { rand, dir, model, keys, set, del } = keyed(23, "mem", 100_000);
  // 80,000 keys: 131,072 slots in a Memory. Down to 20,000: halved once, still
  // past the array's size, so the Memory keeps the pages of the upper half.
  for (const k of keys.slice(0, 80_000)) set(k);
  for (const k of keys.slice(20_000, 80_000)) del(k);
  // The keys left change place or go, then the table doubles again over the
  // buckets it halved away.
  for (const k of keys.slice(0, 20_000)) rand() < 0.5 ? set(k) : del(k);
  for (const k of keys.slice(20_000)) set(k);
  let hits = 0;
  for (const k of keys) if (checkKey(dir, model, k, "grown again")) hits++;
  assert.ok(hits > model.size * 0.6, `${hits} of ${model.size} cached`);
});

Deno.test("point cache: keys cached before compactions read their values after them, and after their files are gone", async () => {
  await withDir(async (dir) => {
    await using db = await open(dir, { maxFileSize: 64 * 1024 });
    const model = new Map<string, string>();
    const keys = Array.from({ length: 3000 }, (_, i) => `pc:${i}`);
    for (const [i, k] of keys.entries()) {
      await db.set(k, `first ${i}`);
      model.set(k, `first ${i}`);
    }
    for (let round = 0; round < 3; round++) {
      // Read everything, so the cache names the files about to be merged.
      for (const k of keys) assert.equal(db.getSync(k)?.length, model.get(k)?.length);
      for (const [i, k] of keys.entries()) {
        if (i % 3 === round) {
          await db.set(k, `round ${round} ${i}`);
          model.set(k, `round ${round} ${i}`);
        } else if (i % 7 === round) {
          await db.delete(k);
          model.delete(k);
        }
      }
      const before = new Set(Array.from(Deno.readDirSync(dir), (e) => e.name));
      await db.compact();
      const after = new Set(Array.from(Deno.readDirSync(dir), (e) => e.name));
      assert.ok([...before].some((n) => n.startsWith("data.") && !after.has(n)), "inputs removed");
      for (const k of keys) {
        assert.equal(await db.getString(k), model.get(k), `${k} round ${round}`);
      }
    }
  });
});

Deno.test("point cache: held during a replay, it is neither filled nor asked, and comes back empty", () => {
  const dir = new KeyDir();
  const e = (i: number): Entry => ({
    fileId: 1,
    offset: i * 200,
    size: 150,
    timestamp: 0,
    expireAt: 0,
  });
  dir.set("before", e(0));
  assert.notEqual(dir.cached("before"), undefined);
  dir.holdPoints();
  for (let i = 1; i <= 5000; i++) dir.set(`k${i}`, e(i));
  assert.equal(dir.cached("k1"), undefined, "not asked while held");
  assert.ok(dir.cacheBytes > 0, "its table still counts in memoryBytes");
  dir.releasePoints();
  assert.equal(dir.cached("k1"), undefined, "not filled by the replay");
  assert.equal(dir.cached("before"), undefined, "emptied");
  dir.set("k1", e(1));
  assert.deepEqual(dir.cached("k1"), { fileId: 1, offset: 200, size: 150 });
  assert.deepEqual(dir.get("k5000"), e(5000));
});
