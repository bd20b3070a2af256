/**
 * Log trust against files and records put back by hand (issue 10): another
 * store's files copied in, even outnumbering the store's own; stale or foreign
 * copies with a damaged header; an earlier record of a file copied into it
 * again; and lost files whose gap must stay on record across checkpoints.
 */

import assert from "node:assert/strict";
import { CorruptionError, open, type OpenOptions, type RecoveryWarning, verify } from "../mod.ts";
import { FILE_HEADER_SIZE, HEADER_SIZE } from "../src/codec/format.ts";
import { dataFiles, tempDir, withDir } from "./helpers.ts";

async function openWarned(dir: string, options: OpenOptions = {}) {
  const warnings: RecoveryWarning[] = [];
  const db = await open(dir, { ...options, onWarning: (w) => warnings.push(w) });
  return { db, warnings };
}

/** The error opening `dir` with `options` fails with (fails when it opens). */
async function openError(dir: string, options: OpenOptions): Promise<unknown> {
  try {
    await (await open(dir, options)).close();
  } catch (e) {
    return e;
  }
  assert.fail("expected the open to fail");
}

/** Store B in its own directory: `role:alice = admin` and b0..b79 over 4+ small files. */
async function otherStore(): Promise<string> {
  const dir = await tempDir();
  await using db = await open(dir, { maxFileSize: 1024 });
  await db.set("role:alice", "admin");
  for (let i = 0; i < 80; i++) await db.set(`b${i}`, `from B ${i}`.padEnd(30, "."));
  return dir;
}

for (const checkpoint of [false, true]) {
  Deno.test(`another store's files outnumbering the store's own are skipped (checkpoint: ${checkpoint})`, () =>
    withDir(async (dir) => {
      {
        await using db = await open(dir, { checkpoint: checkpoint && { minKeys: 0 } });
        await db.set("role:alice", "user");
        for (let i = 0; i < 20; i++) await db.set(`a${i}`, `from A ${i}`);
      }
      const own = await dataFiles(dir);
      assert.equal(own.length, 1);
      const b = await otherStore();
      try {
        const theirs = (await dataFiles(b)).slice(1);
        assert.ok(theirs.length >= 3, `${theirs.length} files of B copied in`);
        for (const f of theirs) await Deno.copyFile(f, `${dir}/${f.slice(b.length + 1)}`);
      } finally {
        await Deno.remove(b, { recursive: true });
      }
      const { db, warnings } = await openWarned(dir, { checkpoint: checkpoint && { minKeys: 0 } });
      try {
        assert.equal(await db.getString("role:alice"), "user");
        assert.equal(await db.getString("a7"), "from A 7");
        assert.equal(await db.get("b10"), undefined);
        assert.equal(db.size, 21);
        assert.ok(warnings.length >= 3 && warnings.every((w) => w.kind === "foreign-file"));
        assert.ok(!warnings.some((w) => w.file === own[0]), "the store's own file is not foreign");
      } finally {
        await db.close();
      }
      if (checkpoint) {
        assert.ok((await Deno.stat(`${dir}/checkpoint`)).isFile, "the store's checkpoint stays");
      }
      const err = await openError(dir, { strict: true });
      assert.ok(err instanceof CorruptionError && err.file !== own[0], String(err));
    }));
}

/** Flips bit 0 of byte `at` of `path`. */
async function flipBit(path: string, at: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[at] ^= 0x01;
  await Deno.writeFile(path, bytes);
}

// Byte 56 is reserved: a flip there fails the header's checksum and leaves every field as it was.
const RESERVED = 56;
const STORE_ID = 16;

Deno.test("a stale copy of the store's own file under a new number, its header damaged, is skipped", () =>
  withDir(async (dir) => {
    const want = new Map<string, string>();
    {
      await using db = await open(dir, { maxFileSize: 1024 });
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 20; i++) {
          const v = `round ${round}`.padEnd(40, ".");
          await db.set(`k${i}`, v);
          want.set(`k${i}`, v);
        }
        for (let i = 0; i < 20; i += 3) {
          await db.delete(`k${i}`);
          want.delete(`k${i}`);
        }
      }
    }
    const files = await dataFiles(dir);
    const copy = `${dir}/data.${Number(files.at(-1)!.slice(dir.length + 6)) + 1}`;
    await Deno.copyFile(files[1], copy);
    await flipBit(copy, RESERVED);
    const { db, warnings } = await openWarned(dir);
    try {
      assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [["foreign-file", copy]]);
      assert.equal(db.size, want.size);
      for (const [k, v] of want) assert.equal(await db.getString(k), v, k);
    } finally {
      await db.close();
    }
  }));

for (const at of [RESERVED, STORE_ID]) {
  Deno.test(`another store's file with a damaged header (byte ${at}) is skipped, not replayed`, () =>
    withDir(async (dir) => {
      {
        await using db = await open(dir);
        await db.set("role:alice", "user");
      }
      const b = await otherStore();
      const copy = `${dir}/data.5`;
      try {
        await Deno.copyFile((await dataFiles(b))[0], copy);
      } finally {
        await Deno.remove(b, { recursive: true });
      }
      await flipBit(copy, at);
      const { db, warnings } = await openWarned(dir);
      try {
        assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [["foreign-file", copy]]);
        assert.equal(await db.getString("role:alice"), "user");
        assert.equal(await db.get("b1"), undefined);
      } finally {
        await db.close();
      }
      const report = await verify(dir);
      assert.deepEqual(report.issues.map((i) => i.kind), ["foreign-file"]);
    }));
}

/** Offsets of the records of a version-2 data file, and its end. */
function recordStarts(file: Uint8Array): number[] {
  const v = new DataView(file.buffer, file.byteOffset, file.length);
  const starts = [];
  for (let at = FILE_HEADER_SIZE; at < file.length;) {
    starts.push(at);
    at += HEADER_SIZE + v.getUint32(at + 12, true) + v.getUint32(at + 16, true);
  }
  return [...starts, file.length];
}

for (const where of ["at the end", "over a later record"] as const) {
  Deno.test(`an earlier record of the file copied in again ${where} is never applied`, () =>
    withDir(async (dir) => {
      {
        await using db = await open(dir);
        await db.set("balance", "100");
        await db.set("other", "x");
        await db.set("balance", "250");
        await db.set("tail", "y");
      }
      const [file] = await dataFiles(dir);
      const bytes = await Deno.readFile(file);
      const r = recordStarts(bytes);
      const first = bytes.slice(r[0], r[1]);
      assert.equal(r[3] - r[2], first.length, "both balance records are the same size");
      let damaged: Uint8Array;
      if (where === "at the end") {
        damaged = new Uint8Array(bytes.length + first.length);
        damaged.set(bytes);
        damaged.set(first, bytes.length);
      } else {
        damaged = bytes.slice();
        damaged.set(first, r[2]);
      }
      await Deno.writeFile(file, damaged);

      const report = await verify(dir);
      assert.equal(report.issues.length, 1, JSON.stringify(report.issues));
      if (where === "over a later record") {
        const err = await openError(dir, { strict: true });
        assert.ok(err instanceof CorruptionError, String(err));
      }
      const { db, warnings } = await openWarned(dir);
      try {
        assert.deepEqual(
          warnings.map((w) => w.kind),
          [where === "at the end" ? "torn-tail" : "damaged"],
        );
        // The copy names an older sequence number: it is not the log going on.
        assert.equal(await db.getString("balance"), where === "at the end" ? "250" : "100");
        assert.equal(await db.getString("tail"), "y");
        assert.equal(db.sequence, 4);
      } finally {
        await db.close();
      }
    }));
}

// Index checkpoints at every close, for a store of 100 records over several 2 KiB files.
const checkpoint = { minKeys: 0 };

/** Writes those records into `dir`; returns its data files. */
async function smallFiles(dir: string): Promise<string[]> {
  {
    await using db = await open(dir, { maxFileSize: 2048, checkpoint });
    for (let i = 0; i < 100; i++) await db.set(`k${i}`, "v".repeat(40));
  }
  return await dataFiles(dir);
}

Deno.test("a lost newest file's gap stays on record when later opens start from a checkpoint", () =>
  withDir(async (dir) => {
    const files = await smallFiles(dir);
    await Deno.remove(files.at(-1)!);
    {
      const { db, warnings } = await openWarned(dir, { checkpoint });
      assert.deepEqual(warnings.map((w) => w.kind), ["missing-file"]);
      await db.set("new", "1");
      await db.close();
    }
    for (const options of [{ checkpoint }, { checkpoint: false as const }]) {
      const err = await openError(dir, { ...options, strict: true });
      assert.ok(err instanceof CorruptionError, `${JSON.stringify(options)}: ${err}`);
      const { db, warnings } = await openWarned(dir, options);
      await db.close();
      assert.deepEqual(warnings.map((w) => w.kind), ["missing-file"], JSON.stringify(options));
      assert.equal(warnings[0].message, err.message.slice(err.message.indexOf(": ") + 2));
    }
  }));

Deno.test("a lost middle file is reported with the same lost sequence numbers from a checkpoint", () =>
  withDir(async (dir) => {
    const files = await smallFiles(dir);
    await Deno.remove(files[2]);
    const messages = [];
    for (let round = 0; round < 2; round++) {
      const { db, warnings } = await openWarned(dir, { checkpoint });
      await db.close();
      messages.push(warnings.map((w) => w.message.slice(w.message.lastIndexOf(":") + 1)));
    }
    const report = await verify(dir);
    messages.push(report.issues.map((i) => i.message.slice(i.message.lastIndexOf(":") + 1)));
    assert.equal(messages[0].length, 1);
    assert.deepEqual(messages[1], messages[0]);
    assert.deepEqual(messages[2], messages[0]);
  }));

Deno.test("a compacted store's files copied in beside a small store's one file do not take it over", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      await db.set("role:alice", "user");
    }
    const b = await otherStore();
    try {
      {
        await using db = await open(b, { maxFileSize: 1024 });
        await db.compact();
      }
      for (const f of await dataFiles(b)) {
        const name = f.slice(b.length + 1);
        if (name !== "data.0") await Deno.copyFile(f, `${dir}/${name}`);
      }
    } finally {
      await Deno.remove(b, { recursive: true });
    }
    const copied = (await dataFiles(dir)).filter((f) => !f.endsWith("/data.0"));
    {
      const { db, warnings } = await openWarned(dir);
      try {
        assert.equal(await db.getString("role:alice"), "user");
        assert.equal(db.size, 1);
        assert.equal(warnings.length, copied.length);
        await db.set("written-after", "by A's user");
      } finally {
        await db.close();
      }
    }
    for (const f of copied) await Deno.remove(f);
    await using db = await open(dir, { strict: true });
    assert.equal(await db.getString("written-after"), "by A's user");
  }));

Deno.test("a copy of a file a compaction merged, put back after it, is skipped: deleted keys stay deleted", () =>
  withDir(async (dir) => {
    let saved: Uint8Array;
    {
      await using db = await open(dir, { maxFileSize: 1024 });
      await db.set("secret", "to be deleted");
      for (let i = 0; i < 40; i++) await db.set(`k${i}`, "v".repeat(40));
      saved = await Deno.readFile(`${dir}/data.0`);
      await db.delete("secret");
      await db.compact();
    }
    await Deno.writeFile(`${dir}/data.0`, saved);
    const { db, warnings } = await openWarned(dir);
    try {
      assert.equal(await db.get("secret"), undefined);
      assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [["foreign-file", `${dir}/data.0`]]);
    } finally {
      await db.close();
    }
    assert.ok((await openError(dir, { strict: true })) instanceof CorruptionError);
    assert.deepEqual((await verify(dir)).issues.map((i) => i.kind), ["foreign-file"]);
  }));

Deno.test("a log file holding numbers past where the next file starts (a fork's copy) is damage there", () =>
  withDir(async (dir) => {
    const fork = await tempDir();
    try {
      {
        await using db = await open(dir, { maxFileSize: 4096 });
        for (let i = 0; i < 10; i++) await db.set(`k${i}`, "original".padEnd(40, "."));
        await db.backup(fork);
        for (let i = 0; i < 100; i++) await db.set(`k${i % 50}`, `later ${i}`.padEnd(40, "."));
      }
      {
        // The backup goes on writing into its own copy of data.0: same store, same salt.
        await using db = await open(fork, { maxFileSize: 1 << 20 });
        for (let i = 0; i < 80; i++) await db.set(`fork${i}`, "a write the store never made");
      }
      await Deno.copyFile(`${fork}/data.0`, `${dir}/data.0`);
    } finally {
      await Deno.remove(fork, { recursive: true });
    }
    const { db, warnings } = await openWarned(dir);
    try {
      assert.deepEqual(warnings.map((w) => w.kind), ["damaged"]);
      assert.equal(await db.get("fork79"), undefined);
    } finally {
      await db.close();
    }
    assert.ok((await openError(dir, { strict: true })) instanceof CorruptionError);
  }));

Deno.test("the file after a lost newest file takes a new number, never the lost one's", () =>
  withDir(async (dir) => {
    const files = await smallFiles(dir);
    const lost = files.at(-1)!;
    await Deno.remove(lost);
    const { db, warnings } = await openWarned(dir, { checkpoint });
    try {
      assert.deepEqual(warnings.map((w) => w.kind), ["missing-file"]);
      await db.set("after", "the loss");
    } finally {
      await db.close();
    }
    assert.equal(await Deno.stat(lost).catch(() => undefined), undefined, `${lost} was made again`);
  }));

Deno.test("a backup restored into a directory that once held an empty store is the store", () =>
  withDir(async (dir) => {
    const backup = await tempDir();
    try {
      {
        await using db = await open(`${dir}/src`, { maxFileSize: 1024 });
        for (let i = 0; i < 100; i++) await db.set(`user:${i}`, `data ${i}`);
        await db.compact();
        await db.backup(backup);
      }
      // The application's first open, of an empty directory, before the restore.
      await (await open(`${dir}/data`)).close();
      for (const f of await dataFiles(backup)) {
        await Deno.copyFile(f, `${dir}/data/${f.slice(backup.length + 1)}`);
      }
    } finally {
      await Deno.remove(backup, { recursive: true });
    }
    const { db, warnings } = await openWarned(`${dir}/data`);
    try {
      assert.equal(db.size, 100);
      assert.equal(await db.getString("user:1"), "data 1");
      assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [[
        "foreign-file",
        `${dir}/data/data.0`,
      ]]);
    } finally {
      await db.close();
    }
  }));

Deno.test("stale copies of a merged file and of that merge's newest input, put back together, are skipped", () =>
  withDir(async (dir) => {
    const saved = new Map<string, Uint8Array>();
    {
      await using db = await open(dir, { maxFileSize: 1024 });
      await db.set("secret", "to be deleted");
      for (let i = 0; i < 40; i++) await db.set(`k${i}`, "v".repeat(40));
      for (const f of await dataFiles(dir)) saved.set(f, await Deno.readFile(f));
      await db.delete("secret");
      await db.compact();
    }
    const files = [...saved.keys()];
    assert.ok(files.length >= 4, `${files.length} files`);
    for (const f of [files[0], files.at(-1)!]) await Deno.writeFile(f, saved.get(f)!);
    const { db, warnings } = await openWarned(dir);
    try {
      assert.equal(await db.get("secret"), undefined);
      assert.ok(warnings.some((w) => w.kind === "foreign-file" && w.file === files[0]));
    } finally {
      await db.close();
    }
    assert.ok((await openError(dir, { strict: true })) instanceof CorruptionError);
  }));

// A compaction installs its outputs one by one, then removes its inputs oldest
// first, each removal durable before the next, so a crash leaves all its inputs
// and some outputs, or its newest inputs: every such state must open strict,
// with nothing lost. Any other run of its inputs put back after it is a stale
// copy, even one whose files continue each other, and even the outputs of an
// earlier compaction that this one merged: each must be skipped, or the keys
// deleted before this compaction (whose tombstones it dropped) come back. A
// streamed value's file, which the log after it continues, sits among them.
Deno.test("a compaction's inputs put back are skipped unless a crash can leave them", () =>
  withDir(async (dir) => {
    const files = () => {
      const names = [...Deno.readDirSync(dir)].map((e) => e.name);
      return names.filter((n) => /^(data|hint)\.\d+$/.test(n));
    };
    const inputs = new Map<string, Uint8Array>();
    {
      await using db = await open(dir, { maxFileSize: 1024 });
      await db.set("secret", "to be deleted");
      for (let i = 0; i < 30; i++) await db.set(`k${i}`, "v".repeat(40));
      await db.compact();
      for (let i = 30; i < 45; i++) await db.set(`k${i}`, "w".repeat(40));
      await db.setStream("big", new Blob([new Uint8Array(1_100_000).fill(7)]).stream());
      for (let i = 45; i < 60; i++) await db.set(`k${i}`, "w".repeat(40));
      await db.delete("secret");
      await db.delete("k3");
      for (const n of files()) inputs.set(n, await Deno.readFile(`${dir}/${n}`));
      await db.compact();
    }
    const after = new Set(files());
    const ids = [...inputs.keys()].filter((n) => n.startsWith("data.") && !after.has(n))
      .map((n) => Number(n.slice(5))).sort((a, b) => a - b);
    assert.ok(ids.length >= 6, `the second compaction merged ${ids.length} files`);
    // The second compaction's outputs: the new files with hints.
    const outputs = [...after].filter((n) => n.startsWith("data.") && !inputs.has(n))
      .filter((n) => after.has(`hint.${n.slice(5)}`)).sort((a, b) => +a.slice(5) - +b.slice(5));
    assert.ok(outputs.length >= 1);
    const putBack = async (put: number[], installed = outputs.length) => {
      const copy = await tempDir();
      const missing = outputs.slice(installed).flatMap((n) => [n, `hint.${n.slice(5)}`]);
      for (const n of after) {
        if (!missing.includes(n)) await Deno.copyFile(`${dir}/${n}`, `${copy}/${n}`);
      }
      for (const id of put) {
        for (const n of [`data.${id}`, `hint.${id}`]) {
          if (inputs.has(n)) await Deno.writeFile(`${copy}/${n}`, inputs.get(n)!);
        }
      }
      return copy;
    };
    const check = async (copy: string, what: string) => {
      await using db = await open(copy, { onWarning: () => {} });
      assert.equal(await db.get("secret"), undefined, what);
      assert.equal(await db.get("k3"), undefined, what);
      assert.equal(await db.getString("k59"), "w".repeat(40), what);
      assert.equal((await db.get("big"))?.length, 1_100_000, what);
      assert.equal(await db.count(), 60, what);
    };
    // A state a crash can leave: clean to verify and to a strict open, nothing lost.
    const crashLeft = async (what: string, put: number[], installed?: number) => {
      const copy = await putBack(put, installed);
      try {
        assert.deepEqual((await verify(copy)).issues, [], what);
        await (await open(copy, { strict: true })).close();
        await check(copy, what);
      } finally {
        await Deno.remove(copy, { recursive: true });
      }
    };
    for (let from = 0; from < ids.length; from++) {
      await crashLeft(`the removal left data.${ids.slice(from).join(", data.")}`, ids.slice(from));
    }
    for (let installed = 0; installed < outputs.length; installed++) {
      await crashLeft(
        `all inputs, ${installed} of ${outputs.length} outputs installed`,
        ids,
        installed,
      );
    }
    for (let to = 1; to < ids.length; to++) {
      const stale = ids.slice(0, to);
      const copy = await putBack(stale);
      try {
        const what = `data.${stale.join(", data.")} put back`;
        const kinds = (await verify(copy)).issues.map((i) => i.kind);
        assert.ok(
          kinds.length > 0 && kinds.every((k) => k === "foreign-file"),
          `${what}: ${kinds}`,
        );
        assert.ok((await openError(copy, { strict: true })) instanceof CorruptionError, what);
        await check(copy, what);
      } finally {
        await Deno.remove(copy, { recursive: true });
      }
    }
  }));

// A stale copy stays on disk (foreign files are never deleted), so it must stay
// skipped in every state a later compaction's crash can leave: judged against
// the newest compaction whose outputs are all there, not the newest one begun.
Deno.test("a stale copy put back stays skipped after a crash while a later compaction installs its outputs", () =>
  withDir(async (dir) => {
    const names = () =>
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /^(data|hint)\./.test(n));
    let old: [string, Uint8Array];
    {
      await using db = await open(dir, { maxFileSize: 1024 });
      await db.set("secret", "to be deleted");
      for (let i = 0; i < 20; i++) await db.set(`k${i}`, "v".repeat(100));
      old = ["data.0", await Deno.readFile(`${dir}/data.0`)];
      await db.delete("secret");
      await db.compact();
    }
    await Deno.writeFile(`${dir}/${old[0]}`, old[1]);
    const before = new Map<string, Uint8Array>();
    {
      const { db, warnings } = await openWarned(dir, { maxFileSize: 1024 });
      try {
        assert.deepEqual(warnings.map((w) => [w.kind, w.file]), [[
          "foreign-file",
          `${dir}/data.0`,
        ]]);
        for (let i = 0; i < 20; i++) await db.set(`m${i}`, "w".repeat(100));
        for (const n of names()) before.set(n, await Deno.readFile(`${dir}/${n}`));
        await db.compact();
      } finally {
        await db.close();
      }
    }
    // Its outputs: the new data files with hints.
    const after = names();
    const outputs = after.filter((n) => n.startsWith("data.") && !before.has(n))
      .filter((n) => after.includes(`hint.${n.slice(5)}`)).sort((a, b) =>
        +a.slice(5) - +b.slice(5)
      );
    assert.ok(outputs.length >= 2, `${outputs.length} outputs`);
    for (let installed = 0; installed <= outputs.length; installed++) {
      const copy = await tempDir();
      try {
        for (const [n, b] of before) await Deno.writeFile(`${copy}/${n}`, b);
        for (const n of outputs.slice(0, installed)) {
          await Deno.copyFile(`${dir}/${n}`, `${copy}/${n}`);
        }
        const what = `${installed} of ${outputs.length} outputs installed`;
        const issues = (await verify(copy)).issues.map((i) => [i.kind, i.file]);
        assert.deepEqual(issues, [["foreign-file", `${copy}/data.0`]], what);
        const { db, warnings } = await openWarned(copy);
        try {
          assert.equal(await db.get("secret"), undefined, what);
          assert.equal(await db.getString("m19"), "w".repeat(100), what);
          assert.equal(await db.count(), 40, what);
          assert.deepEqual(warnings.map((w) => w.kind), ["foreign-file"], what);
        } finally {
          await db.close();
        }
      } finally {
        await Deno.remove(copy, { recursive: true });
      }
    }
  }));
