import assert from "node:assert/strict";
import { KeyDir } from "../src/index/keydir.ts";
import { prng } from "./helpers.ts";

Deno.test("keydir walk: every key after the given one, in order, with its entry's fields, until told to stop", () => {
  const dir = new KeyDir();
  const rand = prng(3);
  const keys = new Set<string>();
  while (keys.size < 5000) keys.add(String(Math.floor(rand() * 1e9)).padStart(9, "0"));
  for (const k of keys) {
    const n = Number(k);
    dir.set(k, { fileId: n % 7, offset: n, size: n % 1000, timestamp: 5, expireAt: n % 3 });
  }
  const sorted = [...keys].sort();
  const walked = (after: string | undefined, limit: number) => {
    const seen: string[] = [];
    dir.walk(after, (key, fileId, offset, size, expireAt) => {
      const n = Number(key);
      assert.deepEqual([fileId, offset, size, expireAt], [n % 7, n, n % 1000, n % 3]);
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
