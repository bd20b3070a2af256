import assert from "node:assert/strict";
import { CorruptionError, open } from "../mod.ts";
import { FILE_HEADER_SIZE, HEADER_SIZE } from "../src/codec/format.ts";
import { dataFiles, openQuiet, withDir } from "./helpers.ts";

const N = 10;
const value = (i: number) => `value-${i}-`.padEnd(40, "x");
const RECORD = HEADER_SIZE + 2 + value(0).length; // keys are "k0".."k9"

async function writeRecords(dir: string): Promise<string> {
  await using db = await open(dir);
  for (let i = 0; i < N; i++) await db.set(`k${i}`, value(i));
  return (await dataFiles(dir))[0];
}

async function flipByte(path: string, at: number): Promise<void> {
  const b = await Deno.readFile(path);
  b[at] ^= 0x40;
  await Deno.writeFile(path, b);
}

Deno.test("a flipped byte in a stored value is detected by get, never returned", () =>
  withDir(async (dir) => {
    const file = await writeRecords(dir);
    const size = (await Deno.stat(file)).size;
    await using db = await open(dir);
    await flipByte(file, size - RECORD * 5 + HEADER_SIZE + 5);
    const err = await db.get("k5").catch((e) => e);
    assert.ok(err instanceof CorruptionError, String(err));
    assert.equal(err.code, "CORRUPTION");
    assert.equal(err.file, file);
    assert.equal(err.offset, size - RECORD * 5);
    assert.equal(await db.getString("k4"), value(4));
  }));

Deno.test("damage in the middle of the log: skipped and reported, or fatal in strict mode", () =>
  withDir(async (dir) => {
    const file = await writeRecords(dir);
    const size = (await Deno.stat(file)).size;
    const damagedAt = size - RECORD * 5;
    await flipByte(file, damagedAt + HEADER_SIZE + 10);

    const err = await open(dir, { strict: true }).catch((e) => e);
    assert.ok(err instanceof CorruptionError, String(err));
    assert.equal(err.offset, damagedAt);

    const { db, warnings } = await openQuiet(dir);
    assert.deepEqual(warnings, ["damaged"]);
    for (let i = 0; i < N; i++) {
      assert.equal(await db.getString(`k${i}`), i === 5 ? undefined : value(i), `k${i}`);
    }
    await db.close();
    assert.equal((await Deno.stat(file)).size, size, "a damaged older region is never truncated");
  }));

Deno.test("a damaged record header (length field) is skipped, not followed", () =>
  withDir(async (dir) => {
    const file = await writeRecords(dir);
    const size = (await Deno.stat(file)).size;
    await flipByte(file, size - RECORD * 3 + 17); // high byte area of valueLen
    const { db, warnings } = await openQuiet(dir);
    assert.deepEqual(warnings, ["damaged"]);
    assert.equal(db.size, N - 1);
    assert.equal(await db.getString("k9"), value(9));
    await db.close();
  }));

Deno.test("torn tail: truncating the last record at every offset keeps every earlier record", () =>
  withDir(async (dir) => {
    const file = await writeRecords(dir);
    const original = await Deno.readFile(file);
    const lastStart = original.length - RECORD;
    for (let cut = lastStart; cut < original.length; cut++) {
      await Deno.writeFile(file, original.subarray(0, cut));
      const { db, warnings } = await openQuiet(dir);
      assert.deepEqual(warnings, cut === lastStart ? [] : ["torn-tail"], `cut at ${cut}`);
      assert.equal(db.size, N - 1, `cut at ${cut}`);
      for (let i = 0; i < N - 1; i++) assert.equal(await db.getString(`k${i}`), value(i));
      assert.equal(await db.get(`k${N - 1}`), undefined);
      // The tail was cut off the file, so new appends are found again on reopen.
      await db.set("after", "crash");
      await db.close();
      assert.equal((await Deno.stat(file)).size, lastStart + HEADER_SIZE + 5 + 5);
      const { db: again, warnings: w2 } = await openQuiet(dir);
      assert.deepEqual(w2, []);
      assert.equal(await again.getString("after"), "crash");
      await again.delete("after");
      await again.close();
    }
  }));

Deno.test("a batch cut short by a crash is dropped whole", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      await db.set("before", "1");
      await db.atomic([
        { type: "set", key: "b1", value: "x".repeat(100) },
        { type: "set", key: "b2", value: "y".repeat(100) },
        { type: "delete", key: "before" },
      ]);
    }
    const file = (await dataFiles(dir))[0];
    const full = await Deno.readFile(file);
    const batchStart = FILE_HEADER_SIZE + HEADER_SIZE + 6 + 1;
    for (let cut = batchStart + 1; cut < full.length; cut += 7) {
      await Deno.writeFile(file, full.subarray(0, cut));
      const { db, warnings } = await openQuiet(dir);
      assert.ok(warnings.length > 0, `cut at ${cut}`);
      assert.equal(await db.getString("before"), "1", `cut at ${cut}`);
      assert.equal(await db.has("b1"), false, `cut at ${cut}`);
      assert.equal(await db.has("b2"), false, `cut at ${cut}`);
      await db.close();
      assert.equal((await Deno.stat(file)).size, batchStart, "the partial batch is cut off");
    }
    await Deno.writeFile(file, full);
    await using db = await open(dir);
    assert.equal(await db.has("before"), false);
    assert.equal(await db.has("b1"), true);
  }));

Deno.test("a file with a damaged header is reported; its records are still recovered", () =>
  withDir(async (dir) => {
    const file = await writeRecords(dir);
    await flipByte(file, 2);
    await assert.rejects(() => open(dir, { strict: true }), CorruptionError);
    const { db, warnings } = await openQuiet(dir);
    assert.deepEqual(warnings, ["bad-file-header"]);
    assert.equal(db.size, N);
    await db.close();
  }));

Deno.test("a damaged salt in the only data file's header: its records are still recovered", () =>
  withDir(async (dir) => {
    // Bytes 12-15 hold the salt, which every record's checksums start from.
    // The first record's header checksum tells it, however many bits flipped.
    const flips: [number, number][][] = [12, 13, 14, 15].flatMap((at) => [[[at, 1]], [[at, 0x80]]]);
    flips.push([[12, 0xff], [13, 0xff]]);
    for (const flip of flips) {
      const what = flip.map(([at, mask]) => `byte ${at} ^ ${mask}`).join(", ");
      const store = `${dir}/${flip.join("-")}`;
      const file = await writeRecords(store);
      const b = await Deno.readFile(file);
      for (const [at, mask] of flip) b[at] ^= mask;
      await Deno.writeFile(file, b);
      const { db, warnings } = await openQuiet(store);
      try {
        assert.deepEqual(warnings, ["bad-file-header"], what);
        assert.equal(db.size, N, what);
        for (let i = 0; i < N; i++) assert.equal(await db.getString(`k${i}`), value(i));
        await db.set("after", "1");
        await db.compact();
      } finally {
        await db.close();
      }
      // The compaction rewrote the file: nothing is left to report.
      const again = await openQuiet(store);
      assert.deepEqual(again.warnings, [], `${what}: after the compaction`);
      assert.equal(again.db.size, N + 1);
      await again.db.close();
    }
  }));

Deno.test("a damaged salt and first record: the store's own file, unreadable, is reported as damage, not foreign", () =>
  withDir(async (dir) => {
    const file = await writeRecords(dir);
    const b = await Deno.readFile(file);
    b[12] ^= 1;
    b[FILE_HEADER_SIZE + 20] ^= 0xff;
    await Deno.writeFile(file, b);
    await assert.rejects(open(dir, { strict: true }), /its records are lost/);
    const { db, warnings } = await openQuiet(dir);
    await db.close();
    assert.deepEqual(warnings, ["bad-file-header"]);
  }));

Deno.test("a scan detects a flipped byte too, forward and reverse, whatever it read ahead", () =>
  withDir(async (dir) => {
    const file = await writeRecords(dir);
    const size = (await Deno.stat(file)).size;
    await using db = await open(dir);
    await flipByte(file, size - RECORD * 3 + HEADER_SIZE + 8);
    for (const reverse of [false, true]) {
      const seen: string[] = [];
      const err = await (async () => {
        for await (const [k] of db.scan({ reverse })) seen.push(new TextDecoder().decode(k));
      })().catch((e) => e);
      assert.ok(err instanceof CorruptionError, `reverse=${reverse}: ${err}`);
      assert.equal(err.offset, size - RECORD * 3);
      assert.ok(!seen.includes("k7"), "the damaged value was never yielded");
    }
  }));

// The reader checks records up to 4 MiB in wasm memory and bigger ones in a
// buffer of their own: a value on each side of that line, each in a sealed file
// (small maxFileSize), read by pread and, where maps can be made, through a map.
Deno.test("a flipped byte in a large value is detected by get, read in place or not", async () => {
  const sizes = [2 << 20, 5 << 20];
  const big = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31) >>> 3);
  const maps = Deno.build.os === "linux" &&
    (await Deno.permissions.query({ name: "ffi" })).state === "granted";
  for (const mmap of maps ? [false, true] : [false]) {
    await withDir(async (dir) => {
      await using db = await open(dir, { mmap, maxFileSize: 1 << 20 });
      for (const [i, n] of sizes.entries()) await db.set(`big${i}`, big(n));
      await db.set("after", "x");
      for (const [i, n] of sizes.entries()) assert.deepEqual(await db.get(`big${i}`), big(n));
      for (const [i, n] of sizes.entries()) {
        const file = `${dir}/data.${i}`;
        assert.equal((await Deno.stat(file)).size, FILE_HEADER_SIZE + HEADER_SIZE + 4 + n);
        await flipByte(file, FILE_HEADER_SIZE + HEADER_SIZE + 4 + (n >> 1));
        const err = await db.get(`big${i}`).catch((e) => e);
        assert.ok(err instanceof CorruptionError, `mmap ${mmap}, big${i}: ${err}`);
        assert.equal(err.offset, FILE_HEADER_SIZE);
      }
      assert.equal(await db.getString("after"), "x");
    });
  }
});
