// The YCSB generators against independent references: BigInt FNV-1a for the hash, the
// zipfian probability of the most popular item, and YCSB's documented skew.

import assert from "node:assert/strict";
import { prng } from "../../../tests/helpers.ts";
import { fnvhash64, fnvMod, ScrambledZipfian, SkewedLatest, Zipfian } from "./generators.ts";
import { INSERT, makePlan, READ, SCAN, UPDATE } from "./workloads.ts";

/** YCSB's Utils.fnvhash64, literally, in 64-bit BigInt arithmetic. */
function referenceFnv(v: bigint): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < 8; i++) {
    h ^= v & 0xffn;
    v >>= 8n;
    h = BigInt.asIntN(64, h * 1099511628211n);
  }
  return h < 0n ? -h : h;
}

Deno.test("fnvhash64 matches 64-bit arithmetic, fnvMod its remainder", () => {
  const rand = prng(1);
  const values = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, 10_000_000_000];
  for (let i = 0; i < 2000; i++) values.push(Math.floor(rand() * 2 ** 53));
  for (const v of values) {
    const [hi, lo] = fnvhash64(v);
    const want = referenceFnv(BigInt(v));
    assert.equal((BigInt(hi) << 32n) | BigInt(lo), want, `fnvhash64(${v})`);
    assert.equal(BigInt(fnvMod(v, 1_100_003)), want % 1_100_003n, `fnvMod(${v})`);
  }
});

Deno.test("zipfian: item 0 is drawn with probability 1/zeta(n, 0.99)", () => {
  const n = 100_000;
  let zeta = 0;
  for (let i = 1; i <= n; i++) zeta += 1 / Math.pow(i, 0.99);
  const z = new Zipfian(0, n - 1);
  const rand = prng(2);
  const draws = 400_000;
  let zeros = 0;
  for (let i = 0; i < draws; i++) {
    const v = z.next(rand());
    assert.ok(v >= 0 && v < n);
    if (v === 0) zeros++;
  }
  assert.ok(Math.abs(zeros / draws - 1 / zeta) < 0.005, `p(0) ${zeros / draws} vs ${1 / zeta}`);
});

Deno.test("scrambled zipfian: the hottest key takes ~1/26.5 of the draws, spread over the range", () => {
  const s = new ScrambledZipfian(0, 999_999);
  const rand = prng(3);
  const counts = new Map<number, number>();
  const draws = 300_000;
  for (let i = 0; i < draws; i++) {
    const k = s.next(rand());
    assert.ok(k >= 0 && k <= 999_999);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  let most = 0;
  for (const c of counts.values()) most = Math.max(most, c);
  const top = most / draws;
  assert.ok(Math.abs(top - 1 / 26.469) < 0.004, `top share ${top}`);
});

Deno.test("skewed latest favours the newest key", () => {
  const g = new SkewedLatest(1000);
  const rand = prng(4);
  let newest = 0;
  for (let i = 0; i < 10_000; i++) {
    const v = g.next(rand(), 999);
    assert.ok(v >= 0 && v <= 999);
    if (v >= 990) newest++;
  }
  assert.ok(newest > 2000, `${newest} of 10000 among the newest 10 keys`);
});

Deno.test("plans: mixes, inserts numbered on, reads only of existing records", () => {
  const a = makePlan("a", 10_000, 20_000, 5);
  const reads = a.kinds.filter((k) => k === READ).length;
  assert.ok(Math.abs(reads / 20_000 - 0.5) < 0.02);
  assert.equal(reads + a.kinds.filter((k) => k === UPDATE).length, 20_000);
  const e = makePlan("e", 10_000, 20_000, 6);
  let next = 10_000;
  for (let i = 0; i < 20_000; i++) {
    if (e.kinds[i] === INSERT) assert.equal(e.keys[i], next++);
    else {
      assert.equal(e.kinds[i], SCAN);
      assert.ok(e.keys[i] < next, "a scan starts at an inserted record");
      assert.ok(e.scanLengths[i] >= 1 && e.scanLengths[i] <= 100);
    }
  }
  assert.equal(e.recordsAfter, next);
  assert.ok(Math.abs((next - 10_000) / 20_000 - 0.05) < 0.01);
});
