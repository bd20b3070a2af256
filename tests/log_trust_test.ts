/**
 * Log trust (issue 10): recovery applies only bytes the store itself wrote, in
 * order. Each test builds real store files, damages them on disk the way a
 * crash, an operator or a hostile value would, and reopens.
 */

import assert from "node:assert/strict";
import { type Cask, CorruptionError, open, type RecoveryWarning, verify } from "../mod.ts";
import { crc32 } from "../src/codec/codec.ts";
import { getU64, setU64 } from "../src/codec/file_header.ts";
import { FILE_HEADER_SIZE, HEADER_SIZE } from "../src/codec/format.ts";
import { dataFiles, openQuiet, prng, randomBytes, tempDir, text, withDir } from "./helpers.ts";

const enc = new TextEncoder();

/** Opens `dir` with every warning kept whole. */
async function openWarned(dir: string, strict = false) {
  const warnings: RecoveryWarning[] = [];
  const db = await open(dir, { strict, onWarning: (w) => warnings.push(w) });
  return { db, warnings };
}

/**
 * Cuts `file` to each length of `cuts` (from `whole`) and opens the store
 * leniently and strictly; `check` sees each open store and its warnings.
 */
async function openEachCut(
  dir: string,
  file: string,
  whole: Uint8Array,
  cuts: number[],
  check: (db: Cask, warnings: RecoveryWarning[], cut: number) => Promise<void>,
): Promise<void> {
  for (const cut of cuts) {
    for (const strict of [false, true]) {
      await Deno.writeFile(file, whole.subarray(0, cut));
      const { db, warnings } = await openWarned(dir, strict);
      try {
        await check(db, warnings, cut);
      } finally {
        await db.close();
      }
    }
  }
}

/** The error `p` rejects with (fails when it resolves). */
async function rejection(p: Promise<{ close(): Promise<void> }>): Promise<unknown> {
  try {
    const db = await p;
    await db.close();
  } catch (e) {
    return e;
  }
  assert.fail("expected the open to fail");
}

/** Offsets of every record boundary in the bytes of a version-2 data file. */
function recordEnds(file: Uint8Array): number[] {
  const v = new DataView(file.buffer, file.byteOffset, file.length);
  const ends = [FILE_HEADER_SIZE];
  for (let at = FILE_HEADER_SIZE; at + HEADER_SIZE <= file.length;) {
    at += HEADER_SIZE + v.getUint32(at + 12, true) + v.getUint32(at + 16, true);
    ends.push(at);
  }
  assert.equal(ends[ends.length - 1], file.length, "the file parses into whole records");
  return ends;
}

/** Where `needle` starts in `hay`. */
function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A v2 header's base sequence number, what it follows, and its merge's output count. */
function headerOf(file: Uint8Array): { baseSeq: number; follows: number; parts: number } {
  const v = new DataView(file.buffer, file.byteOffset, file.length);
  return { baseSeq: getU64(v, 40), follows: getU64(v, 32) - 1, parts: v.getUint32(52, true) };
}

/**
 * A scratch store, in its own directory, whose only data file holds
 * `role:alice = admin` behind 60 other records: its sequence numbers run
 * past the real store's, so only the salt keeps them out.
 */
async function scratchDataFile(): Promise<Uint8Array> {
  const dir = await tempDir();
  try {
    {
      await using db = await open(dir, { sync: "never" });
      for (let i = 0; i < 60; i++) await db.set(`scratch:${i}`, `s${i}`.padEnd(60, "."));
      await db.set("role:alice", "admin");
    }
    const files = await dataFiles(dir);
    assert.equal(files.length, 1);
    return await Deno.readFile(files[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** ~8 KiB: random bytes, the scratch store's whole data file, random bytes. */
function hostileValue(embedded: Uint8Array): { value: Uint8Array; at: number } {
  const rand = prng(10);
  const before = randomBytes(rand, 700);
  const after = randomBytes(rand, Math.max(500, 8192 - 700 - embedded.length));
  const value = new Uint8Array(before.length + embedded.length + after.length);
  value.set(before);
  value.set(embedded, before.length);
  value.set(after, before.length + embedded.length);
  return { value, at: before.length };
}

/** Cut offsets inside [from, to): every `step` bytes, plus each given boundary and the byte after it. */
function cutOffsets(from: number, to: number, step: number, boundaries: number[]): number[] {
  const cuts = new Set<number>();
  for (let at = from + 1; at < to; at += step) cuts.add(at);
  for (const b of boundaries) for (const at of [b, b + 1]) if (at > from && at < to) cuts.add(at);
  return [...cuts].sort((a, b) => a - b);
}

Deno.test("a value embedding another store's data file: a cut inside it is a torn tail, never a write", () =>
  withDir(async (dir) => {
    const scratch = await scratchDataFile();
    const { value, at } = hostileValue(scratch);
    {
      await using db = await open(dir);
      await db.set("role:alice", "user");
      await db.set("blob", value);
    }
    const [file] = await dataFiles(dir);
    const whole = await Deno.readFile(file);
    const valueAt = whole.length - value.length;
    assert.equal(indexOf(whole, scratch), valueAt + at, "the scratch file sits inside the value");
    const boundaries = recordEnds(scratch).map((e) => valueAt + at + e);
    const blobStart = valueAt - HEADER_SIZE - "blob".length;
    const cuts = cutOffsets(blobStart, whole.length, 61, boundaries);
    assert.ok(cuts.length >= 100, `${cuts.length} cuts`);

    await openEachCut(dir, file, whole, cuts, async (db, warnings, cut) => {
      assert.deepEqual(warnings.map((w) => w.kind), ["torn-tail"], `cut at ${cut}`);
      assert.equal(await db.getString("role:alice"), "user", `cut at ${cut}`);
      assert.equal(await db.get("blob"), undefined);
      assert.equal(await db.get("scratch:0"), undefined, `cut at ${cut}`);
      assert.equal(db.size, 1);
    });
  }));

Deno.test("a flipped byte after the embedded record, with a real record behind: the value is damage", () =>
  withDir(async (dir) => {
    const scratch = await scratchDataFile();
    const { value, at } = hostileValue(scratch);
    {
      await using db = await open(dir);
      await db.set("role:alice", "user");
      await db.set("blob", value);
      await db.set("after", "real");
    }
    const [file] = await dataFiles(dir);
    const whole = await Deno.readFile(file);
    const valueAt = indexOf(whole, value);
    const embeddedEnd = valueAt + at + scratch.length;
    const flips = [embeddedEnd, embeddedEnd + 1, embeddedEnd + 97, valueAt + value.length - 1];
    for (const flip of flips) {
      const damaged = whole.slice();
      damaged[flip] ^= 0x20;
      await Deno.writeFile(file, damaged);
      const err = await rejection(open(dir, { strict: true }));
      assert.ok(err instanceof CorruptionError, `flip at ${flip}: ${err}`);
      const { db, warnings } = await openWarned(dir);
      try {
        assert.deepEqual(warnings.map((w) => w.kind), ["damaged"], `flip at ${flip}`);
        assert.equal(await db.getString("role:alice"), "user", `flip at ${flip}`);
        assert.equal(await db.getString("after"), "real");
        assert.equal(await db.get("blob"), undefined);
        assert.equal(await db.get("scratch:0"), undefined);
      } finally {
        await db.close();
      }
    }
  }));

Deno.test("a value embedding the store's own earlier records (same salt) never resurrects them", () =>
  withDir(async (dir) => {
    let earlier: Uint8Array;
    let blobLen = 0;
    {
      await using db = await open(dir);
      await db.set("role:alice", "admin");
      await db.set("gone", "was here");
      await db.sync();
      earlier = await Deno.readFile((await dataFiles(dir))[0]);
      await db.set("role:alice", "user");
      await db.delete("gone");
      const { value } = hostileValue(earlier);
      blobLen = value.length;
      await db.set("blob", value);
    }
    const [file] = await dataFiles(dir);
    const whole = await Deno.readFile(file);
    const embeddedAt = indexOf(whole.subarray(earlier.length), earlier) + earlier.length;
    assert.ok(embeddedAt > earlier.length, "the copy sits inside the value");
    const boundaries = recordEnds(earlier).map((e) => embeddedAt + e);
    const blobStart = whole.length - blobLen - HEADER_SIZE - "blob".length;
    const cuts = cutOffsets(blobStart, whole.length, 71, boundaries);
    assert.ok(cuts.length >= 100, `${cuts.length} cuts`);
    await openEachCut(dir, file, whole, cuts, async (db, warnings, cut) => {
      assert.deepEqual(warnings.map((w) => w.kind), ["torn-tail"], `cut at ${cut}`);
      assert.equal(await db.getString("role:alice"), "user", `cut at ${cut}`);
      assert.equal(await db.get("gone"), undefined, `cut at ${cut}`);
    });
  }));

/**
 * A store whose only data file holds `role:alice = user`, then `upload`: a
 * value holding a copy of the data file of a fork of the store (its files
 * copied elsewhere, where `role:alice = admin` was written next), then 4 KiB of
 * padding, then `after` when `trailer`. The fork's write is under the store's
 * salt and carries the sequence number that continues the store's log.
 */
async function storeWithForkUpload(dir: string, trailer: boolean) {
  {
    await using db = await open(dir);
    await db.set("role:alice", "user");
  }
  const fork = await tempDir();
  let forked: Uint8Array;
  try {
    for (const e of Deno.readDirSync(dir)) {
      await Deno.copyFile(`${dir}/${e.name}`, `${fork}/${e.name}`);
    }
    {
      await using db = await open(fork);
      await db.set("role:alice", "admin");
    }
    forked = await Deno.readFile((await dataFiles(fork))[0]);
  } finally {
    await Deno.remove(fork, { recursive: true });
  }
  const value = new Uint8Array(forked.length + 4096).fill(7);
  value.set(forked);
  {
    await using db = await open(dir);
    await db.set("upload", value);
    if (trailer) await db.set("after", "real");
  }
  const [file] = await dataFiles(dir);
  const whole = await Deno.readFile(file);
  const valueAt = indexOf(whole, value);
  assert.ok(valueAt > 0);
  return { file, whole, forked, valueAt, value };
}

Deno.test("a value holding a copy of a fork's data file: a cut inside it is a torn tail, never the fork's write", () =>
  withDir(async (dir) => {
    const { file, whole, forked, valueAt } = await storeWithForkUpload(dir, false);
    const boundaries = recordEnds(forked).map((e) => valueAt + e);
    const uploadStart = valueAt - HEADER_SIZE - "upload".length;
    const cuts = cutOffsets(uploadStart, whole.length, 37, boundaries);
    assert.ok(cuts.length >= 100, `${cuts.length} cuts`);
    await openEachCut(dir, file, whole, cuts, async (db, warnings, cut) => {
      assert.deepEqual(warnings.map((w) => w.kind), ["torn-tail"], `cut at ${cut}`);
      assert.equal(warnings[0].offset, uploadStart, `cut at ${cut}`);
      assert.equal(await db.getString("role:alice"), "user", `cut at ${cut}`);
      assert.equal(await db.get("upload"), undefined);
      assert.equal(db.size, 1);
    });
  }));

Deno.test("a flipped byte in a value holding a fork's data file, a real record behind: the value is damage, the fork's write never applied", () =>
  withDir(async (dir) => {
    const { file, whole, forked, valueAt, value } = await storeWithForkUpload(dir, true);
    const uploadStart = valueAt - HEADER_SIZE - "upload".length;
    const flips = [valueAt + 3, valueAt + forked.length + 1, valueAt + value.length - 1];
    for (const flip of flips) {
      const damaged = whole.slice();
      damaged[flip] ^= 0x20;
      await Deno.writeFile(file, damaged);
      const err = await rejection(open(dir, { strict: true }));
      assert.ok(err instanceof CorruptionError, `flip at ${flip}: ${err}`);
      assert.equal(err.offset, uploadStart);
      const { db, warnings } = await openWarned(dir);
      try {
        assert.deepEqual(warnings.map((w) => [w.kind, w.offset]), [["damaged", uploadStart]]);
        // The whole value is the damage: nothing inside it is looked at as a record.
        assert.equal(warnings[0].bytes, HEADER_SIZE + "upload".length + value.length);
        assert.equal(await db.getString("role:alice"), "user", `flip at ${flip}`);
        assert.equal(await db.getString("after"), "real");
        assert.equal(await db.get("upload"), undefined);
      } finally {
        await db.close();
      }
    }
  }));

/** A store of ~30 files of 16 KiB: 3000 keys, every third deleted, every fifth rewritten. Returns the expected contents. */
async function fillStore(dir: string): Promise<Map<string, string>> {
  const want = new Map<string, string>();
  await using db = await open(dir, { maxFileSize: 16 * 1024, sync: "never" });
  for (let i = 0; i < 3000; i++) {
    const k = `key:${i}`, v = `value ${i} `.padEnd(100, "v");
    await db.set(k, v);
    want.set(k, v);
  }
  for (let i = 0; i < 3000; i += 3) {
    await db.delete(`key:${i}`);
    want.delete(`key:${i}`);
  }
  for (let i = 1; i < 3000; i += 5) {
    const v = `updated ${i}`;
    await db.set(`key:${i}`, v);
    want.set(`key:${i}`, v);
  }
  return want;
}

Deno.test("a deleted middle data file is reported: missing-file warning, strict open, verify, cask verify", () =>
  withDir(async (dir) => {
    await fillStore(dir);
    const files = await dataFiles(dir);
    assert.ok(files.length >= 20, `${files.length} files`);
    const mid = Math.floor(files.length / 2);
    const gone = headerOf(await Deno.readFile(files[mid]));
    const next = headerOf(await Deno.readFile(files[mid + 1]));
    assert.ok(next.baseSeq > gone.baseSeq);
    await Deno.remove(files[mid]);
    const nextName = files[mid + 1].slice(dir.length + 1);

    const err = await rejection(open(dir, { strict: true }));
    assert.ok(err instanceof CorruptionError, String(err));
    assert.match(err.message, new RegExp(`${nextName.replace(".", "\\.")}\\b`));
    assert.ok(
      err.message.includes(`${gone.baseSeq + 1}..${next.baseSeq}`),
      `the gap ${gone.baseSeq + 1}..${next.baseSeq} in: ${err.message}`,
    );

    const { db, warnings } = await openWarned(dir);
    await db.close();
    assert.deepEqual(warnings.map((w) => w.kind), ["missing-file"]);
    assert.equal(warnings[0].file, files[mid + 1]);

    const report = await verify(dir);
    assert.deepEqual(report.issues.map((i) => i.kind), ["missing-file"]);

    const cli = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli.ts", "verify", "--dir", dir],
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(cli.stdout);
    assert.equal(cli.code, 3, out + new TextDecoder().decode(cli.stderr));
    assert.match(out, /missing-file/);
  }));

Deno.test("a deleted newest data file is reported when the index checkpoint names it", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 4096, checkpoint: { minKeys: 0 } });
      for (let i = 0; i < 300; i++) await db.set(`k${i}`, `v${i}`.padEnd(40, "."));
    }
    const files = await dataFiles(dir);
    assert.ok(files.length >= 4, `${files.length} files`);
    const newest = files[files.length - 1];
    const first = headerOf(await Deno.readFile(newest)).baseSeq + 1;
    await Deno.remove(newest);

    const err = await rejection(open(dir, { strict: true }));
    assert.ok(err instanceof CorruptionError, String(err));
    assert.equal(err.file, newest);
    assert.ok(err.message.includes(`${first}..300`), `the gap ${first}..300 in: ${err.message}`);

    const report = await verify(dir);
    assert.deepEqual(report.issues.map((i) => [i.kind, i.file]), [["missing-file", newest]]);

    const { db, warnings } = await openWarned(dir);
    assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [["missing-file", newest]]);
    assert.equal(db.size, first - 1);
    // The log resumed in the lost file after the checkpoint: past every number it can hold.
    const resumed = db.sequence;
    assert.ok(
      resumed > 300 + 2 ** 32 / 45 - 1,
      `the lost numbers are not handed out again: ${resumed}`,
    );
    await db.set("after", "the loss");
    assert.equal(db.sequence, resumed + 1);
    await db.close();
    // The new file continues past them, so the gap stays on record after the checkpoint is rewritten.
    const later = await openWarned(dir);
    assert.deepEqual(later.warnings.map((w) => w.kind), ["missing-file"]);
    assert.equal(await later.db.getString("after"), "the loss");
    await later.db.close();

    const cli = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli.ts", "verify", "--dir", dir],
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
    }).output();
    assert.equal(cli.code, 3);
    // It names the file after the gap: the new one, under a number of its own.
    const after = (await dataFiles(dir)).at(-1)!;
    assert.notEqual(after, newest);
    assert.match(new TextDecoder().decode(cli.stdout), new RegExp(`missing-file ${after} `));
  }));

Deno.test("the newest data file cut below the size the index checkpoint names: its lost records are reported", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { checkpoint: { minKeys: 0 } });
      for (let i = 0; i < 10; i++) await db.set(`k${i}`, `value-${i}`);
    }
    const [file] = await dataFiles(dir);
    const whole = await Deno.readFile(file);
    const checkpoint = await Deno.readFile(`${dir}/checkpoint`);
    const ends = recordEnds(whole);
    assert.equal(ends.length, 11);
    // Inside the last record, inside an earlier one, and between records (whole records gone).
    for (const cut of [whole.length - 1, whole.length - 100, ends[8], ends[1] + 5]) {
      const kept = ends.filter((e) => e <= cut).length - 1;
      const restore = async () => {
        await Deno.writeFile(file, whole.subarray(0, cut));
        await Deno.writeFile(`${dir}/checkpoint`, checkpoint);
      };
      await restore();
      const err = await rejection(open(dir, { strict: true }));
      assert.ok(err instanceof CorruptionError, `cut at ${cut}: ${err}`);
      assert.equal(err.file, file);
      assert.ok(err.message.includes(`${kept + 1}..10`), `cut at ${cut}: ${err.message}`);

      await restore();
      const report = await verify(dir);
      assert.ok(report.issues.some((i) => i.kind === "missing-file"), `cut at ${cut}`);

      await restore();
      const { db, warnings } = await openWarned(dir);
      assert.ok(warnings.some((w) => w.kind === "missing-file" && w.file === file), `${cut}`);
      assert.equal(db.size, kept);
      assert.equal(db.sequence, 10, "the lost sequence numbers are not handed out again");
      await db.set("after", "the loss");
      await db.close();
      // The gap stays on record: the next file continues from sequence 10.
      const later = await openWarned(dir);
      assert.deepEqual(later.warnings.map((w) => w.kind), ["missing-file"], `cut at ${cut}`);
      assert.equal(await later.db.getString("after"), "the loss");
      await later.db.close();
      for (const e of Deno.readDirSync(dir)) {
        if (!["LOCK", "checkpoint", "data.0"].includes(e.name)) {
          await Deno.remove(`${dir}/${e.name}`);
        }
      }
    }
  }));

for (const source of ["a stale copy of an old file", "a file of another store"]) {
  Deno.test(`${source} under a new number is skipped as foreign: nothing older comes back`, () =>
    withDir(async (dir) => {
      const want = await fillStore(dir);
      const files = await dataFiles(dir);
      const top = Number(files[files.length - 1].split(".").pop());
      let intruder: Uint8Array;
      if (source.startsWith("a stale")) intruder = await Deno.readFile(files[0]);
      else {
        // The other store's file of the very number it is planted under, so
        // only its store id gives it away.
        const other = await tempDir();
        try {
          const theirs = `${other}/data.${top + 1}`;
          await using db = await open(other, { maxFileSize: 16 * 1024, sync: "never" });
          const exists = () => Deno.stat(theirs).then(() => true, () => false);
          for (let i = 0; i % 50 !== 0 || !(await exists()); i++) {
            await db.set(`key:${i % 3000}`, "from the other store".padEnd(100, "o"));
            if (i % 100 === 0) await db.sync();
          }
          await db.set("key:0", "from the other store");
          await db.close();
          intruder = await Deno.readFile(theirs);
        } finally {
          await Deno.remove(other, { recursive: true });
        }
      }
      const planted = `${dir}/data.${top + 1}`;
      await Deno.writeFile(planted, intruder);

      const err = await rejection(open(dir, { strict: true }));
      assert.ok(err instanceof CorruptionError, String(err));
      assert.ok(err.message.includes(planted), err.message);

      const { db, warnings } = await openWarned(dir);
      try {
        assert.deepEqual(warnings.map((w) => w.kind), ["foreign-file"]);
        assert.equal(warnings[0].file, planted);
        for (let i = 0; i < 3000; i++) {
          assert.equal(await db.getString(`key:${i}`), want.get(`key:${i}`), `key:${i}`);
        }
        await db.set("new", "write");
      } finally {
        await db.close();
      }
      assert.deepEqual(await Deno.readFile(planted), intruder, "the skipped file is left alone");
      const { db: again } = await openQuiet(dir);
      assert.equal(await again.getString("new"), "write");
      assert.equal(await again.get("key:0"), undefined);
      await again.close();
    }));
}

/** The hint entries of a version-2 hint file: where each one's offset field sits. */
function hintEntries(hint: Uint8Array): { at: number; offset: number; size: number }[] {
  const v = new DataView(hint.buffer, hint.byteOffset, hint.length);
  const out = [];
  for (let at = FILE_HEADER_SIZE; at < hint.length - 8;) {
    const keyLen = v.getUint32(at, true), valueLen = v.getUint32(at + 4, true);
    out.push({ at: at + 8, offset: getU64(v, at + 8), size: HEADER_SIZE + keyLen + valueLen });
    at += 44 + keyLen;
  }
  return out;
}

/** A store whose first 40 keys sit in a compacted file with a hint; returns its contents and the hint's path. */
async function compactedStore(
  dir: string,
): Promise<{ want: Map<string, string>; hintPath: string }> {
  const want = new Map<string, string>();
  {
    await using db = await open(dir, { maxFileSize: 4096 });
    for (let i = 0; i < 40; i++) {
      want.set(`h${i}`, `hinted ${i}`.padEnd(30 + i, "!"));
      await db.set(`h${i}`, want.get(`h${i}`)!);
    }
    await db.compact();
    await db.set("later", "write");
    want.set("later", "write");
  }
  const hintPath = (await Array.fromAsync(Deno.readDir(dir)))
    .map((e) => `${dir}/${e.name}`).filter((p) => /hint\.\d+$/.test(p)).sort()[0];
  assert.ok(hintPath, "compaction wrote a hint");
  return { want, hintPath };
}

/** Writes `hint` with its trailer (entry count, CRC-32 from the salt) made to fit its entries. */
async function writeResealed(path: string, hint: Uint8Array): Promise<void> {
  const v = new DataView(hint.buffer, hint.byteOffset, hint.length);
  const end = hint.length - 8;
  v.setUint32(end, hintEntries(hint).length, true);
  v.setUint32(
    end + 4,
    crc32(hint.subarray(FILE_HEADER_SIZE, end + 4), v.getUint32(12, true)),
    true,
  );
  await Deno.writeFile(path, hint);
}

async function assertReads(dir: string, want: Map<string, string>): Promise<void> {
  const { db } = await openQuiet(dir);
  try {
    for (const [k, val] of want) assert.equal(await db.getString(k), val, k);
  } finally {
    await db.close();
  }
}

Deno.test("a hint entry rewritten to a wrong offset: verify reports it, reads stay right", () =>
  withDir(async (dir) => {
    const { want, hintPath } = await compactedStore(dir);
    const hint = await Deno.readFile(hintPath);
    const entries = hintEntries(hint);
    assert.ok(entries.length > 3);
    // Entry 1 now points at entry 2's record: inside the file and a record of it, just the wrong one.
    setU64(new DataView(hint.buffer), entries[1].at, entries[2].offset);
    await writeResealed(hintPath, hint);

    const report = await verify(dir);
    assert.deepEqual(report.issues.map((i) => i.kind), ["bad-hint"]);
    assert.equal(report.issues[0].file, hintPath);
    assert.equal(report.issues[0].offset, entries[2].offset);
    await assertReads(dir, want);
  }));

Deno.test("a hint that leaves out a record: verify reports it, the record is still read", () =>
  withDir(async (dir) => {
    const { want, hintPath } = await compactedStore(dir);
    const hint = await Deno.readFile(hintPath);
    const [, second, third] = hintEntries(hint);
    // Drop the second entry whole (it starts 8 bytes before its offset field).
    const cut = new Uint8Array(hint.length - (third.at - second.at));
    cut.set(hint.subarray(0, second.at - 8));
    cut.set(hint.subarray(third.at - 8), second.at - 8);
    await writeResealed(hintPath, cut);

    const report = await verify(dir);
    assert.deepEqual(report.issues.map((i) => i.kind), ["bad-hint"]);
    assert.equal(report.issues[0].file, hintPath);
    await assertReads(dir, want);
  }));

Deno.test("a compacted file with no hint and a damaged header keeps every intact record", () =>
  withDir(async (dir) => {
    const want = new Map<string, string>();
    {
      await using db = await open(dir, { maxFileSize: 64 * 1024 });
      for (let b = 0; b < 30; b++) {
        const ops = [];
        for (let i = 0; i < 8; i++) {
          const k = `b${b}:${i}`, val = `batch ${b} member ${i}`;
          ops.push({ type: "set" as const, key: k, value: val });
          want.set(k, val);
        }
        await db.atomic(ops);
      }
      await db.compact();
      await db.set("later", "write");
      want.set("later", "write");
    }
    const hints = (await Array.fromAsync(Deno.readDir(dir))).filter((e) =>
      e.name.startsWith("hint.")
    );
    assert.equal(hints.length, 1);
    const compacted = `${dir}/data.${hints[0].name.slice(5)}`;
    await Deno.remove(`${dir}/${hints[0].name}`);
    const bytes = await Deno.readFile(compacted);
    bytes[20] ^= 0x01; // the store id: the header's CRC fails, its salt is intact
    await Deno.writeFile(compacted, bytes);

    const { db, warnings } = await openWarned(dir);
    try {
      const kinds = warnings.map((w) => w.kind);
      assert.ok(!kinds.includes("incomplete-batch"), kinds.join());
      assert.ok(kinds.includes("bad-file-header"), kinds.join());
      assert.ok(!kinds.includes("missing-file"), warnings.map((w) => w.message).join("\n"));
      for (const [k, val] of want) assert.equal(await db.getString(k), val, k);
      assert.equal(db.size, want.size);
    } finally {
      await db.close();
    }
  }));

Deno.test("data.9999999999999999 and a stray non-Cask data.N: reported, left alone, writes go on", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 2048 });
      for (let i = 0; i < 40; i++) await db.set(`k${i}`, `v${i}`.padEnd(80, "."));
    }
    const files = await dataFiles(dir);
    const top = Number(files[files.length - 1].split(".").pop());
    const huge = `${dir}/data.9999999999999999`;
    await Deno.writeFile(huge, await Deno.readFile(files[0]));
    const stray = `${dir}/data.${top + 1}`;
    const strayText = enc.encode("shopping list\n".repeat(20) + "milk, eggs, flour\n");
    await Deno.writeFile(stray, strayText);

    const { db, warnings } = await openWarned(dir);
    try {
      const reported = warnings.filter((w) => w.kind === "foreign-file").map((w) => w.file).sort();
      assert.deepEqual(reported, [huge, stray].sort(), warnings.map((w) => w.message).join("\n"));
      for (let i = 0; i < 40; i++) {
        assert.equal(await db.getString(`k${i}`), `v${i}`.padEnd(80, "."));
      }
      await db.set("n0", "new 0".padEnd(80, "."));
    } finally {
      await db.close();
    }
    const fresh = await Deno.readFile(`${dir}/data.${top + 2}`);
    assert.ok(indexOf(fresh, enc.encode("new 0")) > 0, "the first write went to a new file");
    {
      await using db = await open(dir, { maxFileSize: 2048, onWarning: () => {} });
      for (let i = 1; i < 40; i++) await db.set(`n${i}`, `new ${i}`.padEnd(80, "."));
    }
    assert.deepEqual(
      await Deno.readFile(stray),
      strayText,
      "the stray file is neither cut nor appended to",
    );
    assert.ok((await Deno.stat(huge)).isFile, "the oversized name is left in place");

    const { db: again, warnings: w2 } = await openWarned(dir);
    try {
      assert.equal(w2.filter((w) => w.kind === "foreign-file").length, 2);
      for (let i = 0; i < 40; i++) {
        assert.equal(await again.getString(`n${i}`), `new ${i}`.padEnd(80, "."));
        assert.equal(await again.getString(`k${i}`), `v${i}`.padEnd(80, "."));
      }
    } finally {
      await again.close();
    }
    assert.equal(text(await Deno.readFile(stray)), text(strayText));
  }));

const idOf = (path: string) => Number(path.slice(path.lastIndexOf(".") + 1));

Deno.test("a crash while a compaction removes an earlier compaction's outputs reports nothing missing", () =>
  withDir(async (dir) => {
    const aside = `${dir}.aside`;
    await Deno.mkdir(aside);
    const want = new Map<string, string>();
    const value = (i: number, round: string) => `${"x".repeat(500)}${i}${round}`;
    let lastPart: string;
    {
      await using db = await open(dir, { maxFileSize: 8192, checkpoint: false });
      for (const round of ["a", "b"]) {
        for (let i = 0; i < 100; i++) await db.set(`k${i}`, value(i, round));
      }
      await db.compact();
      const outputs = (await dataFiles(dir)).filter((f) =>
        headerOf(Deno.readFileSync(f)).parts > 1
      );
      assert.ok(outputs.length > 2, `a merge of several outputs: ${outputs.length}`);
      // Its last part outlives the others, as when a crash cuts the next merge's
      // removals (oldest first) short: with it, every later input of that merge.
      lastPart = outputs[outputs.length - 1];
      for (let i = 0; i < 10; i++) await db.set(`k${i}`, value(i, "c"));
      const from = idOf(lastPart);
      for (const f of await dataFiles(dir)) {
        if (idOf(f) >= from) await Deno.copyFile(f, `${aside}/${idOf(f)}`);
      }
      await db.compact();
    }
    for (let i = 0; i < 100; i++) want.set(`k${i}`, value(i, i < 10 ? "c" : "b"));
    for await (const e of Deno.readDir(aside)) {
      const back = `${dir}/data.${e.name}`;
      if (!(await Deno.stat(back).then(() => true, () => false))) {
        await Deno.copyFile(`${aside}/${e.name}`, back);
      }
    }
    await Deno.remove(aside, { recursive: true });

    const strict = await open(dir, { strict: true });
    await strict.close();
    const { db, warnings } = await openWarned(dir);
    try {
      assert.deepEqual(warnings.map((w) => w.message), []);
      for (const [k, v] of want) assert.equal(await db.getString(k), v, k);
    } finally {
      await db.close();
    }
    assert.deepEqual((await verify(dir)).issues, []);
  }));

Deno.test("a crash part way through installing a compaction's outputs is no missing file", () =>
  withDir(async (before) => {
    const after = await tempDir();
    try {
      const options = { maxFileSize: 4096, checkpoint: false as const };
      {
        await using db = await open(before, options);
        for (const round of ["a", "b"]) {
          for (let i = 0; i < 400; i++) await db.set(`k${i}`, round.padEnd(50, "."));
        }
      }
      const inputs = new Set<string>();
      for await (const e of Deno.readDir(before)) {
        inputs.add(e.name);
        if (e.name !== "LOCK") await Deno.copyFile(`${before}/${e.name}`, `${after}/${e.name}`);
      }
      {
        await using db = await open(after, options);
        await db.compact();
      }
      const outputs = (await dataFiles(after)).filter((f) =>
        !inputs.has(f.slice(after.length + 1))
      );
      assert.ok(outputs.length >= 6, `${outputs.length} outputs`);
      // The renames of the first half of the outputs lasted; the inputs were all still there.
      for (const f of outputs.slice(0, outputs.length / 2)) {
        await Deno.copyFile(f, `${before}/${f.slice(after.length + 1)}`);
      }
      const { db, warnings } = await openWarned(before, true);
      try {
        assert.deepEqual(warnings, []);
        assert.equal(db.size, 400);
        for (let i = 0; i < 400; i += 37) {
          assert.equal(await db.getString(`k${i}`), "b".padEnd(50, "."));
        }
      } finally {
        await db.close();
      }
    } finally {
      await Deno.remove(after, { recursive: true });
    }
  }));

Deno.test("a fork's log file numbered after the store's newest file is skipped: its older numbers never undo newer writes", () =>
  withDir(async (dir) => {
    const fork = await tempDir();
    try {
      const db = await open(dir);
      for (let i = 0; i < 20; i++) await db.set(`k${i}`, `s${i}`);
      await db.backup(fork);
      // The backup opened and written to: a history of its own from sequence 20 on.
      const other = await open(fork, { maxFileSize: 1024 });
      for (let i = 0; i < 30; i++) await other.set(`k${i % 5}`, `fork${i}`.padEnd(40, "f"));
      await other.close();
      for (let i = 20; i < 60; i++) await db.set(`k${i % 5}`, `s${i}`);
      await db.close();
      const forkFiles = await dataFiles(fork);
      const newest = forkFiles[forkFiles.length - 1];
      const planted = `${dir}/${newest.split("/").pop()}`;
      await Deno.copyFile(newest, planted);

      const err = await rejection(open(dir, { strict: true }));
      assert.ok(err instanceof CorruptionError, String(err));
      assert.ok(err.message.includes(planted), err.message);
      const { db: again, warnings } = await openWarned(dir);
      try {
        assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [["foreign-file", planted]]);
        assert.equal(again.sequence, 60);
        for (let i = 0; i < 5; i++) assert.equal(await again.getString(`k${i}`), `s${55 + i}`);
      } finally {
        await again.close();
      }
      assert.ok((await verify(dir)).issues.some((i) => i.kind === "foreign-file"));
    } finally {
      await Deno.remove(fork, { recursive: true });
    }
  }));

Deno.test("another store's file in place of the newest: verify reports it foreign and ours missing, as the open does", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 4096, checkpoint: { minKeys: 0 } });
      for (let i = 0; i < 300; i++) await db.set(`k${i}`, `v${i}`.padEnd(40, "."));
    }
    const newest = (await dataFiles(dir)).at(-1)!;
    const other = await tempDir();
    try {
      // Another store's file of that number, at least as long as ours.
      const theirs = `${other}/${newest.split("/").pop()}`;
      {
        await using db = await open(other, { maxFileSize: 4096 });
        for (let i = 0; !(await Deno.stat(theirs).then((s) => s.size, () => 0) >= 4000); i++) {
          await db.set(`other${i}`, `w${i}`.padEnd(40, "."));
        }
      }
      await Deno.copyFile(theirs, newest);
    } finally {
      await Deno.remove(other, { recursive: true });
    }
    const kinds = (list: { kind: string; file: string }[]) =>
      list.map((i) => [i.kind, i.file]).sort();
    const want = [["foreign-file", newest], ["missing-file", newest]].sort();
    // verify first: the open goes on in a new file, which then names the gap.
    assert.deepEqual(kinds((await verify(dir)).issues), want);
    const { db, warnings } = await openWarned(dir);
    await db.close();
    assert.deepEqual(kinds(warnings), want);
  }));

Deno.test("the two newest data files swapped: reported as this store's files out of place, strict refuses, no number comes again", () =>
  withDir(async (dir) => {
    let seq: number;
    {
      await using db = await open(dir, { maxFileSize: 1024 });
      for (let i = 0; i < 20; i++) await db.set(`k${i}`, `v${i}`.padEnd(100, "."));
      seq = db.sequence;
    }
    const [a, b] = (await dataFiles(dir)).slice(-2);
    const tmp = `${dir}/swap`;
    await Deno.rename(a, tmp);
    await Deno.rename(b, a);
    await Deno.rename(tmp, b);
    await assert.rejects(open(dir, { strict: true }), CorruptionError);
    const issues = (await verify(dir)).issues;
    assert.deepEqual(issues.map((i) => [i.kind, i.file]).sort(), [
      ["missing-file", a],
      ["missing-file", b],
    ]);
    assert.match(
      issues[0].message,
      /this store's newest file under another name: its records are not applied/,
    );
    const { db, warnings } = await openWarned(dir);
    try {
      assert.ok(
        warnings.every((w) => w.kind === "missing-file"),
        warnings.map((w) => w.kind).join(),
      );
      assert.ok(db.size < 20);
      const r = await db.atomic([{ type: "set", key: "after", value: "1" }]);
      assert.ok(r.ok && r.sequence > seq, `sequence ${r.ok && r.sequence} after ${seq}`);
    } finally {
      await db.close();
    }
    // The loss stays on record once new files are past the misplaced ones' numbers.
    assert.ok((await verify(dir)).issues.some((i) => i.kind === "missing-file"));
  }));

Deno.test("the newest data file moved to a free lower name after a compaction: the loss stays on record after new writes", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 1024 });
      for (let i = 0; i < 20; i++) await db.set(`k${i}`, `v${i}`.padEnd(100, "."));
      await db.compact();
      for (let i = 0; i < 6; i++) await db.set(`new${i}`, `n${i}`.padEnd(100, "."));
    }
    const ids = (await dataFiles(dir)).map((f) => Number(f.split(".").pop()));
    const newest = Math.max(...ids);
    const free = [...Array(newest).keys()].find((i) => !ids.includes(i))!;
    await Deno.rename(`${dir}/data.${newest}`, `${dir}/data.${free}`);
    {
      const warnings: string[] = [];
      await using db = await open(dir, {
        maxFileSize: 1024,
        onWarning: (w) => warnings.push(w.kind),
      });
      assert.deepEqual(warnings, ["missing-file"]);
      // Enough files that new ones reach the moved file's own number.
      for (let i = 0; i < 30; i++) await db.set(`more${i}`, "m".repeat(100));
    }
    assert.ok(
      !(await dataFiles(dir)).includes(`${dir}/data.${newest}`),
      "no new file took its number",
    );
    assert.ok((await verify(dir)).issues.some((i) => i.kind === "missing-file"));
    await assert.rejects(open(dir, { strict: true }), CorruptionError);
  }));

Deno.test("a merge's missing outputs stay reported after writes: new files never take their numbers", () =>
  withDir(async (dir) => {
    const src = `${dir}/src`, part = `${dir}/part`;
    {
      await using db = await open(src, { maxFileSize: 2048, checkpoint: false });
      for (let i = 0; i < 100; i++) await db.set(`k${i}`, "v".repeat(40));
      await db.compact();
    }
    // Only the first output of the merge (a backup cut short, say).
    const outputs: number[] = [];
    for await (const e of Deno.readDir(src)) {
      const m = /^hint\.(\d+)$/.exec(e.name);
      if (m) outputs.push(Number(m[1]));
    }
    outputs.sort((a, b) => a - b);
    assert.ok(outputs.length >= 3, `${outputs.length} outputs`);
    await Deno.mkdir(part);
    for (const name of [`data.${outputs[0]}`, `hint.${outputs[0]}`]) {
      await Deno.copyFile(`${src}/${name}`, `${part}/${name}`);
    }
    let first: string[] | undefined;
    for (let round = 0; round < 3; round++) {
      const missing: string[] = [];
      {
        await using db = await open(part, {
          maxFileSize: 2048,
          onWarning: (w) => w.kind === "missing-file" && missing.push(w.message),
        });
        for (let i = 0; i < 20; i++) await db.set(`new${round}-${i}`, "w".repeat(40));
      }
      first ??= missing;
      assert.equal(missing.length, outputs.length - 1, missing.join("\n"));
      assert.deepEqual(missing, first, `open ${round}`);
      await assert.rejects(open(part, { strict: true }), CorruptionError);
    }
  }));
