import assert from "node:assert/strict";
import { DataFile } from "../src/log/datafile.ts";
import { BLOCK, CACHED_BLOCKS, FILE_ORDER_BLOCKS, Gatherer } from "../src/log/gather.ts";
import { prng, randomBytes, withDir } from "./helpers.ts";

const MiB = 1024 * 1024;

/** A DataFile that counts its reads. */
class CountingFile extends DataFile {
  reads = 0;
  override read(offset: number, buf: Uint8Array): void {
    this.reads++;
    super.read(offset, buf);
  }
}

Deno.test("gathered reads put every record in its place, dense or sparse", () =>
  withDir(async (dir) => {
    const rand = prng(11);
    const bytes = randomBytes(rand, 9 * MiB);
    await Deno.writeFile(`${dir}/data.0`, bytes);
    const file = new CountingFile(dir, 0, bytes.length);
    const offsets: number[] = [], sizes: number[] = [];
    const add = (offset: number, size: number) => {
      offsets.push(offset);
      sizes.push(size);
    };
    // Dense: 300 records of 152 bytes, back to back, in the middle of block 1.
    for (let i = 0; i < 300; i++) add(MiB + 1000 + i * 152, 152);
    // Sparse: one record every 100 KiB over blocks 3-5.
    for (let o = 3 * MiB; o < 6 * MiB; o += 100 * 1024) add(o + 7, 200);
    // Records that straddle block boundaries, one larger than a block, one at the very end.
    add(7 * MiB - 50, 100);
    add(2 * MiB - 10, 3 * MiB);
    add(bytes.length - 36, 36);
    // Destinations in a shuffled order, as key order scatters file order.
    const order = offsets.map((_, i) => i).sort(() => rand() - 0.5);
    const at = new Uint32Array(offsets.length);
    let pos = 0;
    for (const i of order) {
      at[i] = pos;
      pos += sizes[i];
    }
    const gather = new Gatherer(CACHED_BLOCKS);
    const batch = gather.codec.batch(pos, offsets.length, 0);
    const into = batch.records;
    await gather.read(file, order, offsets, sizes, batch, at);
    for (let i = 0; i < offsets.length; i++) {
      assert.deepEqual(
        into.subarray(at[i], at[i] + sizes[i]),
        bytes.subarray(offsets[i], offsets[i] + sizes[i]),
        `record ${i} at ${offsets[i]}`,
      );
    }
    // The dense records share a read or two; each sparse one is read alone.
    assert.ok(file.reads < 60, `${file.reads} reads for ${offsets.length} records`);
    file.close();
  }));

Deno.test("gathered reads leave records not asked for untouched", () =>
  withDir(async (dir) => {
    const bytes = randomBytes(prng(12), 64 * 1024);
    await Deno.writeFile(`${dir}/data.0`, bytes);
    const file = new DataFile(dir, 0, bytes.length);
    const offsets = [100, 300, 500, 700], sizes = [50, 50, 50, 50];
    const at = Uint32Array.from([0, 50, 100, 150]);
    const gather = new Gatherer(CACHED_BLOCKS);
    const batch = gather.codec.batch(200, 4, 0);
    const into = batch.records.fill(0xee);
    await gather.read(file, [1, 3], offsets, sizes, batch, at);
    assert.deepEqual(into.subarray(50, 100), bytes.subarray(300, 350));
    assert.deepEqual(into.subarray(150, 200), bytes.subarray(700, 750));
    assert.ok(into.subarray(0, 50).every((b) => b === 0xee));
    assert.ok(into.subarray(100, 150).every((b) => b === 0xee));
    file.close();
  }));

Deno.test("a gather in file order with a few block slots reads each block once", () =>
  withDir(async (dir) => {
    const rand = prng(13);
    const bytes = randomBytes(rand, 10 * MiB);
    await Deno.writeFile(`${dir}/data.0`, bytes);
    const file = new CountingFile(dir, 0, bytes.length);
    // Dense records of 100-300 bytes over all 40 blocks, some straddling block ends.
    const offsets: number[] = [], sizes: number[] = [];
    for (let o = 17; o < bytes.length - 400;) {
      const size = 100 + Math.floor(rand() * 200);
      offsets.push(o);
      sizes.push(size);
      o += size + Math.floor(rand() * 50);
    }
    const gather = new Gatherer(FILE_ORDER_BLOCKS);
    // Segments of about 512 KiB each, in file order, as a merge in file order takes them.
    let reads = 0;
    for (let first = 0; first < offsets.length;) {
      let end = first, bytesIn = 0;
      while (end < offsets.length && bytesIn < 512 * 1024) bytesIn += sizes[end++];
      const which = Array.from({ length: end - first }, (_, j) => first + j);
      const at = new Uint32Array(offsets.length);
      let pos = 0;
      for (const i of which) {
        at[i] = pos;
        pos += sizes[i];
      }
      const batch = gather.codec.batch(pos, offsets.length, 0);
      await gather.read(file, which, offsets, sizes, batch, at);
      for (const i of which) {
        assert.deepEqual(
          batch.records.subarray(at[i], at[i] + sizes[i]),
          bytes.subarray(offsets[i], offsets[i] + sizes[i]),
          `record ${i} at ${offsets[i]}`,
        );
      }
      first = end;
      reads = file.reads;
    }
    assert.equal(reads, Math.ceil(bytes.length / BLOCK), "one read per block");
    file.close();
  }));
