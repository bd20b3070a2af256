import assert from "node:assert/strict";
import { giveBack, giveBackArrays, takeArray, takeBuffer } from "../src/base/spare_buffers.ts";

Deno.test("spare buffers: a buffer given back is handed out again, the smallest that is large enough", () => {
  const big = takeBuffer(3 << 20), small = takeBuffer(1 << 20);
  giveBack(big);
  giveBack(small);
  assert.equal(takeBuffer(1000), small);
  assert.equal(takeBuffer(2 << 20), big);
  // Neither is kept twice: both are out now.
  assert.notEqual(takeBuffer(1000), small);
});

Deno.test("spare buffers: a view is never kept, nor a buffer given back twice", () => {
  const whole = new Uint8Array(1 << 20);
  giveBack(whole.subarray(16));
  giveBack(whole.subarray(0, 1024));
  assert.notEqual(takeBuffer(1024).buffer, whole.buffer);
  giveBack(whole);
  giveBack(new Uint8Array(whole.buffer));
  assert.equal(takeBuffer(1 << 20), whole);
  assert.notEqual(takeBuffer(1 << 20).buffer, whole.buffer);
});

Deno.test("spare buffers: what is kept stays under 64 MiB", () => {
  const given: Uint8Array[] = Array.from({ length: 5 }, () => new Uint8Array(16 << 20));
  for (const b of given) giveBack(b);
  const back: Uint8Array[] = [];
  for (let i = 0; i < 5; i++) back.push(takeBuffer(16 << 20));
  const kept = back.filter((b) => given.includes(b)).length;
  assert.equal(kept, 4);
});

Deno.test("spare buffers: typed arrays over them are given back whole, contents left over", () => {
  const a = takeArray(Float64Array, 1000);
  assert.equal(a.length, 1000);
  a.fill(7);
  giveBackArrays(a);
  const b = takeArray(Uint32Array, 10);
  assert.equal(b.buffer, a.buffer);
  assert.equal(new Float64Array(b.buffer)[0], 7);
});
