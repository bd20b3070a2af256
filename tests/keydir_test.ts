import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { type Entry, KeyDir } from "../src/index/keydir.ts";

/** Deterministic PRNG (mulberry32) so a failure reproduces from the seed in its message. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function int(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

// Byte values at the edges of the order, plus prefixes that make keys share long heads
// (which moves the compared bytes deep into the keys).
const ALPHABET = ["\x00", "\x01", "a", "b", "\x7f", "\x80", "\xfe", "\xff"];
const HEADS = ["", "", "user:", "\xff\xff\xff\xff\xff", "\x00\x00\x00\x00\x00\x00", "ab"];

/** A random key; sometimes "" (the engine rejects it, the KeyDir must just not break). */
function randomKey(rand: () => number, alphabet = ALPHABET): string {
  let k = HEADS[int(rand, HEADS.length)];
  const len = int(rand, 6);
  for (let i = 0; i < len; i++) k += alphabet[int(rand, alphabet.length)];
  return k;
}

function randomEntry(rand: () => number): Entry {
  return {
    fileId: int(rand, 2 ** 32),
    offset: int(rand, 2 ** 32),
    size: int(rand, 2 ** 32),
    timestamp: int(rand, 2 ** 53),
    expireAt: rand() < 0.5 ? 0 : int(rand, 2 ** 53),
  };
}

/** The reference: a Map, ordered by sorting its keys (default sort = code unit order). */
function modelRange(
  model: Map<string, Entry>,
  start?: string,
  end?: string,
  reverse = false,
): [string, Entry][] {
  const keys = [...model.keys()]
    .filter((k) => (start === undefined || k >= start) && (end === undefined || k < end))
    .sort();
  if (reverse) keys.reverse();
  return keys.map((k) => [k, model.get(k)!]);
}

function assertSame(dir: KeyDir, model: Map<string, Entry>, msg: string): void {
  assert.equal(dir.size, model.size, msg);
  assert.deepEqual([...dir.range()], modelRange(model), msg);
}

/** Applies one random set/delete/get to both and checks the results agree. */
function randomOp(
  dir: KeyDir,
  model: Map<string, Entry>,
  rand: () => number,
  key: string,
  msg: string,
): void {
  const op = rand();
  if (op < 0.5) {
    const e = randomEntry(rand);
    assert.deepEqual(dir.set(key, e), model.get(key), msg);
    model.set(key, e);
  } else if (op < 0.8) {
    assert.deepEqual(dir.delete(key), model.get(key), msg);
    model.delete(key);
  } else {
    assert.deepEqual(dir.get(key), model.get(key), msg);
  }
}

Deno.test("keydir: random set/delete/get match a sorted Map", () => {
  for (const seed of [1, 2, 3]) {
    const rand = rng(seed);
    const dir = new KeyDir();
    const model = new Map<string, Entry>();
    for (let step = 0; step < 30_000; step++) {
      const msg = `seed ${seed} step ${step}`;
      randomOp(dir, model, rand, randomKey(rand), msg);
      if (step % 5000 === 0) assertSame(dir, model, msg);
    }
    assertSame(dir, model, `seed ${seed} end`);
  }
});

Deno.test("keydir: char codes above 255 do not break ordering", () => {
  const rand = rng(7);
  const dir = new KeyDir();
  const model = new Map<string, Entry>();
  const alphabet = [...ALPHABET, "\u0100", "\u00ff\u0101", "\uffff"];
  for (let step = 0; step < 20_000; step++) {
    randomOp(dir, model, rand, randomKey(rand, alphabet), `step ${step}`);
  }
  assertSame(dir, model, "end");
});

Deno.test("keydir: range with random bounds and direction", () => {
  const rand = rng(11);
  const dir = new KeyDir();
  const model = new Map<string, Entry>();
  for (let i = 0; i < 5000; i++) {
    const k = randomKey(rand), e = randomEntry(rand);
    dir.set(k, e);
    model.set(k, e);
  }
  for (let q = 0; q < 2000; q++) {
    // Bounds are mostly absent keys, sometimes present ones, sometimes omitted;
    // start > end happens about half the time.
    const start = rand() < 0.2 ? undefined : randomKey(rand);
    const end = rand() < 0.2 ? undefined : randomKey(rand);
    const reverse = rand() < 0.5;
    assert.deepEqual(
      [...dir.range(start, end, reverse)],
      modelRange(model, start, end, reverse),
      `query ${q}: ${JSON.stringify([start, end, reverse])}`,
    );
  }
  assert.deepEqual([...new KeyDir().range()], []);
  assert.deepEqual([...new KeyDir().range(undefined, undefined, true)], []);
});

Deno.test("keydir: mutation between iterator steps keeps the range guarantees", () => {
  const rand = rng(23);
  for (let round = 0; round < 300; round++) {
    const dir = new KeyDir();
    const model = new Map<string, Entry>();
    const n = int(rand, 3000);
    for (let i = 0; i < n; i++) {
      const k = randomKey(rand), e = randomEntry(rand);
      dir.set(k, e);
      model.set(k, e);
    }
    const start = rand() < 0.3 ? undefined : randomKey(rand);
    const end = rand() < 0.3 ? undefined : randomKey(rand);
    const reverse = rand() < 0.5;
    const inRange = (k: string) =>
      (start === undefined || k >= start) && (end === undefined || k < end);
    // Keys in range for the whole iteration must all be seen; start with all of them
    // and drop any the mutations touch.
    const stable = new Set([...model.keys()].filter(inRange));
    const churn = rand() * 40;
    // Keys inserted just ahead of a forward iterator may be seen and extended again, so
    // the total number of mutations is capped to keep the round finite.
    let budget = 2000;
    const seen: string[] = [];
    const msg = () => `round ${round}: ${JSON.stringify([start, end, reverse, seen.length])}`;
    for (const [k, e] of dir.range(start, end, reverse)) {
      assert.ok(inRange(k), msg());
      assert.deepEqual(e, model.get(k), msg());
      const prev = seen.at(-1);
      if (prev !== undefined) assert.ok(reverse ? k < prev : k > prev, msg());
      seen.push(k);
      for (let m = int(rand, churn); m > 0 && budget > 0; m--, budget--) {
        // Bias mutations toward the iterator's neighbourhood, where they can hurt.
        const key = rand() < 0.5 ? k + ALPHABET[int(rand, ALPHABET.length)] : randomKey(rand);
        stable.delete(key);
        if (rand() < 0.5) {
          const e2 = randomEntry(rand);
          dir.set(key, e2);
          model.set(key, e2);
        } else {
          dir.delete(key);
          model.delete(key);
        }
        if (rand() < 0.1) {
          dir.delete(k);
          model.delete(k);
        }
      }
    }
    const yielded = new Set(seen);
    for (const k of stable) assert.ok(yielded.has(k), `${msg()}: missed ${JSON.stringify(k)}`);
    assertSame(dir, model, msg());
  }
});

Deno.test("keydir: splits and merges at 100k keys", () => {
  const rand = rng(5);
  const bytes = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(int(rand, 256));
    return s;
  };
  const orders: [string, (keys: string[]) => string[]][] = [
    ["random", (keys) => keys],
    ["ascending", (keys) => [...keys].sort()],
    ["descending", (keys) => [...keys].sort().reverse()],
  ];
  for (const [name, order] of orders) {
    const dir = new KeyDir();
    const model = new Map<string, Entry>();
    const keys = Array.from({ length: 100_000 }, () => bytes(1 + int(rand, 12)));
    for (const k of order(keys)) {
      const e = randomEntry(rand);
      dir.set(k, e);
      model.set(k, e);
    }
    assertSame(dir, model, `${name}: filled`);
    // Delete ~95% in random order so nodes underflow everywhere and the tree shrinks.
    for (const k of keys) {
      if (rand() < 0.95) {
        assert.equal(dir.delete(k) !== undefined, model.delete(k), `${name}: delete`);
      }
    }
    assertSame(dir, model, `${name}: thinned`);
    for (const k of keys) dir.delete(k);
    assert.equal(dir.size, 0);
    assert.deepEqual([...dir.range()], []);
    assert.equal(dir.get(keys[0]), undefined);
    const e = randomEntry(rand);
    dir.set(keys[0], e);
    assert.deepEqual([...dir.range()], [[keys[0], e]], `${name}: reused`);
  }
});

Deno.test("keydir: entries round-trip exactly and are copies", () => {
  const dir = new KeyDir();
  const extremes: Entry[] = [
    { fileId: 0, offset: 0, size: 0, timestamp: 0, expireAt: 0 },
    {
      fileId: 2 ** 32 - 1,
      offset: 2 ** 32 - 1,
      size: 2 ** 32 - 1,
      timestamp: 2 ** 52 + 1,
      expireAt: 2 ** 53 - 1,
    },
    { fileId: 2 ** 31 + 3, offset: 1, size: 36, timestamp: Date.now(), expireAt: 0 },
  ];
  extremes.forEach((e, i) => dir.set(`k${i}`, e));
  extremes.forEach((e, i) => assert.deepEqual(dir.get(`k${i}`), e));
  // Past 32 bits a place is refused, never kept wrapped around.
  for (const [field, v] of [["fileId", 2 ** 32], ["offset", 2 ** 33 + 7], ["size", -1]] as const) {
    assert.throws(() => dir.set("big", { ...extremes[0], [field]: v }), RangeError);
    assert.equal(dir.get("big"), undefined);
  }

  const input = { ...extremes[1] };
  dir.set("copy", input);
  input.offset = 1;
  const out = dir.get("copy")!;
  assert.deepEqual(out, extremes[1], "set copies the fields");
  out.size = 2;
  assert.deepEqual(dir.get("copy"), extremes[1], "get returns a fresh object");

  dir.set("copy", extremes[0]);
  assert.deepEqual(dir.get("copy"), extremes[0], "replace");
  assert.equal(dir.size, extremes.length + 1);
});

Deno.test("keydir: empty key and prefixes order like bytes", () => {
  const dir = new KeyDir();
  const e: Entry = { fileId: 1, offset: 2, size: 3, timestamp: 4, expireAt: 0 };
  for (const k of ["a\x00", "a", "", "\xff", "a\x00\x00", "\x00", "ab", "a\xff"]) dir.set(k, e);
  assert.deepEqual(
    [...dir.range()].map(([k]) => k),
    ["", "\x00", "a", "a\x00", "a\x00\x00", "ab", "a\xff", "\xff"],
  );
  assert.deepEqual([...dir.range("a", "ab", true)].map(([k]) => k), [
    "a\x00\x00",
    "a\x00",
    "a",
  ]);
  assert.deepEqual(dir.delete(""), e);
  assert.equal(dir.delete(""), undefined);
  assert.equal(dir.get(""), undefined);
});

Deno.test("keydir: relocate moves exactly the present keys that take accepts", () => {
  const rand = rng(77);
  const dir = new KeyDir();
  const model = new Map<string, Entry>();
  for (let i = 0; i < 20_000; i++) {
    const k = `k${int(rand, 1e9)}`;
    const e = { ...randomEntry(rand), fileId: int(rand, 4) };
    dir.set(k, e);
    model.set(k, e);
  }
  const present = [...model.keys()];
  // Some present keys, some absent ones, including before the first and after the last.
  const pick = new Set<string>(["", "\xff\xff"]);
  for (let i = 0; i < 8_000; i++) pick.add(present[int(rand, present.length)]);
  for (let i = 0; i < 500; i++) pick.add(`k${int(rand, 1e9)}x`);
  const keys = [...pick].sort();
  const offsets = keys.map((_, i) => i * 10);
  // Destinations differ per key; -1 (a record that was not copied) skips the key.
  const fileIds = keys.map(() => [8, 9, -1][int(rand, 3)]);
  const taken: [number, number, number][] = [];
  // Copies out of file 1 are 8 bytes larger (as a version-1 record's copy is).
  const grows = (fileId: number) => fileId === 1 ? 8 : 0;
  dir.relocate(keys, fileIds, offsets, (fileId, size, to) => {
    const yes = fileId === 1 || fileId === 2;
    if (yes) taken.push([fileId, size, to]);
    return yes ? size + grows(fileId) : -1;
  });
  const want: [number, number, number][] = [];
  keys.forEach((k, i) => {
    const e = model.get(k);
    if (!e || (e.fileId !== 1 && e.fileId !== 2) || fileIds[i] < 0) return;
    want.push([e.fileId, e.size, fileIds[i]]);
    model.set(k, { ...e, fileId: fileIds[i], offset: offsets[i], size: e.size + grows(e.fileId) });
  });
  assert.ok(want.length > 1000, "the test moves many keys");
  // First differences only: a diff of thousands of entries takes node:assert minutes.
  assert.equal(taken.length, want.length, "calls of take");
  const call = want.findIndex(([id, size, to], i) =>
    taken[i][0] !== id || taken[i][1] !== size || taken[i][2] !== to
  );
  assert.equal(call, -1, `call ${call} of take`);
  const got = [...dir.range()], all = modelRange(model);
  assert.equal(got.length, all.length);
  const at = all.findIndex(([k, e], i) => got[i][0] !== k || !isDeepStrictEqual(got[i][1], e));
  assert.equal(at, -1, `entry ${at}: ${JSON.stringify(got[at])} != ${JSON.stringify(all[at])}`);
});

Deno.test("keydir: append + endAppend builds a tree that behaves like one built by inserts", () => {
  for (const n of [0, 1, 31, 112, 113, 145, 12_545, 30_000]) {
    const rand = rng(n + 7);
    const model = new Map<string, Entry>();
    while (model.size < n) {
      model.set(randomKey(rand, ALPHABET) + String(model.size), randomEntry(rand));
    }
    const sorted = [...model].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    const dir = new KeyDir();
    for (const [k, e] of sorted) dir.append(k, e);
    dir.endAppend();
    assert.equal(dir.size, n);
    assert.deepEqual([...dir.range()], sorted, `n=${n}: order after the load`);
    for (const [k, e] of sorted) assert.deepEqual(dir.get(k), e);
    // Then random sets and deletes must keep it equal to the model.
    const keys = [...model.keys()];
    for (let i = 0; i < 4 * n + 200; i++) {
      const k = rand() < 0.5 && keys.length ? keys[int(rand, keys.length)] : randomKey(rand);
      if (rand() < 0.4) {
        assert.equal(dir.delete(k) !== undefined, model.delete(k), `n=${n} op ${i}: delete ${k}`);
      } else {
        const e = randomEntry(rand);
        dir.set(k, e);
        model.set(k, e);
      }
    }
    const want = [...model].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    assert.ok(isDeepStrictEqual([...dir.range()], want), `n=${n}: after the random ops`);
    assert.deepEqual([...dir.range(undefined, undefined, true)], want.reverse());
  }
});

Deno.test("keydir: append refuses keys out of order and a keydir that is not empty", () => {
  const e: Entry = { fileId: 0, offset: 0, size: 1, timestamp: 0, expireAt: 0 };
  const dir = new KeyDir();
  dir.append("b", e);
  assert.throws(() => dir.append("a", e), RangeError);
  assert.throws(() => dir.append("b", e), RangeError);
  dir.endAppend();
  assert.throws(() => dir.append("c", e), RangeError);
});

Deno.test("keydir: walk in pieces with changes between them sees each lasting key once, in order", () => {
  const rand = rng(99);
  const dir = new KeyDir();
  const model = new Map<string, Entry>();
  for (let i = 0; i < 5000; i++) {
    const k = randomKey(rand) + i;
    const e = randomEntry(rand);
    dir.set(k, e);
    model.set(k, e);
  }
  const stable = new Set(model.keys());
  const seen: string[] = [];
  let last: string | undefined;
  for (;;) {
    const piece = 1 + int(rand, 300);
    let n = 0;
    dir.walk(last, (k, fileId, offset, size, timestamp, expireAt) => {
      seen.push(k);
      assert.deepEqual({ fileId, offset, size, timestamp, expireAt }, dir.get(k));
      last = k;
      return ++n < piece;
    });
    if (n < piece) break;
    // Between pieces: deletes (the key no longer lasts) and inserts anywhere.
    for (let j = 0; j < 20; j++) {
      const k = [...stable][int(rand, stable.size)];
      if (rand() < 0.5 && k !== undefined) {
        dir.delete(k);
        stable.delete(k);
      } else dir.set(randomKey(rand) + "new" + j, randomEntry(rand));
    }
  }
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1] < seen[i], "strictly ascending");
  const once = new Set(seen);
  assert.equal(once.size, seen.length);
  for (const k of stable) assert.ok(once.has(k), `lasting key ${JSON.stringify(k)} was seen`);
});

Deno.test("keydir: walk gives every key after the given one, in order, with its entry's fields, until told to stop", () => {
  const dir = new KeyDir();
  const rand = rng(3);
  const keys = new Set<string>();
  while (keys.size < 5000) keys.add(String(Math.floor(rand() * 1e9)).padStart(9, "0"));
  for (const k of keys) {
    const n = Number(k);
    dir.set(k, { fileId: n % 7, offset: n, size: n % 1000, timestamp: n % 5, expireAt: n % 3 });
  }
  const sorted = [...keys].sort();
  const walked = (after: string | undefined, limit: number) => {
    const seen: string[] = [];
    dir.walk(after, (key, fileId, offset, size, timestamp, expireAt) => {
      const n = Number(key);
      assert.deepEqual([fileId, offset, size, timestamp, expireAt], [
        n % 7,
        n,
        n % 1000,
        n % 5,
        n % 3,
      ]);
      seen.push(key);
      return seen.length < limit;
    });
    return seen;
  };
  assert.deepEqual(walked(undefined, Infinity), sorted);
  // From a present key (exclusive), from an absent one, and stopped early.
  assert.deepEqual(walked(sorted[1234], 100), sorted.slice(1235, 1335));
  assert.deepEqual(walked(sorted[1234] + "x", 10), sorted.slice(1235, 1245));
  assert.deepEqual(walked("", 3), sorted.slice(0, 3));
  assert.deepEqual(walked(sorted[4999], 10), []);
});

Deno.test("keydir: probe finds every present key; for an absent one, nothing or an entry probed() disowns", () => {
  const rand = rng(31);
  const dir = new KeyDir();
  // Each entry's offset names its key, so a probe's answer can be traced back.
  const byOffset = new Map<number, string>();
  const add = (k: string) => {
    if (k === "" || dir.get(k)) return;
    dir.set(k, { fileId: 1, offset: byOffset.size, size: 10, timestamp: 0, expireAt: 0 });
    byOffset.set(byOffset.size, k);
  };
  // Short keys over a small alphabet (many share their search prefix), and keys
  // that are prefixes of one another or differ only past their first bytes.
  for (let i = 0; i < 20_000; i++) add(randomKey(rand));
  for (let i = 0; i < 2_000; i++) {
    const k = randomKey(rand);
    add(k + "\x00");
    add(k + "tail" + i);
  }
  for (const k of byOffset.values()) {
    assert.equal(byOffset.get(dir.probe(k)!.offset), k, JSON.stringify(k));
    assert.ok(dir.probed(k));
  }
  let others = 0;
  for (let i = 0; i < 20_000; i++) {
    const k = randomKey(rand) + (i % 2 ? "" : "\x01");
    if (k === "" || dir.get(k)) continue;
    const e = dir.probe(k);
    if (!e) continue;
    assert.ok(byOffset.has(e.offset), "an entry of the index");
    assert.equal(dir.probed(k), false, JSON.stringify(k));
    others++;
  }
  // The adversarial keys do make probes land on other keys' entries.
  assert.ok(others > 100, `${others} probes of absent keys gave another key's entry`);
});

Deno.test("keydir: keys with long shared heads, present and absent, at every level of a 3-level tree", () => {
  // Inner nodes search only the bytes their keys (past the lower bound in slot 0)
  // do not share; absent keys here fall before, between and after those heads.
  const rand = rng(11);
  const num = (n: number, width: number) => String(n).padStart(width, "0");
  const stored = (i: number) => `user:${num(i * 7, 12)}`;
  const absent = [
    "",
    "user",
    "user:",
    "user;",
    "usea",
    "user:0",
    "user:00000000000",
    "user:9999999999999",
    "\xff",
  ];
  for (let i = 0; i < 2000; i++) {
    const j = int(rand, 40_000);
    absent.push(
      `user:${num(j * 7 + 1 + int(rand, 6), 12)}`,
      `${stored(j)}\x00`,
      stored(j).slice(0, 5 + int(rand, 12)),
    );
  }
  for (const order of ["random", "ascending", "descending"]) {
    const ids = Array.from({ length: 40_000 }, (_, i) => i);
    if (order === "random") ids.sort(() => rand() - 0.5);
    if (order === "descending") ids.reverse();
    const dir = new KeyDir();
    const model = new Map<string, Entry>();
    const check = (stage: string) => {
      for (const k of model.keys()) {
        assert.deepEqual(dir.get(k), model.get(k), `${order} ${stage}: ${k}`);
        assert.deepEqual(dir.probe(k), model.get(k), `${order} ${stage}: probe ${k}`);
      }
      for (const k of absent) {
        if (model.has(k)) continue;
        assert.equal(dir.get(k), undefined, `${order} ${stage}: absent ${JSON.stringify(k)}`);
        const p = dir.probe(k);
        assert.ok(
          p === undefined || !dir.probed(k),
          `${order} ${stage}: probe ${JSON.stringify(k)}`,
        );
      }
      assertSame(dir, model, `${order} ${stage}`);
    };
    for (const i of ids) {
      const e = randomEntry(rand);
      dir.set(stored(i), e);
      model.set(stored(i), e);
    }
    check("filled");
    for (const i of ids) {
      if (rand() < 0.9) {
        assert.deepEqual(dir.delete(stored(i)), model.get(stored(i)));
        model.delete(stored(i));
      }
    }
    check("thinned");
    // Keys outside every head so far, at both ends, go in after the tree has shrunk.
    for (const k of ["", "a", "user", "user:", "usez", "\xff\xff", ...absent.slice(0, 200)]) {
      const e = randomEntry(rand);
      dir.set(k, e);
      model.set(k, e);
    }
    check("widened");
  }
});

Deno.test("keydir: an inner node whose lower bound lacks the head its other keys share", () => {
  // Built in key order, 200 full leaves go under two inner nodes of 100 each.
  // The second one's lower bound (its slot 0) is the first "b" key: the head
  // its other keys share is "c0000", and the bytes after that head's length
  // in the "b" key are the highest there are.
  const num = (n: number) => String(n).padStart(6, "0");
  const keys: string[] = [];
  for (let i = 0; i < 100 * 112; i++) keys.push(`a${num(i)}`);
  for (let i = 0; i < 112; i++) keys.push(`b${"\xff".repeat(10)}${num(i)}`);
  for (let i = 0; i < 99 * 112; i++) keys.push(`c000${num(i)}`);
  const rand = rng(13);
  const dir = new KeyDir();
  const model = new Map<string, Entry>();
  for (const k of keys) {
    const e = randomEntry(rand);
    dir.append(k, e);
    model.set(k, e);
  }
  dir.endAppend();
  const absent = ["c0000", "c000", "c", "b", `b${"\xff".repeat(11)}`, "c00000", "c0000000000", "d"];
  for (const k of absent) assert.equal(dir.get(k), undefined, JSON.stringify(k));
  for (const k of [keys[11_200], keys[11_311], keys[11_312], keys.at(-1)!]) {
    assert.deepEqual(dir.get(k), model.get(k), JSON.stringify(k));
  }
  for (const k of absent) {
    const e = randomEntry(rand);
    dir.set(k, e);
    model.set(k, e);
  }
  for (const k of model.keys()) assert.deepEqual(dir.get(k), model.get(k), JSON.stringify(k));
  assertSame(dir, model, "after inserts");
});

Deno.test("keydir: emptied, then refilled with keys that share part of the old keys' head", () => {
  // Every node's search prefix was "user:0000" when the last key went; a new
  // key sharing only "user:" shortens it, and the rest must order by bytes.
  for (const count of [50, 20_000]) {
    const dir = new KeyDir();
    const rand = rng(17);
    const old = Array.from({ length: count }, (_, i) => `user:0000${String(i).padStart(6, "0")}`);
    for (const k of old) dir.set(k, randomEntry(rand));
    for (const k of old) dir.delete(k);
    assert.equal(dir.size, 0);
    const model = new Map<string, Entry>();
    const fresh = ["user:9", "user:8", "uxer", "user:7a", "usa", "user:0000x", "b", "user:", "uz"];
    for (const k of [...fresh, ...old.slice(0, 300).map((k) => k.replace("0000", "1"))]) {
      const e = randomEntry(rand);
      dir.set(k, e);
      model.set(k, e);
    }
    for (const k of model.keys()) assert.deepEqual(dir.get(k), model.get(k), `${count}: ${k}`);
    for (const k of ["user:00001", "user:7", "uw", "a"]) assert.equal(dir.get(k), undefined, k);
    assertSame(dir, model, `${count} keys, refilled`);
  }
});

Deno.test("keydir: rounds of filling under related heads and deleting nearly everything match a sorted Map", () => {
  // Heads that share parts of each other, so each round's keys meet prefixes
  // the nodes kept from rounds before; small rounds leave the root a leaf.
  const heads = ["user:0000", "user:00", "user:1", "us", "uxer:", "user:0000\xff", "", "user:"];
  for (const seed of [21, 22]) {
    const rand = rng(seed);
    const dir = new KeyDir();
    const model = new Map<string, Entry>();
    for (let round = 0; round < 40; round++) {
      const pair = [heads[int(rand, heads.length)], heads[int(rand, heads.length)]];
      const count = [5, 40, 300, 4000][int(rand, 4)];
      for (let i = 0; i < count; i++) {
        const k = pair[int(rand, 2)] + randomKey(rand, ["0", "1", "9", "\x00", "\xff"]);
        const e = randomEntry(rand);
        dir.set(k, e);
        model.set(k, e);
      }
      const keep = [0, 0.01, 0.3][int(rand, 3)];
      for (const k of [...model.keys()].sort(() => rand() - 0.5)) {
        if (rand() >= keep) {
          assert.deepEqual(dir.delete(k), model.get(k), `seed ${seed} round ${round}: delete`);
          model.delete(k);
        }
      }
      for (const k of heads) assert.deepEqual(dir.get(k), model.get(k), `seed ${seed}: ${k}`);
      assertSame(dir, model, `seed ${seed} round ${round} (${JSON.stringify(pair)})`);
    }
  }
});
