/**
 * The index checkpoint written at close: the index it loads must equal the one
 * a full replay of the log gives (a read-only open never uses a checkpoint, so
 * it is the reference), whatever happened to the checkpoint file: flipped
 * bytes, a cut, an older copy, another store's, a crash at any step of
 * writing it, or a log cut shorter than what it covers.
 */
import assert from "node:assert/strict";
import { type Cask, CorruptionError, open, type OpenOptions, verify } from "../mod.ts";
import { readCheckpoint, writeCheckpoint } from "../src/log/checkpoint.ts";
import { TimeSlicer } from "../src/log/time_slice.ts";
import { FILE_HEADER_SIZE } from "../src/codec/format.ts";
import { prng, randomBytes, tempDir, withDir } from "./helpers.ts";

const OPTS: OpenOptions = {
  sync: "never",
  maxFileSize: 64 * 1024,
  checkpoint: { minKeys: 0 },
  onWarning: () => {},
};
const NAME = "checkpoint";

type Row = [string, string, number, number];

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/** Every entry of the store: key, value, sequence number, expiry. */
async function rows(db: Cask): Promise<Row[]> {
  const out: Row[] = [];
  for await (const e of db.scanEntries()) {
    out.push([hex(e.key), hex(e.value), e.sequence, e.expireAt]);
  }
  return out;
}

/** The state a full replay of the log gives (read-only opens never use a checkpoint). */
async function replayed(dir: string): Promise<Row[]> {
  const db = await open(dir, { readOnly: true, onWarning: () => {} });
  try {
    return await rows(db);
  } finally {
    await db.close();
  }
}

/** The state a writable open gives, and the warnings it reported. */
async function opened(dir: string, extra: OpenOptions = {}): Promise<Row[]> {
  const db = await open(dir, { ...OPTS, ...extra });
  try {
    return await rows(db);
  } finally {
    await db.close();
  }
}

/** Random sets (some with a TTL), deletes, atomics and range deletes over `keys` keys. */
async function churn(db: Cask, rand: () => number, ops: number, keys = 400): Promise<void> {
  const key = () => `k${String((rand() * keys) | 0).padStart(4, "0")}`;
  for (let i = 0; i < ops; i++) {
    const r = rand();
    if (r < 0.6) {
      const ttl = rand() < 0.1 ? { ttl: 3_600_000 } : undefined;
      await db.set(key(), randomBytes(rand, (rand() * 200) | 0), ttl);
    } else if (r < 0.8) await db.delete(key());
    else if (r < 0.97) {
      await db.atomic([
        { type: "set", key: key(), value: randomBytes(rand, 20) },
        { type: "delete", key: key() },
      ]);
    } else {
      const a = key(), b = key();
      await db.deleteRange(a < b ? { start: a, end: b } : { start: b, end: a });
    }
  }
}

/** Opens the store, runs `ops` random ops and closes it (writing a checkpoint). */
async function build(dir: string, seed: number, ops = 3000): Promise<void> {
  const db = await open(dir, OPTS);
  await churn(db, prng(seed), ops);
  await db.close();
}

/** The store id in the header of data.0 (bytes 16..24, as hex). */
async function readStoreId(dir: string): Promise<string | undefined> {
  const head = (await Deno.readFile(`${dir}/data.0`)).subarray(16, 24);
  return hex(head);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("checkpoint: close writes one, and open loads the index a full replay gives", () =>
  withDir(async (dir) => {
    await build(dir, 1);
    assert.ok(await exists(`${dir}/${NAME}`), "close wrote a checkpoint");
    const want = await replayed(dir);
    assert.ok(want.length > 100);
    assert.deepEqual(await opened(dir), want);
    // Writes after a checkpointed open are replayed over it at the next open.
    await build(dir, 2, 500);
    const after = await replayed(dir);
    assert.notDeepEqual(after, want);
    assert.deepEqual(await opened(dir), after);
  }));

Deno.test("checkpoint: the open uses it instead of scanning the files it covers", () =>
  withDir(async (dir) => {
    await build(dir, 3);
    // Damage a value in the middle of the first data file: a scan reports it, the
    // checkpoint-loaded open does not read that record until asked for it.
    const path = `${dir}/data.0`;
    const bytes = await Deno.readFile(path);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await Deno.writeFile(path, bytes);
    const kinds: string[] = [];
    const db = await open(dir, { ...OPTS, onWarning: (w) => kinds.push(w.kind) });
    await db.close();
    assert.deepEqual(kinds, []);
    const scanned: string[] = [];
    await (await open(dir, { readOnly: true, onWarning: (w) => scanned.push(w.kind) })).close();
    assert.ok(scanned.includes("damaged"), `a full replay reports the damage: ${scanned}`);
  }));

Deno.test("checkpoint: flipped bytes anywhere in it are detected and the log replayed", () =>
  withDir(async (dir) => {
    await build(dir, 4);
    const good = await Deno.readFile(`${dir}/${NAME}`);
    const want = await replayed(dir);
    const rand = prng(5);
    const spots = [0, 5, 12, 20, 40, 63, 64, 70, 100, good.length - 1, good.length - 4];
    for (let i = 0; i < 40; i++) spots.push((rand() * good.length) | 0);
    for (const at of spots) {
      const bad = good.slice();
      bad[at] ^= 1 << ((rand() * 8) | 0);
      await Deno.writeFile(`${dir}/${NAME}`, bad);
      // checkpoint: false closes without writing a new one, so each trial starts the same.
      assert.deepEqual(await opened(dir, { checkpoint: false }), want, `flip at ${at}`);
      await Deno.writeFile(`${dir}/${NAME}`, bad);
      assert.deepEqual(await opened(dir), want, `flip at ${at}, writable open`);
    }
  }));

Deno.test("checkpoint: a damaged file table names no file: new files keep their numbers and the store opens again", () =>
  withDir(async (dir) => {
    await build(`${dir}/base`, 6, 500);
    const want = await replayed(`${dir}/base`);
    const good = await Deno.readFile(`${dir}/base/${NAME}`);
    // The file table follows the entries; a row starts with its u64 file id.
    const table = readCheckpoint(`${dir}/base`)!.end;
    for (const bit of [40, 33, 62]) {
      const trial = `${dir}/bit${bit}`;
      await Deno.mkdir(trial);
      for (const e of Deno.readDirSync(`${dir}/base`)) {
        await Deno.copyFile(`${dir}/base/${e.name}`, `${trial}/${e.name}`);
      }
      const bad = good.slice();
      bad[table + (bit >> 3)] ^= 1 << (bit & 7);
      await Deno.writeFile(`${trial}/${NAME}`, bad);
      {
        // Small files: the writes open new ones, numbered past the files there.
        await using db = await open(trial, { ...OPTS, maxFileSize: 1024 });
        for (let i = 0; i < 40; i++) await db.set(`zz${i}`, "x".repeat(100));
      }
      const ids = [...Deno.readDirSync(trial)].filter((e) => e.name.startsWith("data."))
        .map((e) => Number(e.name.slice(5)));
      assert.ok(ids.every((id) => id < 1000), `bit ${bit}: ${ids.join(" ")}`);
      const rows = await replayed(trial);
      const zz = hex(new TextEncoder().encode("zz"));
      assert.equal(rows.filter(([k]) => k.startsWith(zz)).length, 40, `bit ${bit}`);
      assert.deepEqual(rows.filter(([k]) => !k.startsWith(zz)), want, `bit ${bit}`);
      assert.deepEqual(await opened(trial), rows, `bit ${bit}: reopened`);
    }
  }));

Deno.test("checkpoint: with every data file lost, the checkpoint still names them (strict refuses the open)", () =>
  withDir(async (dir) => {
    await build(dir, 7, 300);
    for (const e of [...Deno.readDirSync(dir)]) {
      if (/^(data|hint)\./.test(e.name)) await Deno.remove(`${dir}/${e.name}`);
    }
    await assert.rejects(
      open(dir, { ...OPTS, strict: true }),
      /is missing: the index checkpoint names it/,
    );
    const warnings: string[] = [];
    {
      await using db = await open(dir, { ...OPTS, onWarning: (w) => warnings.push(w.kind) });
      assert.equal(db.size, 0);
      await db.set("after", "loss");
    }
    assert.ok(warnings.includes("missing-file"), warnings.join(" "));
    // The checkpoint is gone now: the new file's header alone keeps the gap on record.
    const later: string[] = [];
    {
      await using again = await open(dir, { ...OPTS, onWarning: (w) => later.push(w.kind) });
      assert.equal(await again.getString("after"), "loss");
    }
    assert.deepEqual(later, ["missing-file"]);
    await assert.rejects(open(dir, { ...OPTS, strict: true }), /sequences 1\.\.\d+ are lost/);
    assert.deepEqual((await verify(dir)).issues.map((i) => i.kind), ["missing-file"]);
  }));

Deno.test("checkpoint: with every data file and the lock file lost, the checkpoint still names the files", () =>
  withDir(async (dir) => {
    await build(dir, 7, 300);
    for (const e of [...Deno.readDirSync(dir)]) {
      if (/^(data|hint)\./.test(e.name) || e.name === "LOCK") await Deno.remove(`${dir}/${e.name}`);
    }
    await assert.rejects(
      open(dir, { ...OPTS, strict: true }),
      /is missing: the index checkpoint names it/,
    );
    assert.ok((await verify(dir)).issues.some((i) => i.kind === "missing-file"));
  }));

Deno.test("checkpoint: every data file replaced by another store's (a wrong backup restored over them) is reported, not served", () =>
  withDir(async (dir) => {
    const own = `${dir}/own`, other = `${dir}/other`;
    await build(own, 7, 300);
    // The other store has more files than this one, so every file of this one is overwritten.
    {
      await using db = await open(other, { ...OPTS, maxFileSize: 1024 });
      for (let i = 0; i < 200; i++) await db.set(`other:${i}`, "x".repeat(100));
    }
    const ours = (await Array.fromAsync(Deno.readDir(own))).filter((e) =>
      e.name.startsWith("data.")
    );
    const theirs = (await Array.fromAsync(Deno.readDir(other))).filter((e) =>
      e.name.startsWith("data.")
    );
    assert.ok(theirs.length > ours.length, `${theirs.length} > ${ours.length}`);
    for (const e of theirs) await Deno.copyFile(`${other}/${e.name}`, `${own}/${e.name}`);
    await assert.rejects(open(own, { ...OPTS, strict: true }), CorruptionError);
    const kinds = new Set((await verify(own)).issues.map((i) => i.kind));
    assert.deepEqual([...kinds].sort(), ["foreign-file", "missing-file"]);
    const warnings: string[] = [];
    await using db = await open(own, { ...OPTS, onWarning: (w) => warnings.push(w.kind) });
    assert.equal(await db.get("other:1"), undefined);
    assert.equal(db.size, 0);
    assert.ok(
      warnings.includes("missing-file") && warnings.includes("foreign-file"),
      warnings.join(),
    );
  }));

Deno.test("checkpoint: a lost file that held no record lost nothing, unless the log resumes in it", () =>
  withDir(async (dir) => {
    // An empty store closed: its checkpoint resumes at the end of data.0,
    // where a later open would have gone on writing.
    {
      await using db = await open(dir, { checkpoint: { minKeys: 0 } });
      assert.equal(db.size, 0);
    }
    assert.ok(Deno.statSync(`${dir}/${NAME}`).isFile, "the close wrote a checkpoint");
    for (const e of [...Deno.readDirSync(dir)]) {
      if (/^(data|hint)\./.test(e.name) || e.name === "LOCK") await Deno.remove(`${dir}/${e.name}`);
    }
    await assert.rejects(
      open(dir, { strict: true }),
      /data\.0 is missing: the index checkpoint names it, with no record then; the log went on in it, and every write after sequence 0 is lost too/,
    );
    assert.deepEqual((await verify(dir)).issues.map((i) => i.kind), ["missing-file"]);
  }));

Deno.test("checkpoint: a lost newest file the log resumed in after a compaction is reported; no number it can have held comes again", () =>
  withDir(async (dir) => {
    const live = `${dir}/live`, image = `${dir}/image`;
    const db = await open(live, { maxFileSize: 1024, checkpoint: { minKeys: 0 } });
    try {
      for (let i = 0; i < 40; i++) await db.set(`key${i % 25}`, `v${i}`.padEnd(60, "x"));
      const storeId = (await readStoreId(live))!;
      await db.compact();
      // The compaction's background checkpoint resumes at the start of the
      // file it left active, which holds only its header then.
      const began = Date.now();
      let c = readCheckpoint(live, storeId);
      while (c?.seq !== 40 || c.resume !== FILE_HEADER_SIZE) {
        assert.ok(Date.now() - began < 20_000, "no checkpoint after the compaction");
        await new Promise((r) => setTimeout(r, 10));
        c = readCheckpoint(live, storeId);
      }
      await db.set("late", "acknowledged");
      await db.set("key0", "overwritten");
      // What a crash leaves: every write above was fsynced ("always").
      await Deno.mkdir(image);
      for (const e of Deno.readDirSync(live)) {
        // The compaction's inputs go meanwhile: a crash can come after any removal.
        if (e.isFile) {
          await Deno.copyFile(`${live}/${e.name}`, `${image}/${e.name}`).catch((err) => {
            if (!(err instanceof Deno.errors.NotFound)) throw err;
          });
        }
      }
      await Deno.remove(`${image}/data.${c.fileId}`);
    } finally {
      await db.close();
    }
    await assert.rejects(
      open(image, { strict: true }),
      /is missing: the index checkpoint names it, with no record then; the log went on in it, and every write after sequence 40 is lost too/,
    );
    assert.ok((await verify(image)).issues.some((i) => i.kind === "missing-file"));
    const warnings: string[] = [];
    await using db2 = await open(image, { onWarning: (w) => warnings.push(w.kind) });
    assert.deepEqual(warnings, ["missing-file"]);
    assert.equal(await db2.get("late"), undefined);
    // The lost file held numbers 41 and 42, and could have held many more.
    const { sequence } = await db2.atomic([{ type: "set", key: "after", value: "1" }]) as {
      sequence: number;
    };
    assert.ok(sequence > 2 ** 32 / 45, `sequence ${sequence}`);
  }));

Deno.test("checkpoint: a streamed value's file a compaction kept, lost later, is reported (strict refuses)", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { checkpoint: { minKeys: 1 } });
      await db.set("x", "1");
      await db.setStream("b", new Blob([new Uint8Array(2 << 20).fill(9)]).stream());
      await db.set("y", "2");
      await db.compact();
    }
    const blob = [...Deno.readDirSync(dir)].map((e) => e.name)
      .find((n) => n.startsWith("data.") && Deno.statSync(`${dir}/${n}`).size > 2 << 20)!;
    await Deno.remove(`${dir}/${blob}`);
    await Deno.remove(`${dir}/hint.${blob.slice(5)}`).catch(() => {});
    // "b" took sequence 2, the only one its file held.
    await assert.rejects(
      open(dir, { strict: true }),
      /is missing: the index checkpoint names it, a streamed value's file with sequence 2, which is lost/,
    );
    assert.ok((await verify(dir)).issues.some((i) => i.kind === "missing-file"));
  }));

Deno.test("checkpoint: a damaged resume point is never replayed from (no record is cut off)", () =>
  withDir(async (dir) => {
    await build(dir, 4);
    const good = await Deno.readFile(`${dir}/${NAME}`);
    const want = await replayed(dir);
    // The resume offset follows the 64-byte file header, outside its checksum.
    for (let at = 64; at < 72; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = good.slice();
        bad[at] ^= 1 << bit;
        await Deno.writeFile(`${dir}/${NAME}`, bad);
        assert.deepEqual(await opened(dir), want, `bit ${bit} of byte ${at}`);
        await Deno.writeFile(`${dir}/${NAME}`, good);
      }
    }
  }));

Deno.test("checkpoint: a cut one is ignored", () =>
  withDir(async (dir) => {
    await build(dir, 6);
    const good = await Deno.readFile(`${dir}/${NAME}`);
    const want = await replayed(dir);
    const rand = prng(7);
    const cuts = [0, 1, 63, 64, 75, good.length - 1, good.length - 4, good.length - 5];
    for (let i = 0; i < 20; i++) cuts.push((rand() * good.length) | 0);
    for (const n of cuts) {
      await Deno.writeFile(`${dir}/${NAME}`, good.subarray(0, n));
      assert.deepEqual(await opened(dir), want, `cut to ${n} bytes`);
    }
  }));

Deno.test("checkpoint: an older one of the same store resumes earlier, and gives today's state", () =>
  withDir(async (dir) => {
    await build(dir, 8);
    const old = await Deno.readFile(`${dir}/${NAME}`);
    await build(dir, 9, 1500);
    const want = await replayed(dir);
    await Deno.writeFile(`${dir}/${NAME}`, old);
    assert.deepEqual(await opened(dir), want);
    // After a compaction the files it names are gone: it is stale, and ignored.
    const db2 = await open(dir, OPTS);
    await db2.compact();
    await db2.close();
    const compacted = await replayed(dir);
    assert.deepEqual(compacted, want);
    await Deno.writeFile(`${dir}/${NAME}`, old);
    assert.deepEqual(await opened(dir), want);
  }));

Deno.test("checkpoint: one copied in from a fork of the store's history is not trusted over the log", () =>
  withDir(async (dir) => {
    const copy = (from: string, to: string) => {
      Deno.mkdirSync(to);
      for (const e of Deno.readDirSync(from)) {
        Deno.copyFileSync(`${from}/${e.name}`, `${to}/${e.name}`);
      }
    };
    const opts: OpenOptions = { checkpoint: { minKeys: 1 }, onWarning: () => {} };
    {
      await using db = await open(`${dir}/a`, opts);
      for (let i = 0; i < 100; i++) await db.set(`a${i}`, `va${i}`);
    }
    copy(`${dir}/a`, `${dir}/b`);
    // Both go on with records of the same sizes at the same places: same files,
    // salts, sizes and sequence numbers, different keys.
    for (const [side, key] of [["a", "f"], ["b", "g"]]) {
      await using db = await open(`${dir}/${side}`, opts);
      for (let i = 0; i < 10; i++) await db.set(`${key}${i}`, `v${key}${i}`);
    }
    const want = await replayed(`${dir}/a`);
    Deno.copyFileSync(`${dir}/b/${NAME}`, `${dir}/a/${NAME}`);
    {
      await using db = await open(`${dir}/a`, opts);
      assert.deepEqual(await rows(db), want);
      assert.equal(await db.getString("f3"), "vf3");
      assert.equal(await db.get("g3"), undefined);
    }
    assert.deepEqual(await replayed(`${dir}/a`), want);
  }));

Deno.test("checkpoint: a fork's whose newest entry matches the log is still found out", () =>
  withDir(async (dir) => {
    // One clock for both forks: records of the same key, size and place have
    // the same timestamp too, and the last one each writes is the same record.
    const opts: OpenOptions = { checkpoint: { minKeys: 1 }, clock: () => 1_700_000_000_000 };
    {
      await using db = await open(`${dir}/a`, opts);
      for (let i = 0; i < 50; i++) await db.set(`base${i}`, `v${i}`);
    }
    Deno.mkdirSync(`${dir}/b`);
    for (const e of Deno.readDirSync(`${dir}/a`)) {
      Deno.copyFileSync(`${dir}/a/${e.name}`, `${dir}/b/${e.name}`);
    }
    const writes = { a: ["long", "s"], b: ["s", "long"] };
    for (const [side, [m, n]] of Object.entries(writes)) {
      await using db = await open(`${dir}/${side}`, opts);
      await db.set("m", m);
      await db.set("n", n);
      await db.set("last", "same");
    }
    Deno.copyFileSync(`${dir}/b/${NAME}`, `${dir}/a/${NAME}`);
    const want = await replayed(`${dir}/a`);
    for (let round = 0; round < 2; round++) {
      await using db = await open(`${dir}/a`, opts);
      assert.deepEqual(await rows(db), want, `open ${round + 1}`);
      assert.equal(await db.getString("m"), "long");
      assert.equal(await db.getString("n"), "s");
    }
    assert.deepEqual((await verify(`${dir}/a`)).issues, []);
  }));

Deno.test("checkpoint: another store's is ignored", () =>
  withDir((a) =>
    withDir(async (b) => {
      await build(a, 10);
      await build(b, 11);
      const want = await replayed(a);
      await Deno.copyFile(`${b}/${NAME}`, `${a}/${NAME}`);
      assert.deepEqual(await opened(a), want);
    })
  ));

Deno.test("checkpoint: a crash at any step of writing one leaves a store that opens right", () =>
  withDir(async (dir) => {
    await build(dir, 12);
    const before = await Deno.readFile(`${dir}/${NAME}`);
    await build(dir, 13, 800);
    const after = await Deno.readFile(`${dir}/${NAME}`);
    const want = await replayed(dir);
    const steps: [string, Uint8Array | undefined, Uint8Array | undefined][] = [
      ["nothing written yet", before, undefined],
      ["renamed, old one gone", after, undefined],
      ["none at all", undefined, undefined],
    ];
    for (const n of [0, 10, 64, 100, after.length >> 1, after.length - 4, after.length]) {
      steps.push([`temp file of ${n} bytes beside the old one`, before, after.subarray(0, n)]);
      steps.push([`temp file of ${n} bytes, no old one`, undefined, after.subarray(0, n)]);
    }
    for (const [what, current, temp] of steps) {
      await Deno.remove(`${dir}/${NAME}`).catch(() => {});
      if (current) await Deno.writeFile(`${dir}/${NAME}`, current);
      if (temp) await Deno.writeFile(`${dir}/${NAME}.writing`, temp);
      assert.deepEqual(await opened(dir, { checkpoint: false }), want, what);
      if (current) await Deno.writeFile(`${dir}/${NAME}`, current);
      if (temp) await Deno.writeFile(`${dir}/${NAME}.writing`, temp);
      assert.deepEqual(await opened(dir), want, what);
      assert.ok(!(await exists(`${dir}/${NAME}.writing`)), `${what}: the temp file is removed`);
    }
  }));

Deno.test("checkpoint: a log cut shorter than it covers makes it stale; it is removed before any write", () =>
  withDir(async (dir) => {
    await build(dir, 14);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
      /^data\.\d+$/.test(n)
    );
    const newest = `${dir}/${names.sort((x, y) => Number(x.slice(5)) - Number(y.slice(5))).at(-1)}`;
    const size = (await Deno.stat(newest)).size;
    assert.ok(size > 200);
    // Cut the newest file inside what the checkpoint covers; the open cuts the torn tail there.
    await Deno.truncate(newest, size - 37);
    const want = await replayed(dir);
    const db = await open(dir, { ...OPTS, checkpoint: { minKeys: 1e9 } });
    assert.deepEqual(await rows(db), want);
    assert.ok(!(await exists(`${dir}/${NAME}`)), "the stale checkpoint is removed");
    // Appends that grow the file past its old size cannot revive it.
    await churn(db, prng(15), 300);
    await db.close();
    assert.deepEqual(await opened(dir), await replayed(dir));
  }));

Deno.test("checkpoint: keys expired by the time of the open are not loaded", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    const clock = () => now;
    const db = await open(dir, { ...OPTS, clock });
    await db.set("short", "x", { ttl: 1000 });
    await db.set("long", "y", { ttl: 100_000 });
    await db.set("forever", "z");
    await db.close();
    now += 5000;
    const db2 = await open(dir, { ...OPTS, clock });
    assert.equal(await db2.get("short"), undefined);
    assert.equal(await db2.count(), 2);
    assert.equal(db2.stats().keys, 2);
    await db2.close();
  }));

Deno.test("checkpoint: stores below minKeys get none, and checkpoint: false neither writes nor reads one", () =>
  withDir(async (dir) => {
    const db = await open(dir, { ...OPTS, checkpoint: { minKeys: 10 } });
    for (let i = 0; i < 9; i++) await db.set(`k${i}`, "v");
    await db.close();
    assert.ok(!(await exists(`${dir}/${NAME}`)));
    const db2 = await open(dir, { ...OPTS, checkpoint: false });
    await db2.set("k9", "v");
    await db2.close();
    assert.ok(!(await exists(`${dir}/${NAME}`)));
    await (await open(dir, { ...OPTS, checkpoint: { minKeys: 10 } })).close();
    assert.ok(await exists(`${dir}/${NAME}`));
    // A writable open that does not read it cannot keep it in step: it goes.
    await (await open(dir, { ...OPTS, checkpoint: false })).close();
    assert.ok(!(await exists(`${dir}/${NAME}`)));
    await assert.rejects(() => open(dir, { checkpoint: { minKeys: -1 } }), /minKeys/);
  }));

Deno.test("checkpoint: kill -9 while writing (background checkpoints) or closing loses no acknowledged write", () =>
  withDir(async (dir) => {
    const child = new URL("./children/checkpoint_closer.ts", import.meta.url).pathname;
    const rand = prng(16);
    const counts: number[] = [];
    for (let round = 0; round < 8; round++) {
      const count = round === 0 ? 20_000 : 3000;
      // Round 0 and odd rounds die while writing, after some acknowledged writes.
      const killAt = round === 0 ? 15_000 : round % 2 ? (rand() * count) | 0 : Infinity;
      const p = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", child, dir, String(round), String(count)],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      let acked = -1;
      const kill = (ms: number) =>
        setTimeout(() => {
          try {
            p.kill("SIGKILL");
          } catch { /* already exited */ }
        }, ms);
      const lines = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "", killing = false;
      for (;;) {
        const { value, done } = await lines.read();
        if (done) break;
        buf += value;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const l of parts) {
          if (l.startsWith("a ")) acked = Number(l.slice(2));
          if (!killing && (l === "closing" || acked >= killAt)) {
            killing = true;
            kill(l === "closing" ? rand() * 60 : 0);
          }
        }
      }
      await p.status;
      counts.push(acked + 1);
      if (round === 0) {
        assert.ok(
          await exists(`${dir}/${NAME}`),
          "a checkpoint was written while the store took writes, before any close",
        );
      }
      const want = await replayed(dir);
      const db = await open(dir, { ...OPTS, strict: true });
      assert.deepEqual(await rows(db), want, `round ${round}`);
      for (let r = 0; r <= round; r++) {
        for (const i of [0, counts[r] >> 1, counts[r] - 1]) {
          if (i < 0) continue;
          assert.equal(
            await db.getString(`${r}:${i}`),
            `value ${r}:${i}`,
            `round ${round}, key ${r}:${i}`,
          );
        }
      }
      const seq = db.sequence;
      await db.close();
      // The close wrote a checkpoint of the state it closed with, though this
      // open made no write: the next open replays nothing after it.
      const c = readCheckpoint(dir, (await readStoreId(dir))!)!;
      assert.equal(c.seq, seq, `round ${round}: the checkpoint covers the whole log`);
      const newest = c.files.reduce((a, b) => a.id > b.id ? a : b);
      assert.equal(c.fileId, newest.id);
      assert.equal(c.resume, newest.size);
    }
  }));

Deno.test("checkpoint: a background one whose resume file the log then cuts short is thrown away", () =>
  withDir(async (dir) => {
    const child = new URL("./children/checkpoint_background.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", child, dir],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.ok(out.success);
    // Make the newest file the checkpoint names the end of the log, ending where
    // the checkpoint saw it, with its last record torn: the entries may point there.
    const c = readCheckpoint(dir, (await readStoreId(dir))!)!;
    const last = c.files.reduce((a, b) => a.id > b.id ? a : b);
    for (const e of Deno.readDirSync(dir)) {
      const m = /^data\.(\d+)$/.exec(e.name);
      if (m && Number(m[1]) > last.id) await Deno.remove(`${dir}/${e.name}`);
    }
    const path = `${dir}/data.${last.id}`;
    const bytes = (await Deno.readFile(path)).subarray(0, last.size);
    bytes[last.size - 3] ^= 0xff;
    await Deno.writeFile(path, bytes);
    const want = await replayed(dir);
    // What the checkpoint covered was durable: the damage there is lost records.
    const copy = await tempDir();
    try {
      for (const e of Deno.readDirSync(dir)) {
        await Deno.copyFile(`${dir}/${e.name}`, `${copy}/${e.name}`);
      }
      const err = await open(copy, { ...OPTS, strict: true }).then((db) => db.close(), (e) => e);
      assert.ok(err instanceof CorruptionError, `strict open gave ${err}`);
      assert.equal(err.file, `${copy}/data.${last.id}`);
    } finally {
      await Deno.remove(copy, { recursive: true });
    }
    const kinds: string[] = [];
    const db = await open(dir, { ...OPTS, onWarning: (w) => kinds.push(w.kind) });
    assert.deepEqual(await rows(db), want);
    assert.ok(kinds.includes("torn-tail") && kinds.includes("missing-file"), `${kinds}`);
    assert.ok(!(await exists(`${dir}/${NAME}`)), "the contradicted checkpoint is removed");
    assert.ok(db.sequence >= last.lastSeq, "the lost sequence numbers are not handed out again");
    await db.close();
    assert.deepEqual(await opened(dir), await replayed(dir));
  }));

Deno.test("checkpoint: a short log after it is merged into its entries as they load, range deletes included", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    const clock = () => now;
    const base = await open(dir, OPTS);
    for (let i = 0; i < 3000; i++) await base.set(`k${String(i).padStart(4, "0")}`, `value ${i}`);
    await base.close();
    const bytes = async () => {
      let n = 0;
      for (const e of Deno.readDirSync(dir)) {
        if (e.name.startsWith("data.")) n += (await Deno.stat(`${dir}/${e.name}`)).size;
      }
      return n;
    };
    const covered = await bytes();
    const rand = prng(18);
    for (const withRange of [false, true]) {
      // minKeys past the store's size: the close leaves the older checkpoint in place.
      const db = await open(dir, { ...OPTS, clock, checkpoint: { minKeys: 1e9 } });
      for (let i = 0; i < 150; i++) {
        const k = `k${String((rand() * 500) | 0).padStart(4, "0")}`;
        const r = rand();
        if (r < 0.5) {
          await db.set(k, randomBytes(rand, 30), rand() < 0.3 ? { ttl: 1000 } : undefined);
        } else if (r < 0.8) await db.delete(k);
        else await db.set(`n${i}`, "new");
      }
      if (withRange) await db.deleteRange({ start: "k0100", end: "k0200" });
      await db.close();
      // The log after the checkpoint is short next to it: the merge, not the inserts.
      assert.ok((await bytes()) - covered <= covered / 4, "a short log after the checkpoint");
      now += 2000; // the TTL'd writes have expired
      const want = await replayed(dir);
      const db2 = await open(dir, { ...OPTS, clock, checkpoint: { minKeys: 1e9 } });
      assert.deepEqual(
        await rows(db2).then((r) => r.filter(([, , , exp]) => exp === 0 || exp > now)),
        want.filter(([, , , exp]) => exp === 0 || exp > now),
        `range delete: ${withRange}`,
      );
      assert.equal(db2.stats().keys, want.filter(([, , , exp]) => exp === 0 || exp > now).length);
      await db2.close();
    }
  }));

Deno.test("checkpoint: a writer that commits in atomic batches gets background ones too", () =>
  withDir(async (dir) => {
    const opts: OpenOptions = {
      sync: "never",
      maxFileSize: 256 * 1024,
      checkpoint: { minKeys: 1000 },
    };
    const key = (i: number) => `b:${String(i).padStart(6, "0")}`;
    const batches = async (db: Cask, value: string) => {
      for (let i = 0; i < 20_000; i += 500) {
        await db.atomic(
          Array.from({ length: 500 }, (_, j) => ({ type: "set", key: key(i + j), value })),
        );
        // A turn of the event loop, as a writer serving requests gives.
        await new Promise((r) => setTimeout(r, 0));
      }
    };
    {
      await using db = await open(dir, opts);
      await batches(db, "base");
    }
    const closed = readCheckpoint(dir)!.seq;
    await using db = await open(dir, opts);
    // 60,000 records in 120 commits: the log outgrows half the keys many times over.
    for (let pass = 0; pass < 3; pass++) await batches(db, `p${pass}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(readCheckpoint(dir)!.seq > closed, "a background checkpoint was written");
  }));

Deno.test("checkpoint: batches issued all at once, before the store has minKeys, get a background one", () =>
  withDir(async (dir) => {
    // Under "always" a write enters the index after its fsync: the check made as
    // the burst fills files saw too few keys, and nothing looked again.
    await using db = await open(dir, { maxFileSize: 64 * 1024, checkpoint: { minKeys: 100 } });
    const value = "x".repeat(200);
    await Promise.all(
      Array.from(
        { length: 60 },
        (_, r) =>
          db.atomic(
            Array.from({ length: 100 }, (_, j) => ({ type: "set", key: `b${r}:${j}`, value })),
          ),
      ),
    );
    for (let i = 0; i < 100 && !readCheckpoint(dir); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(readCheckpoint(dir), "a background checkpoint was written");
  }));

Deno.test("checkpoint: a background one pauses with its time slicer between pieces of entries", () =>
  withDir(async (dir) => {
    // Five pieces of 100 entries; the slicer's pauses are counted, and the
    // checkpoint must still hold every entry.
    let piece = 0, pauses = 0;
    const source = (visit: Parameters<Parameters<typeof writeCheckpoint>[2]>[0]) => {
      for (let i = 0; i < 100; i++) {
        visit(`key${String(piece * 100 + i).padStart(5, "0")}`, 0, 64 + i, 40, 1, 0);
      }
      return ++piece < 5;
    };
    const slicer = { pause: () => (pauses++, Promise.resolve()) } as unknown as TimeSlicer;
    const storeId = "0011223344556677";
    await writeCheckpoint(
      dir,
      { storeId, fileId: 0, resume: 64, seq: 0 },
      source,
      () => [{ id: 0, salt: 1, flags: 0, size: 1 << 20, lastSeq: 500 }],
      () => Promise.resolve(),
      slicer,
    );
    assert.equal(pauses, 4);
    assert.equal(readCheckpoint(dir, storeId)?.count, 500);
  }));

Deno.test("checkpoint: a background one ends a piece of entries once its time slice is used up", () =>
  withDir(async (dir) => {
    // Every slice counts as used up, and the yields are counted. Pieces of up
    // to 8192 entries regardless of time ran 1.5-2.6 ms each at 1M keys, and
    // a call that came meanwhile waited that long.
    const proto = TimeSlicer.prototype;
    const due = Object.getOwnPropertyDescriptor(proto, "due")!;
    const yieldOnce = proto.yield;
    let yields = 0;
    Object.defineProperty(proto, "due", { get: () => true, configurable: true });
    proto.yield = function (this: TimeSlicer) {
      yields++;
      return yieldOnce.call(this);
    };
    try {
      const db = await open(dir, OPTS);
      const n = 10_000;
      // One batch: a single commit, which starts no checkpoint of its own.
      await db.atomic(
        Array.from({ length: n }, (_, i) => ({
          type: "set" as const,
          key: `key${String(i).padStart(6, "0")}`,
          value: "v",
        })),
      );
      await db.sync();
      const storeId = (await readStoreId(dir))!;
      // Commits past half the key count start one, at the next new file.
      for (let i = 0; i < n; i++) await db.set("key000000", "w");
      const deadline = Date.now() + 10_000;
      while (readCheckpoint(dir, storeId)?.count !== n && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(readCheckpoint(dir, storeId)?.count, n);
      // A check every 256 entries finds the slice used up.
      assert.ok(yields >= n / 256 - 2, `${yields} yields for ${n} entries`);
      await db.close();
    } finally {
      Object.defineProperty(proto, "due", due);
      proto.yield = yieldOnce;
    }
  }));

Deno.test("a compaction's output cut short is reported missing-file by the checkpoint that names it, hint or not", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { checkpoint: { minKeys: 0 } });
      // Records of one size, so that a cut can fall between two.
      for (let i = 0; i < 20; i++) {
        await db.set(`k${String(i).padStart(2, "0")}`, `v${String(i).padStart(2, "0")}`);
      }
      await db.compact();
      await db.set("after", "x");
    }
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    const output = `${dir}/${names.find((n) => n.startsWith("hint."))!.replace("hint.", "data.")}`;
    const size = (await Deno.stat(output)).size;
    const copy = `${dir}.copy`;
    try {
      for (const dropHint of [false, true]) {
        // At a record boundary: half of the 20 records of equal size kept.
        await Deno.remove(copy, { recursive: true }).catch(() => {});
        await Deno.mkdir(copy);
        for (const n of names) await Deno.copyFile(`${dir}/${n}`, `${copy}/${n}`);
        const cut = output.replace(dir, copy);
        const record = (size - FILE_HEADER_SIZE) / 20;
        assert.ok(Number.isInteger(record));
        await Deno.truncate(cut, FILE_HEADER_SIZE + 10 * record);
        if (dropHint) await Deno.remove(cut.replace("data.", "hint."));
        const kinds = (await verify(copy)).issues.map((i) => `${i.kind}@${i.file === cut}`);
        assert.ok(kinds.includes("missing-file@true"), `hint dropped ${dropHint}: verify ${kinds}`);
        await assert.rejects(() => open(copy, { strict: true }), CorruptionError);
        const warned: string[] = [];
        await using db = await open(copy, { onWarning: (w) => warned.push(w.kind) });
        assert.ok(warned.includes("missing-file"), `hint dropped ${dropHint}: warnings ${warned}`);
        assert.equal(await db.count(), 11);
      }
    } finally {
      await Deno.remove(copy, { recursive: true }).catch(() => {});
    }
  }));

Deno.test("checkpoint: a newest file found short stays on record at later opens; its numbers are never reused", () =>
  withDir(async (dir) => {
    for (const how of ["older copy", "cut mid-record"]) {
      const store = `${dir}/${how.replaceAll(" ", "-")}`;
      const newest = () =>
        Math.max(
          ...[...Deno.readDirSync(store)].filter((e) => /^data\.\d+$/.test(e.name))
            .map((e) => Number(e.name.slice(5))),
        );
      let older: Uint8Array, id: number, last: number;
      {
        await using db = await open(store, { maxFileSize: 4096, checkpoint: { minKeys: 1 } });
        for (let i = 0; i < 112; i++) await db.set(`k${i}`, "v".repeat(60));
        id = newest();
        older = await Deno.readFile(`${store}/data.${id}`);
        for (let i = 112; i < 120; i++) await db.set(`k${i}`, "v".repeat(60));
        assert.equal(newest(), id, `${how}: the last writes went to the same file`);
        last = db.sequence;
      }
      if (how === "older copy") await Deno.writeFile(`${store}/data.${id}`, older);
      else await Deno.truncate(`${store}/data.${id}`, older.length + 30);
      // The first open learns of the loss from the checkpoint and removes it,
      // then its process ends without a close (a crash); the next ones have
      // only the log.
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { open } from "${new URL("../mod.ts", import.meta.url)}";
          await open(${JSON.stringify(store)}, { onWarning: () => {} }); Deno.exit(0);`,
        ],
      }).output();
      assert.ok(child.success, new TextDecoder().decode(child.stderr));
      for (let round = 1; round <= 3; round++) {
        const warnings: string[] = [];
        {
          await using db = await open(store, { onWarning: (w) => warnings.push(w.kind) });
          assert.equal(db.sequence, last, `${how}, open ${round}: the lost numbers stay taken`);
        }
        assert.ok(
          warnings.includes("missing-file"),
          `${how}, open ${round}: ${warnings.join(" ")}`,
        );
      }
      await assert.rejects(open(store, { strict: true }), /are (missing|lost)/, how);
      {
        await using db = await open(store, { onWarning: () => {} });
        await db.set("after", "loss");
        assert.equal(db.sequence, last + 1, `${how}: the next write takes a new number`);
      }
    }
  }));
