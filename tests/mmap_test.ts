import assert from "node:assert/strict";
import { type Cask, ClosedError, CorruptionError, InvalidArgumentError, open } from "../mod.ts";
import { bytesToKey, keyToBytes } from "../src/base/keys.ts";
import { MappedFile } from "../src/log/mapped_file.ts";
import { prng, randomBytes, withDir } from "./helpers.ts";

// The `mmap` open option: reads of sealed files through memory maps. Whether a
// file really is mapped is read from /proc/self/maps, so these run on Linux,
// under --allow-ffi (`deno test -A`).
const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
const linux = Deno.build.os === "linux";
const needsMaps = !ffi || !linux;
if (needsMaps) console.warn("mmap_test: maps need Linux and --allow-ffi; map tests skip");
const ROUNDS = Number(Deno.env.get("CASK_MODEL_OPS") ?? 2000);

/** Data files of `dir` mapped into this process (a removed one ends in " (deleted)"). */
function mapped(dir: string): string[] {
  const real = Deno.realPathSync(dir);
  return Deno.readTextFileSync("/proc/self/maps").split("\n")
    .map((l) => l.slice(l.indexOf("/")))
    .filter((p) => p.startsWith(`${real}/data.`));
}

async function allOf(db: Cask): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = [];
  for await (const [k, v] of db.scan()) out.push([bytesToKey(k), v]);
  return out;
}

// Values of every size class the reader treats apart: slab views (<= 4 KiB),
// own buffers, and records past 1 MiB (see also corruption_test for records past
// the 4 MiB read into wasm memory).
function valueSize(rand: () => number): number {
  const r = rand();
  if (r < 0.9) return (rand() * 300) | 0;
  if (r < 0.995) return 4096 + ((rand() * 3000) | 0);
  return (1 << 20) + ((rand() * 100) | 0);
}

Deno.test({
  name: "mmap: true reads what pread reads, across rotations, compactions and reopens",
  ignore: needsMaps,
  fn: () =>
    withDir((a) =>
      withDir(async (b) => {
        const rand = prng(7);
        const model = new Map<string, Uint8Array>();
        const opts = { maxFileSize: 4096, sync: "never" as const, onWarning: () => {} };
        let mm = await open(a, { ...opts, mmap: true });
        let pr = await open(b, opts);
        let sawMaps = 0;
        const check = async () => {
          for (const [k, v] of model) {
            const key = keyToBytes(k);
            const [x, y] = [await mm.get(key), await pr.get(key)];
            assert.deepEqual(x, v);
            assert.deepEqual(y, v);
            assert.equal((await mm.getEntry(key))?.sequence, (await pr.getEntry(key))?.sequence);
          }
          const keys = [...model.keys()].slice(0, 50).map(keyToBytes);
          assert.deepEqual(await mm.getMany(keys), await pr.getMany(keys));
          const [sa, sb] = [await allOf(mm), await allOf(pr)];
          assert.deepEqual(sa, sb);
          assert.deepEqual(sa, [...model].sort((x, y) => x[0] < y[0] ? -1 : 1));
          sawMaps = Math.max(sawMaps, mapped(a).length);
          assert.deepEqual(mapped(b), [], "the store without mmap maps nothing");
        };
        try {
          for (let i = 0; i < ROUNDS; i++) {
            const r = rand();
            const key = randomBytes(rand, 1 + (rand() < 0.2 ? 1 : 0));
            const k = bytesToKey(key);
            if (r < 0.6) {
              const v = randomBytes(rand, valueSize(rand));
              await Promise.all([mm.set(key, v), pr.set(key, v)]);
              model.set(k, v);
            } else if (r < 0.75) {
              const [x, y] = await Promise.all([mm.delete(key), pr.delete(key)]);
              assert.equal(x, model.has(k));
              assert.equal(y, x);
              model.delete(k);
            } else if (r < 0.99) {
              assert.deepEqual(await mm.get(key), model.get(k));
            } else if (r < 0.995) {
              await Promise.all([mm.compact(), pr.compact()]);
            } else {
              await Promise.all([mm.close(), pr.close()]);
              mm = await open(a, { ...opts, mmap: true });
              pr = await open(b, opts);
            }
            if (i % 500 === 499) {
              // Sealed files are mapped once all their bytes are on disk.
              await Promise.all([mm.sync(), pr.sync()]);
              await check();
            }
          }
          await check();
        } finally {
          await Promise.all([mm.close(), pr.close()]);
        }
        assert.ok(sawMaps > 0, "sealed files were mapped");
        assert.deepEqual(mapped(a), [], "close unmaps every file");
      })
    ),
});

Deno.test({
  name: "mmap: values stay valid after a compaction unmaps and removes their files",
  ignore: needsMaps,
  fn: () =>
    withDir(async (dir) => {
      const db = await open(dir, { maxFileSize: 4096, sync: "never", mmap: true });
      const value = (i: number, round: number) =>
        new TextEncoder().encode(`v${i}.${round}`.repeat(9));
      try {
        for (let i = 0; i < 300; i++) await db.set(`k${i}`, value(i, 0));
        await db.sync();
        const held: Uint8Array[] = [];
        for (let i = 0; i < 300; i++) held.push((await db.get(`k${i}`))!);
        const before = mapped(dir);
        assert.ok(before.length > 3, `sealed files mapped (${before.length})`);
        for (let i = 0; i < 300; i += 2) await db.set(`k${i}`, value(i, 1));
        await db.compact();
        // Every input of the compaction is gone from disk and from the address space.
        const after = mapped(dir);
        assert.deepEqual(after.filter((p) => p.endsWith("(deleted)")), []);
        for (const p of before) assert.ok(!after.includes(p), `${p} unmapped`);
        // The values read before are copies: reading them touches no unmapped page.
        for (let i = 0; i < 300; i++) assert.deepEqual(held[i], value(i, 0));
        for (let i = 0; i < 300; i++) assert.deepEqual(await db.get(`k${i}`), value(i, 1 - i % 2));
        assert.ok(mapped(dir).length > 0, "the compacted files are mapped in turn");
      } finally {
        await db.close();
      }
    }),
});

Deno.test({
  name: "mmap: close unmaps, and reads after close reject with ClosedError",
  ignore: needsMaps,
  fn: () =>
    withDir(async (dir) => {
      const db = await open(dir, { maxFileSize: 2048, sync: "never", mmap: true });
      for (let i = 0; i < 100; i++) await db.set(`k${i}`, `value ${i}`.repeat(5));
      await db.sync();
      for (let i = 0; i < 100; i++) await db.get(`k${i}`);
      assert.ok(mapped(dir).length > 0);
      const v = await db.get("k1");
      await db.close();
      assert.deepEqual(mapped(dir), []);
      assert.equal(new TextDecoder().decode(v), "value 1".repeat(5));
      await assert.rejects(db.get("k1"), ClosedError);
      await assert.rejects(db.getMany(["k1"]), ClosedError);
      await assert.rejects(async () => {
        for await (const _ of db.scan()) { /* nothing */ }
      }, ClosedError);
    }),
});

Deno.test({
  name: "mmap: a damaged byte in a mapped file fails the checksum",
  ignore: needsMaps,
  fn: () =>
    withDir(async (dir) => {
      const db = await open(dir, { maxFileSize: 2048, sync: "never", mmap: true });
      try {
        await db.set("target", "the value to damage");
        for (let i = 0; i < 100; i++) await db.set(`k${i}`, "filler".repeat(10));
        await db.sync();
        assert.equal(new TextDecoder().decode(await db.get("target")), "the value to damage");
        // Damage the file through another descriptor: the shared map sees the page change.
        const path = `${dir}/data.0`;
        const bytes = Deno.readFileSync(path);
        const at = new TextDecoder("latin1").decode(bytes).indexOf("value to damage");
        assert.ok(at > 0);
        assert.ok(mapped(dir).includes(Deno.realPathSync(path)), "data.0 is mapped");
        using f = Deno.openSync(path, { write: true });
        f.seekSync(at, Deno.SeekMode.Start);
        f.writeSync(new Uint8Array([bytes[at] ^ 1]));
        await assert.rejects(db.get("target"), CorruptionError);
        assert.equal((await db.get("k5"))?.length, 60);
      } finally {
        await db.close();
      }
    }),
});

// Gets read a record before comparing keys in the index, whether the file is
// mapped or read with pread, until too many land on another key's record.
function absentNextToStored(mmap: boolean) {
  return () =>
    withDir(async (dir) => {
      const opts = { maxFileSize: 2048, sync: "never" as const, mmap };
      // Absent keys share all but their last byte with stored ones: the index
      // searches by four bytes after what a leaf's keys share, so a get of one
      // lands on its neighbour's record.
      const stored = (i: number) => `key-${i}-padding-a`,
        absent = (i: number) => `key-${i}-padding-b`;
      {
        await using db = await open(dir, opts);
        for (let i = 0; i < 200; i++) await db.set(stored(i), `value ${i}`);
      }
      const check = async (db: Cask) => {
        for (let i = 0; i < 200; i++) {
          if (i === 3) continue;
          assert.equal(new TextDecoder().decode(await db.get(stored(i))), `value ${i}`);
          assert.equal(await db.get(absent(i)), undefined);
        }
      };
      // A damaged record: its key's get throws, its absent neighbour's does not,
      // each the first get of a fresh open (gets read records first), and
      // again after many gets of absent neighbours (which turn that off).
      // The byte is flipped through another descriptor once the store is open
      // (an open would find the damage and drop the record), and flipped back
      // before it closes.
      const path = `${dir}/data.0`;
      const bytes = Deno.readFileSync(path);
      const at = new TextDecoder("latin1").decode(bytes).indexOf("value 3");
      assert.ok(at > 0);
      const flip = () => {
        using f = Deno.openSync(path, { read: true, write: true });
        const b = new Uint8Array(1);
        f.seekSync(at, Deno.SeekMode.Start);
        f.readSync(b);
        f.seekSync(at, Deno.SeekMode.Start);
        f.writeSync(new Uint8Array([b[0] ^ 1]));
      };
      for (const first of [stored(3), absent(3)]) {
        await using db = await open(dir, opts);
        flip();
        using _restore = { [Symbol.dispose]: flip };
        if (first === stored(3)) await assert.rejects(db.get(first), CorruptionError);
        else assert.equal(await db.get(first), undefined);
        if (mmap) assert.ok(mapped(dir).includes(Deno.realPathSync(path)), "data.0 is mapped");
        await check(db);
        await assert.rejects(db.get(stored(3)), CorruptionError);
        assert.equal(await db.get(absent(3)), undefined);
        await check(db);
      }
    });
}

Deno.test({
  name: "mmap: absent keys next to stored ones read as absent, a damaged neighbour or not",
  ignore: needsMaps,
  fn: absentNextToStored(true),
});

Deno.test(
  "pread: absent keys next to stored ones read as absent, a damaged neighbour or not",
  absentNextToStored(false),
);

Deno.test("mmap: the option is checked, and refused with readOnly", () =>
  withDir(async (dir) => {
    await assert.rejects(open(dir, { mmap: "yes" as unknown as boolean }), InvalidArgumentError);
    await (await open(dir)).close();
    await assert.rejects(open(dir, { readOnly: true, mmap: true }), InvalidArgumentError);
  }));

Deno.test("mmap: without --allow-ffi, mmap: true reads through pread", () =>
  withDir(async (dir) => {
    const script = `${dir}/child.ts`;
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { open } from ${JSON.stringify(mod)};
const db = await open(${
        JSON.stringify(`${dir}/db`)
      }, { maxFileSize: 2048, mmap: true, sync: "never" });
for (let i = 0; i < 100; i++) await db.set("k" + i, "v" + i);
let ok = 0;
for (let i = 0; i < 100; i++) if (new TextDecoder().decode(await db.get("k" + i)) === "v" + i) ok++;
await db.close();
console.log(ok, Deno.permissions.querySync({ name: "ffi" }).state);`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--no-prompt", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "100 prompt");
  }));

Deno.test({
  name: "mmap: a map covers only bytes the file has, and nothing after unmap",
  ignore: !ffi,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/f`;
      await Deno.writeTextFile(path, "0123456789");
      assert.equal(MappedFile.map(path, 11), undefined, "longer than the file");
      assert.equal(MappedFile.map(`${dir}/missing`, 4), undefined);
      const m = MappedFile.map(path, 10)!;
      assert.equal(new TextDecoder().decode(m.view(3, 4)), "3456");
      assert.equal(m.view(8, 3), undefined, "past the map");
      m.unmap();
      assert.equal(m.view(0, 1), undefined);
      m.unmap();
    }),
});
