/**
 * A torn tail behind header-only files is a crash tear only after a plain
 * rotation: the writer begins the next file (its id one up, continuing the file
 * it leaves) before that file's fsync completes. Any other file a header alone
 * follows was durable first: a compaction's seal (an id gap), a streamed
 * value's file, a version-1 file an upgrade left, or a log file whose successor
 * is lost. Damage there is damage, and a file missing there is reported: never
 * cut as a torn tail, with the files after it removed. Each test builds real
 * store files and flips, cuts or deletes their bytes on disk.
 */

import assert from "node:assert/strict";
import { CorruptionError, open, type RecoveryWarning, verify } from "../mod.ts";
import { getU64 } from "../src/codec/file_header.ts";
import { FILE_HEADER_SIZE } from "../src/codec/format.ts";
import { dataFiles, withDir } from "./helpers.ts";

/** Opens `dir`, keeping every warning. */
async function openWarned(dir: string) {
  const warnings: RecoveryWarning[] = [];
  const db = await open(dir, { onWarning: (w) => warnings.push(w) });
  return { db, warnings };
}

/** The error a strict open of `dir` fails with (fails when it opens). */
async function strictError(dir: string): Promise<CorruptionError> {
  const err = await open(dir, { strict: true }).then(
    async (db) => {
      await db.close();
      return "opened";
    },
    (e) => e,
  );
  assert.ok(err instanceof CorruptionError, `strict open gave ${err}`);
  return err;
}

/** The id of the file the data file at `path` continues. */
async function followsOf(path: string): Promise<number> {
  const head = (await Deno.readFile(path)).subarray(0, FILE_HEADER_SIZE);
  return getU64(new DataView(head.buffer, head.byteOffset, head.length), 32) - 1;
}

const idOf = (path: string) => Number(path.split(".").pop());

/**
 * Writes `n` keys k0.. (one record each, 100-byte values) with every write
 * synced, then closes the store while a compaction has sealed the log but not
 * written its outputs: data.0 holds every record, fsynced, and data.3 (after
 * the ids the outputs would take) only its header, continuing data.0.
 */
async function sealedStore(dir: string, n: number): Promise<void> {
  const db = await open(dir, { sync: "always", checkpoint: false });
  await Promise.all(
    Array.from({ length: n }, (_, i) => db.set(`k${i}`, `value-${i}-`.padEnd(100, "x"))),
  );
  const compacting = db.compact().catch((e) => e);
  await db.close();
  await compacting;
  const files = await dataFiles(dir);
  assert.deepEqual(files, [`${dir}/data.0`, `${dir}/data.3`], "the seal's layout");
  assert.equal((await Deno.stat(files[1])).size, FILE_HEADER_SIZE);
  assert.equal(await followsOf(files[1]), 0);
}

for (
  const [how, damage] of [
    ["flipped", async (p: string) => {
      const b = await Deno.readFile(p);
      b[b.length - 5] ^= 0xff;
      await Deno.writeFile(p, b);
    }],
    ["cut off", async (p: string) => {
      await Deno.truncate(p, (await Deno.stat(p)).size - 148);
    }],
  ] as const
) {
  Deno.test(`a compaction's seal, then the sealed file's last record ${how}: reported, nothing removed`, () =>
    withDir(async (dir) => {
      await sealedStore(dir, 300);
      const [sealed, after] = await dataFiles(dir);
      await damage(sealed);

      const err = await strictError(dir);
      assert.ok(
        err.file === sealed || err.file === after,
        `strict names ${err.file}: ${err.message}`,
      );
      const report = await verify(dir);
      const kinds = report.issues.map((i) => i.kind);
      assert.ok(kinds.every((k) => k === "damaged" || k === "missing-file"), `verify: ${kinds}`);
      assert.ok(kinds.includes("missing-file"), `verify: ${kinds}`);

      const { db, warnings } = await openWarned(dir);
      const seen = warnings.map((w) => w.kind);
      assert.ok(!seen.includes("torn-tail"), `warnings: ${seen}`);
      assert.ok(seen.includes("missing-file"), `warnings: ${seen}`);
      assert.equal(await db.getString("k299"), undefined);
      assert.equal(db.sequence, 300, "sequence 300 is not handed out again");
      await db.close();
      assert.equal((await Deno.stat(after)).size, FILE_HEADER_SIZE, "the sealed log's successor");
    }));
}

Deno.test("a streamed value's file lost before a header-only log file: missing-file, nothing removed", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { sync: "always" });
      for (let i = 0; i < 20; i++) await db.set(`k${i}`, `v${i}`);
      await db.setStream("video", new Blob([new Uint8Array(2_000_000).fill(7)]).stream());
    }
    const files = await dataFiles(dir);
    assert.deepEqual(files.map(idOf), [0, 1, 2]);
    assert.equal((await Deno.stat(files[2])).size, FILE_HEADER_SIZE);
    assert.equal(await followsOf(files[2]), 1);
    await Deno.remove(files[1]);
    await Deno.remove(`${dir}/hint.1`).catch(() => {});

    const err = await strictError(dir);
    assert.equal(err.file, files[2], err.message);
    const report = await verify(dir);
    assert.deepEqual(report.issues.map((i) => [i.kind, i.file]), [["missing-file", files[2]]]);

    const { db, warnings } = await openWarned(dir);
    assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [["missing-file", files[2]]]);
    assert.equal(await db.getString("k19"), "v19");
    await db.close();
    assert.ok(await Deno.stat(files[2]), "the file after the gap stays");
  }));

for (const newest of ["a plain rotation's", "a compaction's seal's"]) {
  Deno.test(`the log file before ${newest} header-only newest file lost: missing-file, nothing removed`, () =>
    withDir(async (dir) => {
      const n = 300;
      {
        const db = await open(dir, {
          sync: "always",
          maxFileSize: 4096,
          checkpoint: { minKeys: 100 },
        });
        await Promise.all(
          Array.from({ length: n }, (_, i) => db.set(`k${i}`, `value-${i}-`.padEnd(100, "x"))),
        );
        const compacting = newest.includes("seal") ? db.compact().catch((e) => e) : undefined;
        await db.close();
        await compacting;
      }
      const files = await dataFiles(dir);
      const top = files.at(-1)!;
      // A crash before the rotation's first record reached the disk leaves its header.
      if (!newest.includes("seal")) await Deno.truncate(top, FILE_HEADER_SIZE);
      assert.equal((await Deno.stat(top)).size, FILE_HEADER_SIZE);
      const lost = `${dir}/data.${await followsOf(top)}`;
      assert.equal(lost, files.at(-2), "the newest file continues the log file before it");
      assert.equal(
        idOf(lost) === idOf(top) - 1,
        !newest.includes("seal"),
        "a rotation takes the next id, a seal leaves a gap",
      );
      await Deno.remove(lost);

      const err = await strictError(dir);
      assert.equal(err.file, top, err.message);
      const report = await verify(dir);
      assert.ok(report.issues.some((i) => i.kind === "missing-file"), `${report.issues}`);

      const { db, warnings } = await openWarned(dir);
      const kinds = warnings.map((w) => w.kind);
      assert.ok(kinds.includes("missing-file") && !kinds.includes("torn-tail"), `${kinds}`);
      assert.equal(await db.getString("k0"), "value-0-".padEnd(100, "x"));
      await db.close();
      assert.ok(await Deno.stat(top), "the file after the gap stays");
    }));
}

Deno.test("a version-1 file before the version-2 file an upgrade began: its last record flipped or cut is damage", () =>
  withDir(async (dir) => {
    const fixture = new URL("./fixtures/v1-store/", import.meta.url);
    for await (const e of Deno.readDir(fixture)) {
      await Deno.copyFile(new URL(e.name, fixture), `${dir}/${e.name}`);
    }
    const clock = () => 1_700_000_000_000;
    await (await open(dir, { clock })).close();
    const files = await dataFiles(dir);
    assert.deepEqual(files.map(idOf), [2, 5, 6]);
    assert.equal(await followsOf(files[2]), 5);
    assert.equal((await Deno.stat(files[2])).size, FILE_HEADER_SIZE);
    const whole = await Deno.readFile(files[1]);
    const flipped = whole.slice();
    flipped[flipped.length - 5] ^= 0xff;
    for (const [how, bytes] of [["flipped", flipped], ["cut", whole.subarray(0, -10)]] as const) {
      await Deno.writeFile(files[1], bytes);
      const err = await strictError(dir);
      assert.equal(err.file, files[1], `${how}: ${err.message}`);
      const warnings: RecoveryWarning[] = [];
      const db = await open(dir, { clock, onWarning: (w) => warnings.push(w) });
      await db.close();
      assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [["damaged", files[1]]], how);
      assert.equal((await Deno.stat(files[1])).size, bytes.length, `${how}: nothing cut`);
    }
  }));
