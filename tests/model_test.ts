import assert from "node:assert/strict";
import { type Cask, open } from "../mod.ts";
import { bytesToKey } from "../src/base/keys.ts";
import { prng, randomBytes, withDir } from "./helpers.ts";

// Random operations checked against a plain Map, with reopens and compactions
// (some running concurrently with the operations after them) in between, so
// that recovery, rotation, batches and merges are exercised together.
const ROUNDS = Number(Deno.env.get("CASK_MODEL_OPS") ?? 4000);

function randomKey(rand: () => number): Uint8Array {
  // A small key space so keys collide, overwrite and get deleted often; bytes
  // include 0x00 and 0xff and keys that are prefixes of one another.
  const len = 1 + ((rand() * 3) | 0);
  const alphabet = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xff];
  return new Uint8Array(len).map(() => alphabet[(rand() * alphabet.length) | 0]);
}

async function checkAll(
  db: Cask,
  model: Map<string, Uint8Array>,
  rand: () => number,
): Promise<void> {
  assert.equal(db.size, model.size);
  for (const [k, v] of model) {
    const key = Uint8Array.from(k, (c) => c.charCodeAt(0));
    assert.deepEqual(await db.get(key), v);
  }
  const sorted = [...model.keys()].sort();
  const got: string[] = [];
  for await (const [k, v] of db.scan()) {
    got.push(bytesToKey(k));
    assert.deepEqual(v, model.get(bytesToKey(k)));
  }
  assert.deepEqual(got, sorted);
  const reverse = rand() < 0.5;
  const limit = (rand() * 5) | 0;
  const start = bytesToKey(randomKey(rand));
  const want = sorted.filter((k) => k >= start);
  if (reverse) want.reverse();
  const ranged: string[] = [];
  for await (
    const k of db.keys({
      start: Uint8Array.from(start, (c) => c.charCodeAt(0)),
      reverse,
      limit: limit || undefined,
    })
  ) {
    ranged.push(bytesToKey(k));
  }
  assert.deepEqual(ranged, limit ? want.slice(0, limit) : want);
}

for (const seed of [1, 2, 3]) {
  Deno.test(`random operations match a Map model (seed ${seed})`, () =>
    withDir(async (dir) => {
      const rand = prng(seed);
      const model = new Map<string, Uint8Array>();
      const syncs = ["always", "never", { intervalMs: 5 }] as const;
      let db = await open(dir, { maxFileSize: 2048, sync: syncs[seed % 3], onWarning: () => {} });
      const compactions: Promise<unknown>[] = [];
      try {
        for (let i = 0; i < ROUNDS; i++) {
          const r = rand();
          const key = randomKey(rand);
          const k = bytesToKey(key);
          if (r < 0.45) {
            const v = randomBytes(rand, (rand() * 200) | 0);
            await db.set(key, v);
            model.set(k, v);
          } else if (r < 0.6) {
            assert.equal(await db.delete(key), model.has(k));
            model.delete(k);
          } else if (r < 0.68) {
            const ops = Array.from({ length: 1 + ((rand() * 4) | 0) }, () => {
              const bk = randomKey(rand);
              return rand() < 0.7
                ? { type: "set" as const, key: bk, value: randomBytes(rand, (rand() * 50) | 0) }
                : { type: "delete" as const, key: bk };
            });
            await db.atomic(ops);
            for (const op of ops) {
              if (op.type === "set") model.set(bytesToKey(op.key), op.value);
              else model.delete(bytesToKey(op.key));
            }
          } else if (r < 0.95) {
            assert.deepEqual(await db.get(key), model.get(k));
            assert.equal(await db.has(key), model.has(k));
          } else if (r < 0.965) {
            // Half the compactions run on while the next operations go ahead.
            const done = db.compact();
            if (rand() < 0.5) await done;
            else compactions.push(done);
          } else if (r < 0.99) {
            await Promise.all(compactions.splice(0));
            await db.close();
            db = await open(dir, {
              maxFileSize: 2048,
              sync: syncs[(seed + i) % 3],
              onWarning: () => {},
            });
            assert.equal(db.size, model.size);
          } else {
            await checkAll(db, model, rand);
          }
        }
        await Promise.all(compactions);
        await checkAll(db, model, rand);
      } finally {
        await db.close();
      }
    }));
}

// Phases over keys under heads that share parts of each other ("user:0000",
// "user:00", "us" ...): each fills under one or two heads, enough for the index
// to split, then deletes all or most keys one by one or by range, so the next
// phase's keys meet the search prefixes the index kept (an emptied index kept
// one that sorted such keys out of order, see keydir_test). Reopens load the index
// from a checkpoint (built in key order) as often as by replay.
const HEADS = ["user:0000", "user:00", "user:1", "us", "uxer:", "user:0000\xff", ""];

function headKey(rand: () => number, heads: string[]): string {
  let k = heads[(rand() * heads.length) | 0];
  const len = (rand() * 4) | 0;
  for (let i = 0; i < len; i++) k += "019\x00\xff"[(rand() * 5) | 0];
  return k || "0";
}

const enc = (k: string) => Uint8Array.from(k, (c) => c.charCodeAt(0));

for (const seed of [4, 14, 16]) {
  Deno.test(`phases of filling and mass deletes under related heads match a Map model (seed ${seed})`, () =>
    withDir(async (dir) => {
      const rand = prng(seed);
      const model = new Map<string, Uint8Array>();
      const opts = { sync: "never" as const, checkpoint: { minKeys: 1 }, onWarning: () => {} };
      let db = await open(dir, opts);
      try {
        for (let phase = 0; phase < 30; phase++) {
          const heads = [HEADS[(rand() * HEADS.length) | 0], HEADS[(rand() * HEADS.length) | 0]];
          const count = [3, 60, 600][(rand() * 3) | 0];
          for (let i = 0; i < count; i++) {
            const k = headKey(rand, heads), v = randomBytes(rand, (rand() * 20) | 0);
            await db.set(enc(k), v);
            model.set(k, v);
          }
          const how = rand();
          if (how < 0.3) {
            const keep = rand() < 0.5 ? 0 : 0.03;
            for (const k of [...model.keys()]) {
              if (rand() >= keep) {
                assert.equal(await db.delete(enc(k)), true);
                model.delete(k);
              }
            }
          } else if (how < 0.6) {
            const prefix = HEADS[(rand() * HEADS.length) | 0];
            const gone = [...model.keys()].filter((k) => k.startsWith(prefix));
            assert.equal(await db.deleteRange({ prefix: enc(prefix) }), gone.length);
            for (const k of gone) model.delete(k);
          }
          if (rand() < 0.4) {
            await db.close();
            db = await open(dir, opts);
          } else if (rand() < 0.2) await db.compact();
          for (const k of [...model.keys(), ...HEADS.filter((h) => h !== "")]) {
            assert.deepEqual(
              await db.get(enc(k)),
              model.get(k),
              `phase ${phase}: ${JSON.stringify(k)}`,
            );
          }
          const sorted = [...model.keys()].sort();
          const got: string[] = [];
          for await (const k of db.keys()) got.push(bytesToKey(k));
          assert.deepEqual(got, sorted, `phase ${phase}: scan`);
          for (const prefix of HEADS) {
            const under: string[] = [];
            for await (const k of db.keys({ prefix: enc(prefix) })) under.push(bytesToKey(k));
            assert.deepEqual(under, sorted.filter((k) => k.startsWith(prefix)), `prefix ${prefix}`);
          }
        }
      } finally {
        await db.close();
      }
    }));
}
