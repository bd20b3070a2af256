import assert from "node:assert/strict";
import {
  emptyHeader,
  encodeRecord,
  formatV2,
  readHeader,
  verifyRecord,
} from "../src/codec/codec.ts";
import { encodeFileHeader, type FileHeader } from "../src/codec/file_header.ts";
import { FILE_FLAG_COMPACTED, FLAG_BATCH, KIND_DATA } from "../src/codec/format.ts";
import { MergeCodec } from "../src/codec/merge_codec.ts";
import { HintWriter } from "../src/log/hint.ts";
import { prng, randomBytes } from "./helpers.ts";

const FROM = formatV2(0x1234_5678), TO = formatV2(0x9abc_def0);

// The header of an output file sealed under TO.
const header: FileHeader = {
  version: 2,
  kind: KIND_DATA,
  flags: FILE_FLAG_COMPACTED,
  salt: TO.salt,
  storeId: "0011223344556677",
  fileId: 5,
  follows: 3,
  baseSeq: 9,
  part: 1,
  parts: 1,
};

/** Records of varied sizes (some batch members) encoded under FROM, back to back. */
function records(count: number) {
  const rand = prng(7);
  const keys: Uint8Array[] = [], sizes: number[] = [], parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const key = randomBytes(rand, 1 + Math.floor(rand() * 40));
    const value = randomBytes(rand, Math.floor(rand() * (i % 5 === 0 ? 5000 : 300)));
    const rec = new Uint8Array(44 + key.length + value.length);
    const flags = i % 3 === 0 ? FLAG_BATCH : 0;
    encodeRecord(
      FROM,
      rec,
      0,
      flags,
      1_700_000_000_000 + i,
      i % 4 ? 0 : 1e13,
      1000 + i,
      key,
      value,
    );
    keys.push(key);
    sizes.push(rec.length);
    parts.push(rec);
  }
  return { keys, sizes, parts };
}

function load(count: number) {
  const { keys, sizes, parts } = records(count);
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const codec = new MergeCodec(2, 4096);
  const batch = codec.batch(bytes, count, keys.reduce((a, k) => a + k.length, 0));
  const at: number[] = [];
  for (let i = 0, pos = 0; i < count; pos += sizes[i++]) {
    at.push(pos);
    batch.records.set(parts[i], pos);
    batch.place(i, pos, sizes[i], FROM, keys[i].length);
  }
  return { keys, sizes, parts, batch, at };
}

Deno.test("merge codec: sealed records verify under the new salt, batch flag cleared, hint entries as HintWriter lays them out", () => {
  const n = 200;
  const { keys, sizes, batch, at } = load(n);
  assert.equal(batch.check(0, n), n);
  const outAt = 64;
  const entries = batch.seal(0, n, TO, FLAG_BATCH, outAt).slice();
  assert.equal(encodeFileHeader(header).length, outAt);
  const bulk = new HintWriter(header), one = new HintWriter(header);
  bulk.addEntries(entries, n);
  const h = emptyHeader();
  for (let i = 0; i < n; i++) {
    const rec = batch.records.slice(at[i], at[i] + sizes[i]);
    assert.ok(readHeader(TO, rec, 0, h), `header ${i}`);
    assert.ok(verifyRecord(TO, rec, 0, h), `record ${i}`);
    assert.equal(
      readHeader(FROM, rec, 0),
      undefined,
      `record ${i} no longer valid under its old salt`,
    );
    assert.equal(h.flags & FLAG_BATCH, 0);
    assert.equal(h.seq, 1000 + i);
    assert.deepEqual(rec.subarray(44, 44 + h.keyLen), keys[i]);
    one.add(keys[i], h, outAt + at[i]);
  }
  assert.deepEqual(bulk.finish(), one.finish());
});

Deno.test("a hint taken in pieces out of left-over buffers, while they grow, has the bytes of one written at once", () => {
  const rand = prng(3);
  const whole = new HintWriter(header);
  // Small and full of garbage, as buffers an earlier merge used are.
  const pieces = new HintWriter(header, [
    new Uint8Array(100).fill(0xff),
    new Uint8Array(30).fill(0xee),
  ]);
  const taken: Uint8Array[] = [];
  const h = emptyHeader();
  for (let i = 0; i < 500; i++) {
    const key = randomBytes(rand, 1 + Math.floor(rand() * 50));
    Object.assign(h, {
      valueLen: i * 3,
      timestamp: 1e12 + i,
      expireAt: i % 9 ? 0 : 2e12,
      seq: i,
      flags: 0,
    });
    whole.add(key, h, 64 + i * 200);
    pieces.add(key, h, 64 + i * 200);
    // Each piece is written out before the next is taken, as a merge does.
    if (rand() < 0.05) taken.push(pieces.take().slice());
  }
  taken.push(pieces.finish().slice());
  const joined = new Uint8Array(taken.reduce((n, t) => n + t.length, 0));
  let at = 0;
  for (const t of taken) joined.set(t, (at += t.length) - t.length);
  assert.ok(taken.length > 5, `${taken.length} pieces`);
  assert.deepEqual(joined, whole.finish());
});

Deno.test("merge codec: check stops at a damaged record, a wrong size or a wrong key length", () => {
  const n = 50;
  const { keys, sizes, batch, at } = load(n);
  batch.records[at[7] + 44 + keys[7].length] ^= 1; // a value byte: only the record CRC sees it
  assert.equal(batch.check(0, n), 7);
  assert.equal(batch.check(8, n), n);
  batch.place(20, at[20], sizes[20], FROM, keys[20].length + 1);
  assert.equal(batch.check(8, n), 20);
  batch.place(20, at[20], sizes[20], FROM, keys[20].length);
  batch.place(30, at[30], sizes[30] - 1, FROM, keys[30].length);
  assert.equal(batch.check(8, n), 30);
  batch.place(30, at[30], sizes[30], TO, keys[30].length); // another file's salt
  assert.equal(batch.check(8, n), 30);
});

Deno.test("merge codec: records of one size, salt and flags re-sealed by difference match a fresh encoding, across input salts and output salts", () => {
  const rand = prng(11);
  const inputs = [FROM, formatV2(0x0bad_f00d)];
  const n = 300;
  const want: Uint8Array[][] = [[], []];
  const parts: Uint8Array[] = [], fmts = [], keyLens: number[] = [];
  for (let i = 0; i < n; i++) {
    // Three sizes only, so most records take a difference kept from an earlier one.
    const key = randomBytes(rand, 8 + (i % 3) * 5);
    const value = randomBytes(rand, 100 - (i % 3) * 5 + (i % 7 === 0 ? 1 : 0));
    const flags = i % 4 === 0 ? FLAG_BATCH : 0;
    const fmt = inputs[i % 2];
    const fields = [1_700_000_000_000 + i, i % 5 ? 0 : 1e13, 2000 + i] as const;
    const rec = new Uint8Array(44 + key.length + value.length);
    encodeRecord(fmt, rec, 0, flags, ...fields, key, value);
    parts.push(rec);
    fmts.push(fmt);
    keyLens.push(key.length);
    for (const [o, to] of [formatV2(0x9abc_def0), formatV2(0x5555_aaaa)].entries()) {
      const fresh = new Uint8Array(rec.length);
      encodeRecord(to, fresh, 0, flags & ~FLAG_BATCH, ...fields, key, value);
      want[o].push(fresh);
    }
  }
  const bytes = parts.reduce((a, p) => a + p.length, 0);
  const codec = new MergeCodec(2, 4096);
  for (const [o, to] of [formatV2(0x9abc_def0), formatV2(0x5555_aaaa)].entries()) {
    const batch = codec.batch(bytes, n, keyLens.reduce((a, b) => a + b, 0));
    const at: number[] = [];
    for (let i = 0, pos = 0; i < n; pos += parts[i++].length) {
      at.push(pos);
      batch.records.set(parts[i], pos);
      batch.place(i, pos, parts[i].length, fmts[i], keyLens[i]);
    }
    assert.equal(batch.check(0, n), n);
    // In two calls, as a merge seals a segment's runs.
    batch.seal(0, 120, to, FLAG_BATCH, 64);
    batch.seal(120, n, to, FLAG_BATCH, 64 + at[120]);
    for (let i = 0; i < n; i++) {
      assert.deepEqual(
        batch.records.slice(at[i], at[i] + parts[i].length),
        want[o][i],
        `record ${i}`,
      );
    }
  }
});
