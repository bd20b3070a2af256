/**
 * Version 1: a store written by the last version-1 release (tests/fixtures/v1-store,
 * contents in v1-store.json) opens and reads; new writes and compaction produce
 * version-2 files, so a compaction upgrades the store.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { open, type OpenOptions, verify } from "../mod.ts";
import { FILE_MAGIC } from "../src/codec/format.ts";
import { dataFiles, withDir } from "./helpers.ts";

const FIXTURE = new URL("./fixtures/v1-store/", import.meta.url);
// The fixture was written with this clock; one of its keys expires at 4e12.
const clock = () => 1_700_000_000_000;

const fromBase64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const toBase64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

async function expected(): Promise<Map<string, Uint8Array>> {
  const json = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/v1-store.json", import.meta.url)),
  );
  return new Map(
    Object.entries(json as Record<string, string>).map(([k, v]) => [k, fromBase64(v)]),
  );
}

async function copyFixture(dir: string): Promise<void> {
  for await (const e of Deno.readDir(FIXTURE)) {
    await Deno.copyFile(new URL(e.name, FIXTURE), `${dir}/${e.name}`);
  }
}

/** Format version of the data file at `path` (u16 at offset 4 of its header). */
async function versionOf(path: string): Promise<number> {
  const head = (await Deno.readFile(path)).subarray(0, 8);
  const v = new DataView(head.buffer, head.byteOffset, 8);
  assert.equal(v.getUint32(0, true), FILE_MAGIC, path);
  return v.getUint16(4, true);
}

/** Every key of the store, base64, with its value. */
async function contents(dir: string, options: OpenOptions): Promise<Map<string, Uint8Array>> {
  const got = new Map<string, Uint8Array>();
  const warnings: string[] = [];
  await using db = await open(dir, {
    clock,
    onWarning: (w) => warnings.push(w.message),
    ...options,
  });
  assert.deepEqual(warnings, []);
  for await (const [k, v] of db.scan()) got.set(toBase64(k), v);
  for (const [k, v] of got) assert.deepEqual(await db.get(fromBase64(k)), v, `get ${k}`);
  return got;
}

Deno.test("a version-1 store opens, reads and verifies clean, default and strict", () =>
  withDir(async (dir) => {
    await copyFixture(dir);
    const want = await expected();
    assert.ok(want.size > 40);
    for (const files of await dataFiles(dir)) assert.equal(await versionOf(files), 1);
    assert.deepEqual(await contents(dir, {}), want);
    assert.deepEqual(await contents(dir, { strict: true }), want);
    assert.deepEqual((await verify(dir)).issues, []);
    await using db = await open(dir, { clock });
    assert.equal(db.sequence, 0, "version 1 has no sequence numbers");
  }));

Deno.test("writes to a version-1 store go to version-2 files; compaction leaves only version 2", () =>
  withDir(async (dir) => {
    await copyFixture(dir);
    const want = await expected();
    const v1Files = await dataFiles(dir);
    {
      await using db = await open(dir, { clock, strict: true });
      await db.set("new:1", "one");
      assert.equal(db.sequence, 1);
      await db.set("new:2", "two");
      assert.equal(db.sequence, 2);
      const [first] = want.keys();
      await db.delete(fromBase64(first));
      want.delete(first);
    }
    want.set(toBase64(new TextEncoder().encode("new:1")), new TextEncoder().encode("one"));
    want.set(toBase64(new TextEncoder().encode("new:2")), new TextEncoder().encode("two"));
    const added = (await dataFiles(dir)).filter((f) => !v1Files.includes(f));
    assert.equal(added.length, 1);
    assert.equal(await versionOf(added[0]), 2);
    assert.deepEqual(await contents(dir, { strict: true }), want);

    {
      await using db = await open(dir, { clock, strict: true });
      assert.equal(db.sequence, 3);
      await db.compact();
      assert.ok(db.sequence >= 3);
    }
    const after = await dataFiles(dir);
    assert.ok(after.length > 0);
    for (const f of after) assert.equal(await versionOf(f), 2, f);
    assert.deepEqual(await contents(dir, { strict: true }), want);
    assert.deepEqual((await verify(dir)).issues, []);
    await using db = await open(dir, { clock });
    assert.ok(db.sequence >= 3, `sequence ${db.sequence}`);
    await db.set("new:3", "three");
    assert.equal(await db.getString("new:3"), "three");
  }));

// A version-2 record header is larger than a version-1 one, so a record copied
// out of a version-1 file by compaction grows: the index must take the copy's
// size, or reads of it fail their checksum until a reopen, and the next
// compaction drops every such record as damaged.
Deno.test("a version-1 store reads right after a compaction, and after a second one in the same session", () =>
  withDir(async (dir) => {
    await copyFixture(dir);
    const want = await expected();
    const warnings: string[] = [];
    {
      await using db = await open(dir, { clock, onWarning: (w) => warnings.push(w.message) });
      await db.compact();
      for (const [k, v] of want) assert.deepEqual(await db.get(fromBase64(k)), v, `get ${k}`);
      await db.compact();
      for (const [k, v] of want) assert.deepEqual(await db.get(fromBase64(k)), v, `get ${k}`);
      const live = db.stats().files.reduce((n, f) => n + f.liveBytes, 0);
      const onDisk = db.stats().files.reduce((n, f) => n + f.size, 0);
      assert.ok(live <= onDisk, `${live} live bytes in ${onDisk} on disk`);
    }
    assert.deepEqual(warnings, []);
    assert.deepEqual(await contents(dir, { strict: true }), want);
  }));
