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
