import assert from "node:assert/strict";
import { createCRC32 } from "hash-wasm";
import {
  crc32,
  encodeRecord,
  formatV2,
  readHeader,
  type RecordHeader,
  recordSize,
  scanRecords,
  scratch,
  verifyRecord,
} from "../src/codec/codec.ts";

// A version-2 record format with a fixed salt.
const F = formatV2(0x5eed_cafe);
import { InvalidArgumentError } from "../src/base/errors.ts";
import { FLAG_BATCH, FLAG_COMMIT, FLAG_TOMBSTONE, HEADER_SIZE } from "../src/codec/format.ts";

// Deterministic pseudo-random bytes (mulberry32), so a failure reproduces.
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
function randomBytes(n: number, rand: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = (rand() * 2 ** 32) >>> 0;
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = v >>> (8 * j);
  }
  return out;
}

const reference = await createCRC32();
function referenceCrc(data: Uint8Array): number {
  return parseInt(reference.init().update(data).digest(), 16);
}

// Sizes at the edges of the wasm code paths: the bytewise tail (< 16), the
// vector fold (starts at 384 bytes, leaves a 300..315-byte tail, rewinds its
// 16 KiB history window) and the 256 KiB staging area.
const EDGE_SIZES = [
  ...Array.from({ length: 48 }, (_, i) => i),
  255,
  256,
  316,
  317,
  383,
  384,
  385,
  399,
  400,
  767,
  768,
  1023,
  1024,
  1025,
  16383,
  16384,
  16699,
  16700,
  16716,
  16717,
  33100,
  65536 + 7,
  262143,
  262144,
  262145,
  524288 + 300,
  5 << 20,
];

Deno.test("crc32: known vectors", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
  assert.equal(crc32(new Uint8Array(32)), 0x190a55ad);
  assert.equal(crc32(new Uint8Array(32).fill(0xff)), 0xff6cab0b);
});

Deno.test("crc32: matches hash-wasm at edge and random sizes, staged and in place", () => {
  const rand = rng(1);
  const sizes = [...EDGE_SIZES];
  for (let i = 0; i < 60; i++) sizes.push(Math.floor(rand() ** 3 * (5 << 20)));
  for (const size of sizes) {
    // A random start offset makes unaligned pointers inside wasm memory too.
    const skew = Math.floor(rand() * 16);
    const data = randomBytes(size + skew, rand).subarray(skew);
    const want = referenceCrc(data);
    assert.equal(crc32(data), want, `staged, ${size} bytes`);
    const view = scratch(size + skew).subarray(skew);
    view.set(data);
    assert.equal(crc32(view), want, `in place, ${size} bytes`);
  }
});

Deno.test("crc32: streaming over random splits equals one pass", () => {
  const rand = rng(2);
  for (const size of [0, 1, 100, 5000, 300_000, 3 << 20]) {
    const data = randomBytes(size, rand);
    const want = referenceCrc(data);
    for (let round = 0; round < 4; round++) {
      let crc = 0;
      for (let p = 0; p < size;) {
        const n = Math.min(size - p, Math.floor(rand() ** 2 * 600_000));
        crc = crc32(data.subarray(p, p + n), crc);
        p += n;
      }
      assert.equal(crc, want, `${size} bytes, round ${round}`);
    }
  }
});

interface Spec {
  flags: number;
  timestamp: number;
  expireAt: number;
  seq?: number;
  key: Uint8Array;
  value: Uint8Array;
}

function encode(specs: Spec[], out?: Uint8Array): Uint8Array {
  const total = specs.reduce((n, s) => n + recordSize(F, s.key.length, s.value.length), 0);
  out ??= new Uint8Array(total);
  let at = 0;
  for (const s of specs) {
    at = encodeRecord(F, out, at, s.flags, s.timestamp, s.expireAt, s.seq ?? 0, s.key, s.value);
  }
  assert.equal(at, total);
  return out;
}

function headerOf(s: Spec): RecordHeader {
  return {
    flags: s.flags,
    keyLen: s.key.length,
    valueLen: s.value.length,
    timestamp: s.timestamp,
    expireAt: s.expireAt,
    seq: s.seq ?? 0,
  };
}

function randomSpec(rand: () => number, maxValue = 300): Spec {
  const flagChoices = [0, FLAG_TOMBSTONE, FLAG_BATCH, FLAG_COMMIT, FLAG_BATCH | FLAG_TOMBSTONE];
  return {
    flags: flagChoices[Math.floor(rand() * flagChoices.length)],
    timestamp: Math.floor(rand() * 2 ** 53),
    expireAt: rand() < 0.5 ? 0 : Math.floor(rand() * 2 ** 53),
    seq: Math.floor(rand() * 2 ** 53),
    key: randomBytes(Math.floor(rand() * 40), rand),
    value: randomBytes(Math.floor(rand() * maxValue), rand),
  };
}

Deno.test("encodeRecord -> readHeader -> verifyRecord round trips", () => {
  const rand = rng(3);
  const specs: Spec[] = [
    { flags: 0, timestamp: 1, expireAt: 0, key: new Uint8Array([1]), value: new Uint8Array(0) },
    {
      flags: FLAG_TOMBSTONE,
      timestamp: Date.now(),
      expireAt: 0,
      key: new TextEncoder().encode("gone"),
      value: new Uint8Array(0),
    },
    {
      flags: 0,
      timestamp: 2 ** 53 - 1,
      expireAt: 2 ** 53 - 1,
      key: new Uint8Array(16),
      value: new Uint8Array(100),
    },
    {
      flags: FLAG_BATCH,
      timestamp: 0,
      expireAt: 1,
      key: new Uint8Array(16).fill(0xff),
      value: new Uint8Array(100).fill(0xff),
    },
    { flags: 0, timestamp: 7, expireAt: 0, key: new Uint8Array(0), value: new Uint8Array(0) },
    {
      flags: 0,
      timestamp: 9,
      expireAt: 99,
      key: randomBytes(10, rand),
      value: randomBytes(8 << 20, rand),
    },
  ];
  for (const s of specs) {
    const size = recordSize(F, s.key.length, s.value.length);
    const plain = encode([s]);
    const inWasm = encode([s], scratch(size));
    assert.deepEqual(inWasm, plain, "in-place encoding equals staged/streamed encoding");
    for (const buf of [plain, inWasm]) {
      const h = readHeader(F, buf, 0);
      assert.deepEqual(h, headerOf(s));
      assert.ok(verifyRecord(F, buf, 0, h!));
      assert.deepEqual(buf.subarray(HEADER_SIZE, HEADER_SIZE + s.key.length), s.key);
      assert.deepEqual(buf.subarray(HEADER_SIZE + s.key.length), s.value);
    }
  }
});

Deno.test("readHeader: short buffers, `into` reuse, reserved and flag bits", () => {
  const s = randomSpec(rng(4));
  const buf = encode([s]);
  for (let n = 0; n < HEADER_SIZE; n++) {
    assert.equal(readHeader(F, buf.subarray(0, n), 0), undefined);
  }
  assert.equal(readHeader(F, buf, buf.length - HEADER_SIZE + 1), undefined);
  const into = { flags: 9, keyLen: 9, valueLen: 9, timestamp: 9, expireAt: 9, seq: 9 };
  assert.equal(readHeader(F, buf, 0, into), into);
  assert.deepEqual(into, headerOf(s));
  // An undefined flag bit or a reserved byte fails even with a matching hcrc.
  for (const [at, byte] of [[8, 0x08], [8, 0x80], [9, 1], [11, 0x80]]) {
    const bad = encode([{ ...s, flags: 0 }]);
    bad[at] |= byte;
    const hcrc = crc32(bad.subarray(8, HEADER_SIZE));
    new DataView(bad.buffer).setUint32(4, hcrc, true);
    assert.equal(readHeader(F, bad, 0), undefined, `byte ${at} |= ${byte}`);
  }
});

Deno.test("a flipped bit anywhere in a record is detected", () => {
  const rand = rng(5);
  for (const s of [randomSpec(rand), { ...randomSpec(rand), value: randomBytes(100, rand) }]) {
    const good = encode([s]);
    for (let bit = 0; bit < good.length * 8; bit++) {
      const buf = good.slice();
      buf[bit >> 3] ^= 1 << (bit & 7);
      const h = readHeader(F, buf, 0);
      assert.ok(!h || !verifyRecord(F, buf, 0, h), `bit ${bit} of ${good.length * 8}`);
    }
  }
});

Deno.test("encodeRecord rejects bad arguments with InvalidArgumentError", () => {
  const key = new Uint8Array(3);
  const value = new Uint8Array(5);
  const out = new Uint8Array(recordSize(F, 3, 5));
  const bad: [number, number, number, number][] = [
    [0, 16, 1, 0], // undefined flag
    [0, -1, 1, 0], // negative flags
    [0, 0, -1, 0], // negative timestamp
    [0, 0, 1.5, 0], // fractional timestamp
    [0, 0, 2 ** 53, 0], // unsafe integer
    [0, 0, 1, NaN], // expireAt
    [1, 0, 1, 0], // no room
    [-1, 0, 1, 0], // negative offset
  ];
  for (const [at, flags, ts, exp] of bad) {
    assert.throws(
      () => encodeRecord(F, out, at, flags, ts, exp, 7, key, value),
      InvalidArgumentError,
    );
  }
  assert.equal(encodeRecord(F, out, 0, FLAG_COMMIT, 0, 0, 7, key, value), out.length);
});

function scanAll(buf: Uint8Array, start = 0) {
  const seen: [number, RecordHeader][] = [];
  const res = scanRecords(F, buf, start, (at, h) => seen.push([at, { ...h }]));
  return { res, seen };
}

function offsets(specs: Spec[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (const s of specs) {
    out.push(at);
    at += recordSize(F, s.key.length, s.value.length);
  }
  return out;
}

// Staged (a plain buffer) and in place (the same bytes in scratch memory).
function bothModes(bytes: Uint8Array): [string, () => Uint8Array][] {
  return [["staged", () => bytes], ["in place", () => {
    const view = scratch(bytes.length);
    view.set(bytes);
    return view;
  }]];
}

Deno.test("scanRecords visits every record in order, in bulk and across windows", () => {
  const rand = rng(6);
  // 5000 small records overflow one batch of descriptors; the large ones
  // cross and exceed the 256 KiB staging window.
  const specs = Array.from({ length: 5000 }, () => randomSpec(rand));
  specs.splice(1200, 0, { ...randomSpec(rand), value: randomBytes(300_000, rand) });
  specs.splice(3000, 0, { ...randomSpec(rand), value: randomBytes(1 << 20, rand) });
  specs.splice(3001, 0, { ...randomSpec(rand), value: randomBytes(200_000, rand) });
  const bytes = encode(specs);
  const want = offsets(specs).map((at, i) => [at, headerOf(specs[i])]);
  for (const [mode, get] of bothModes(bytes)) {
    const { res, seen } = scanAll(get());
    assert.deepEqual(res, { end: bytes.length, status: "end", need: 0 }, mode);
    assert.deepEqual(seen, want, mode);
    const from = want[4000][0] as number;
    const tail = scanAll(get(), from);
    assert.deepEqual(tail.seen, want.slice(4000), `${mode}, from ${from}`);
    assert.deepEqual(scanAll(get(), bytes.length).res, {
      end: bytes.length,
      status: "end",
      need: 0,
    });
  }
  assert.throws(() => scanRecords(F, bytes, bytes.length + 1, () => {}), InvalidArgumentError);
});

Deno.test("scanRecords: a truncated last record is partial at every cut", () => {
  const rand = rng(7);
  const specs = Array.from({ length: 40 }, () => randomSpec(rand));
  specs.push({ ...randomSpec(rand), key: randomBytes(20, rand), value: randomBytes(150, rand) });
  const bytes = encode(specs);
  const last = offsets(specs).at(-1)!;
  const lastSize = bytes.length - last;
  for (const [mode, get] of bothModes(bytes)) {
    const buf = get();
    for (let cut = 0; cut < lastSize; cut++) {
      const { res, seen } = scanAll(buf.subarray(0, last + cut));
      assert.equal(seen.length, specs.length - 1, `${mode} cut ${cut}`);
      if (cut === 0) {
        assert.deepEqual(res, { end: last, status: "end", need: 0 });
      } else {
        const need = cut < HEADER_SIZE ? HEADER_SIZE : lastSize;
        assert.deepEqual(res, { end: last, status: "partial", need }, `${mode} cut ${cut}`);
      }
    }
  }
  // A record larger than the staging window, cut short, is partial too.
  const big = encode([specs[0], { ...specs[1], value: randomBytes(600_000, rand) }]);
  const at = offsets([specs[0]])[0] + recordSize(F, specs[0].key.length, specs[0].value.length);
  for (const [mode, get] of bothModes(big.subarray(0, big.length - 1))) {
    const { res, seen } = scanAll(get());
    assert.deepEqual(res, { end: at, status: "partial", need: big.length - at }, mode);
    assert.equal(seen.length, 1);
  }
});

Deno.test("scanRecords: a flipped byte makes that record corrupt", () => {
  const rand = rng(8);
  const specs = Array.from({ length: 30 }, () => randomSpec(rand, 60));
  const bytes = encode(specs);
  const starts = offsets(specs);
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i] ^= 1 << Math.floor(rand() * 8);
    const victim = starts.findLastIndex((at) => at <= i);
    for (const [mode, get] of bothModes(bad)) {
      const { res, seen } = scanAll(get());
      assert.deepEqual(
        res,
        { end: starts[victim], status: "corrupt", need: 0 },
        `${mode} byte ${i}`,
      );
      assert.equal(seen.length, victim);
    }
  }
  // Damage inside a record too big for the staging window.
  const big = encode([specs[0], { ...specs[1], value: randomBytes(400_000, rand) }, specs[2]]);
  big[big.length - 1000] ^= 4;
  for (const [mode, get] of bothModes(big)) {
    const { res, seen } = scanAll(get());
    assert.deepEqual(res, { end: starts[1], status: "corrupt", need: 0 }, mode);
    assert.equal(seen.length, 1);
  }
});

Deno.test("scratch: grows on demand and keeps in-place calls working", () => {
  const rand = rng(9);
  const small = scratch(100);
  assert.equal(small.length, 100);
  const bytes = randomBytes(40 << 20, rand);
  const big = scratch(bytes.length);
  big.set(bytes);
  assert.equal(crc32(big), referenceCrc(bytes));
  assert.throws(() => scratch(-1), InvalidArgumentError);
  assert.throws(() => scratch(2 ** 33), InvalidArgumentError);
});

Deno.test("crc32Combine joins the CRCs of two parts, from any seed", async () => {
  const { crc32Combine } = await import("../src/codec/crc_combine.ts");
  const rand = rng(77);
  for (const [la, lb] of [[0, 5], [3, 0], [10, 1], [100, 1000], [7, 65537], [1, 300_001]]) {
    const a = randomBytes(la, rand), b = randomBytes(lb, rand);
    const ab = new Uint8Array(la + lb);
    ab.set(a);
    ab.set(b, la);
    for (const seed of [0, 0x9e3779b9]) {
      assert.equal(crc32Combine(crc32(a, seed), crc32(b), lb), crc32(ab, seed), `${la}+${lb}`);
    }
  }
});

Deno.test("crc32Seed tells the seed a CRC was computed from", async () => {
  const { crc32Seed } = await import("../src/codec/crc_combine.ts");
  for (let t = 0; t < 300; t++) {
    const data = crypto.getRandomValues(new Uint8Array(1 + (t % 97)));
    const seed = crypto.getRandomValues(new Uint32Array(1))[0];
    assert.equal(crc32Seed(crc32(data, seed), crc32(data), data.length), seed, `${data.length}`);
  }
});
