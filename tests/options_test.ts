/**
 * Option checks and the figures a newcomer reads first: wrong option shapes and
 * misspelt keys are refused before anything is written, empty lookup keys are
 * refused like empty write keys, an empty or just-compacted store shows no dead
 * bytes, compaction progress never jumps back, and automatic compaction stays
 * off until both of its thresholds are passed.
 */

import assert from "node:assert/strict";
import { type Cask, type CompactProgress, InvalidArgumentError, open } from "../mod.ts";
import { FILE_HEADER_SIZE, HEADER_SIZE } from "../src/codec/format.ts";
import { openQuiet, prng, randomBytes, withDir } from "./helpers.ts";

// Sizes of every data file and the key count: a refused call must change neither.
function footprint(db: Cask): string {
  const s = db.stats();
  return JSON.stringify({ keys: db.size, sizes: s.files.map((f) => [f.id, f.size]) });
}

async function assertRefusedWritingNothing(
  db: Cask,
  cases: Array<[string, () => Promise<unknown>]>,
): Promise<void> {
  for (const [name, call] of cases) {
    const before = footprint(db);
    await assert.rejects(call, InvalidArgumentError, name);
    assert.equal(footprint(db), before, `${name} wrote something`);
  }
}

Deno.test("set options that are not an object, or hold an unknown key, are refused", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      await db.set("k", "old");
      await assertRefusedWritingNothing(db, [
        ['set(k, v, "abc")', () => db.set("k", "v", "abc" as never)],
        ["set(k, v, null)", () => db.set("k", "v", null as never)],
        ["set(k, v, 5)", () => db.set("k", "v", 5 as never)],
        ["set(k, v, [])", () => db.set("k", "v", [] as never)],
        ["{ expireIn: 1000 }", () => db.set("k", "v", { expireIn: 1000 } as never)],
        ["{ ttl, expireIn }", () => db.set("k", "v", { ttl: 1000, expireIn: 1000 } as never)],
        ["new key with { expireIn }", () => db.set("new", "v", { expireIn: 1000 } as never)],
      ]);
      assert.equal(await db.getString("k"), "old");
      assert.equal(await db.ttl("k"), Infinity);
      assert.equal(await db.has("new"), false);
      // The accepted spellings still work.
      await db.set("k", "v", undefined);
      await db.set("t", "v", { ttl: 60_000 });
      const ttl = await db.ttl("t");
      assert.ok(ttl !== undefined && ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`);
    }
    const { db, warnings } = await openQuiet(dir);
    assert.deepEqual(warnings, []);
    assert.deepEqual([db.size, await db.getString("k"), await db.has("new")], [2, "v", false]);
    await db.close();
  }));

Deno.test("unknown open option keys are refused before the directory is touched", () =>
  withDir(async (root) => {
    const dir = `${root}/store`;
    for (
      const options of [
        { syncMode: "never" },
        { sync: "never", maxFilesize: 4096 },
        { autocompact: true },
      ]
    ) {
      await assert.rejects(
        () => open(dir, options as never),
        InvalidArgumentError,
        JSON.stringify(options),
      );
      await assert.rejects(() => Deno.stat(dir), Deno.errors.NotFound, "nothing was created");
    }
    // Nothing was left locked either.
    await (await open(dir, { sync: "never", maxFileSize: 4096 })).close();
  }));

Deno.test({
  // resolveAutoCompact (src/api/options.ts) does not check the keys of the
  // object yet: the open succeeds and the misspelt threshold gets its default.
  name: "unknown autoCompact keys are refused",
  fn: () =>
    withDir(async (dir) => {
      const options = { autoCompact: { minDeadRatio: 0.5, minDeadByte: 1 } };
      await assert.rejects(() => open(dir, options as never), InvalidArgumentError);
    }),
});

Deno.test("unknown fields of batch operations refuse the whole batch", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("keep", "1");
    await assertRefusedWritingNothing(db, [
      ["set with expireIn", () =>
        db.atomic([
          { type: "set", key: "a", value: "1" },
          { type: "set", key: "b", value: "2", expireIn: 1000 } as never,
        ])],
      ["delete with a value", () =>
        db.atomic([
          { type: "set", key: "a", value: "1" },
          { type: "delete", key: "keep", value: "x" } as never,
        ])],
      ["misspelt key field", () => db.atomic([{ type: "set", kay: "a", value: "1" } as never])],
      ["batch() builder op", () => db.batch().set("a", "1", { expireIn: 5 } as never).commit()],
    ]);
    assert.equal(await db.has("a"), false);
    assert.equal(await db.getString("keep"), "1");
  }));

Deno.test("get, has and ttl refuse an empty key, as set and delete do", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("k", "v");
    for (const empty of ["", new Uint8Array(0)]) {
      const what = typeof empty === "string" ? '""' : "empty bytes";
      await assert.rejects(() => db.get(empty), InvalidArgumentError, `get(${what})`);
      await assert.rejects(() => db.getString(empty), InvalidArgumentError, `getString(${what})`);
      await assert.rejects(() => db.has(empty), InvalidArgumentError, `has(${what})`);
      await assert.rejects(() => db.ttl(empty), InvalidArgumentError, `ttl(${what})`);
      await assert.rejects(() => db.set(empty, "v"), InvalidArgumentError, `set(${what})`);
      await assert.rejects(() => db.delete(empty), InvalidArgumentError, `delete(${what})`);
    }
    assert.equal(await db.getString("k"), "v");
  }));

function assertNoDeadBytes(db: Cask, when: string): void {
  const s = db.stats();
  assert.equal(s.deadBytes, 0, `${when}: ${JSON.stringify(s)}`);
  for (const f of s.files) {
    assert.deepEqual([f.deadBytes, f.deadRatio], [0, 0], `${when}: file ${JSON.stringify(f)}`);
  }
}

Deno.test("a new store and a just-compacted store show 0 dead bytes", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxFileSize: 4096 });
      assertNoDeadBytes(db, "new store");
      assert.equal(db.stats().liveBytes, 0);
      const v = randomBytes(prng(1), 300);
      for (let i = 0; i < 120; i++) await db.set(`k${i % 20}`, v);
      for (let i = 0; i < 5; i++) await db.delete(`k${i}`);
      const churned = db.stats();
      assert.ok(churned.deadBytes > churned.liveBytes, "the churn left dead bytes");
      await db.compact();
      assertNoDeadBytes(db, "just compacted");
      assert.ok(db.stats().liveBytes >= 15 * 300, "the live records are still counted");
    }
    // Reopened from the compacted files, still nothing dead.
    await using db = await open(dir, { maxFileSize: 4096 });
    assertNoDeadBytes(db, "compacted, reopened");
    assert.equal(db.size, 15);
  }));

Deno.test("compaction progress keeps one total and never goes back", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { maxFileSize: 4096, sync: "never" });
    const v = randomBytes(prng(2), 200);
    for (let i = 0; i < 400; i++) await db.set(`k${i % 50}`, v);
    const events: CompactProgress[] = [];
    const result = await db.compact({ onProgress: (p) => events.push({ ...p }) });
    const phases = [...new Set(events.map((e) => e.phase))];
    assert.deepEqual(phases.filter((p) => p === "copy" || p === "cleanup"), ["copy", "cleanup"]);
    const total = events[0].bytesTotal;
    assert.ok(total > 0 && total <= result.bytesIn, `total ${total} of ${result.bytesIn} in`);
    events.forEach((e, i) => {
      const where = `event ${i} ${JSON.stringify(e)}`;
      assert.equal(e.bytesTotal, total, where);
      assert.ok(e.bytesDone <= e.bytesTotal, where);
      if (i > 0) assert.ok(e.bytesDone >= events[i - 1].bytesDone, where);
    });
    assert.equal(events.at(-1)!.bytesDone, total, "the bar ends full");
  }));

// Fills a store with many small files; `overwrites` of its keys turn into dead bytes.
async function fill(db: Cask, keys: number, overwrites: number): Promise<void> {
  const v = randomBytes(prng(3), 200);
  for (let i = 0; i < keys; i++) await db.set(`k${i}`, v);
  for (let i = 0; i < overwrites; i++) await db.set(`k${i % keys}`, v);
  await db.sync();
}

// Whether a compaction started: it seals the active file leaving a gap in the
// ids for its outputs, and records its result when done. Waits long enough for
// one started by the last file rotation to finish.
async function compacted(db: Cask): Promise<boolean> {
  for (let i = 0; i < 50 && !db.stats().lastCompaction; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const ids = db.stats().files.map((f) => f.id);
  return db.stats().lastCompaction !== undefined || ids.some((id, i) => id !== i);
}

Deno.test("automatic compaction stays off until dead bytes pass both thresholds", () =>
  withDir(async (dir) => {
    // sync "always" with each write awaited: the thresholds are judged when a
    // file fills up, from the sizes of files on disk, so nothing may be buffered.
    const small = { maxFileSize: 1024, sync: "always" as const };
    // Dead bytes over minDeadBytes, but a small share of the store.
    {
      await using db = await open(`${dir}/ratio`, {
        ...small,
        autoCompact: { minDeadRatio: 0.5, minDeadBytes: 2048 },
      });
      await fill(db, 60, 20);
      const s = db.stats();
      assert.ok(s.deadBytes >= 2048 && s.deadBytes < 0.5 * (s.deadBytes + s.liveBytes), "setup");
      assert.equal(await compacted(db), false, "compacted below minDeadRatio");
      assert.ok(s.files.length >= 10, `${s.files.length} files: few threshold checks`);
    }
    // Most of the store dead, but fewer bytes than minDeadBytes.
    {
      await using db = await open(`${dir}/bytes`, {
        ...small,
        autoCompact: { minDeadRatio: 0.5, minDeadBytes: 1 << 20 },
      });
      await fill(db, 5, 60);
      const s = db.stats();
      assert.ok(s.deadBytes < 1 << 20 && s.deadBytes > 0.9 * (s.deadBytes + s.liveBytes), "setup");
      assert.equal(await compacted(db), false, "compacted below minDeadBytes");
    }
    // The control: the first workload with a lower ratio does compact, so the
    // waiting above was long enough to see one.
    {
      await using db = await open(`${dir}/control`, {
        ...small,
        autoCompact: { minDeadRatio: 0.1, minDeadBytes: 2048 },
      });
      await fill(db, 60, 20);
      assert.equal(await compacted(db), true, "no compaction above both thresholds");
    }
  }));

Deno.test({
  // The thresholds are judged when a file fills up, from Writer.sizeOf, which
  // counts buffered bytes for the active file only: files sealed while their
  // bytes still sit in the write buffer count as (nearly) empty, so under
  // "never" or { intervalMs } with small files the dead bytes never seem to pass.
  name: "automatic compaction also starts under sync never",
  fn: () =>
    withDir(async (dir) => {
      await using db = await open(dir, {
        maxFileSize: 1024,
        sync: "never",
        autoCompact: { minDeadRatio: 0.1, minDeadBytes: 2048 },
      });
      await fill(db, 60, 20);
      assert.equal(await compacted(db), true);
    }),
});

Deno.test("holes in atomic() ops or checks and in getMany() keys are refused with InvalidArgumentError", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    const set = { type: "set" as const, key: "a", value: "1" };
    // deno-lint-ignore no-sparse-arrays -- a hole on purpose
    await assert.rejects(db.atomic([, set] as never), InvalidArgumentError);
    await assert.rejects(db.atomic(new Array(1)), InvalidArgumentError);
    await assert.rejects(db.atomic([set], { checks: new Array(1) }), InvalidArgumentError);
    // deno-lint-ignore no-sparse-arrays -- a hole on purpose
    await assert.rejects(db.getMany([, "a"] as never), InvalidArgumentError);
    assert.equal(await db.get("a"), undefined, "nothing written");
  }));

Deno.test("batch().set() options are checked as set()'s are and never replace the key or value", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    const sneaky = { key: "victim", value: "overwritten" } as never;
    await assert.rejects(db.batch().set("a", "1", sneaky).commit(), InvalidArgumentError);
    await assert.rejects(db.batch().set("a", "1", null as never).commit(), InvalidArgumentError);
    await assert.rejects(
      db.batch().set("a", "1", { ttl: 1000, tll: 5 } as never).commit(),
      InvalidArgumentError,
    );
    assert.equal(await db.get("victim"), undefined);
    assert.equal(await db.get("a"), undefined);
    await db.batch().set("a", "1", { ttl: 60_000 }).commit();
    assert.ok((await db.ttl("a"))! > 0);
  }));

Deno.test("null open options and unknown fields of sync or follow are refused", async () => {
  for (
    const options of [
      { maxFileSize: null },
      { sync: null },
      { onWarning: null },
      { sync: { intervalMs: 50, intervalMS: 5 } },
      { sync: { intervalMs: 50, fsync: false } },
      { readOnly: true, follow: { intervalMs: 50, every: 1 } },
    ]
  ) {
    await assert.rejects(
      open("/nonexistent/never-created", options as never),
      InvalidArgumentError,
      JSON.stringify(options),
    );
  }
});

Deno.test("a clock with fractions of a millisecond is rounded down; one that gives no time is refused by name", () =>
  withDir(async (dir) => {
    let now = 1_800_000_000_000.75;
    {
      await using db = await open(dir, { clock: () => now });
      await db.set("k", "v", { ttl: 1000 });
      assert.equal((await db.getEntry("k"))?.expireAt, 1_800_000_001_000);
      for (const bad of [NaN, -1, 2 ** 60, "soon" as unknown as number]) {
        now = bad;
        await assert.rejects(() => db.set("k2", "v"), (e: unknown) => {
          assert.ok(e instanceof InvalidArgumentError, String(e));
          assert.match(e.message, /^clock\(\) returned /);
          return true;
        });
      }
      now = 1_800_000_000_500;
    }
    await using db = await open(dir);
    assert.equal(db.size, 1);
  }));

Deno.test("what the user's clock or onProgress throws comes back as it is, not as an IOError", () =>
  withDir(async (dir) => {
    const boom = new Error("the user's own failure");
    await assert.rejects(() =>
      open(dir, {
        clock: () => {
          throw boom;
        },
      }), (e) => e === boom);
    {
      await using db = await open(dir);
      for (let i = 0; i < 100; i++) await db.set(`k${i}`, "v");
      await assert.rejects(() =>
        db.compact({
          onProgress: () => {
            throw boom;
          },
        }), (e) => e === boom);
      assert.equal(await db.getString("k99"), "v");
    }
    await using db = await open(dir);
    assert.equal(db.size, 100);
  }));

/** Waits up to 5 s for a compaction to have finished in `db`. */
async function compactedSoon(db: Cask): Promise<boolean> {
  for (let i = 0; i < 100 && db.stats().lastCompaction === undefined; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return db.stats().lastCompaction !== undefined;
}

Deno.test("automatic compaction runs after mass deletes, and at open, not only when a data file fills", () =>
  withDir(async (dir) => {
    const autoCompact = { minDeadRatio: 0.5, minDeadBytes: 2 * 1024 * 1024 };
    const value = new Uint8Array(64 * 1024).fill(7);
    {
      await using db = await open(dir, { autoCompact });
      for (let i = 0; i < 64; i++) await db.set(`big${i}`, value);
      assert.equal(db.stats().files.length, 1, "4 MiB in one 64 MiB data file");
      for (let i = 0; i < 64; i++) await db.delete(`big${i}`);
      await db.set("small", "v");
      assert.ok(await compactedSoon(db), "compacted after the deletes");
      const dead = db.stats().deadBytes;
      assert.ok(dead < autoCompact.minDeadBytes, `${dead} dead bytes left`);
      for (let i = 0; i < 64; i++) await db.set(`big${i}`, value);
    }
    {
      await using db = await open(dir);
      await db.deleteRange({ prefix: "big" });
    }
    await using db = await open(dir, { autoCompact });
    assert.ok(await compactedSoon(db), "compacted after the open");
    assert.equal(await db.getString("small"), "v");
  }));

Deno.test("automatic compaction with minDeadBytes below 1 MiB runs once that much is dead", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { autoCompact: { minDeadRatio: 0.5, minDeadBytes: 8192 } });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20; i++) await db.set(`k${i}`, "x".repeat(500));
    }
    assert.ok(await compactedSoon(db), `not compacted with ${db.stats().deadBytes} bytes dead`);
  }));

Deno.test("automatic compaction: a reopen with minDeadBytes 0 works; expired records count as dead", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      await db.set("k", "v1");
      await db.set("k", "v2");
    }
    {
      await using db = await open(dir, { autoCompact: { minDeadBytes: 0 }, sync: "never" });
      assert.equal(await db.getString("k"), "v2");
    }
    let now = 1_000_000;
    await using db = await open(`${dir}/ttl`, {
      clock: () => now,
      maxFileSize: 16 * 1024,
      autoCompact: { minDeadRatio: 0.5, minDeadBytes: 32 * 1024 },
    });
    // A cache whose keys only ever expire: nothing is overwritten or deleted.
    for (let i = 0; i < 100; i++) await db.set(`c:${i}`, "x".repeat(1000), { ttl: 1000 });
    now += 5000;
    for (let i = 100; i < 140; i++) await db.set(`c:${i}`, "x".repeat(1000), { ttl: 1000 });
    assert.ok(await compactedSoon(db), `not compacted with ${db.stats().liveBytes} bytes "live"`);
    assert.ok(db.stats().liveBytes < 50_000, `${db.stats().liveBytes} live bytes`);
  }));

Deno.test('under "always", writes waiting for their fsync are not counted as dead bytes', () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    const writes = Array.from({ length: 200 }, (_, i) => db.set(`k${i}`, "x".repeat(1000)));
    assert.equal(db.stats().deadBytes, 0);
    await Promise.all(writes);
    assert.equal(db.stats().deadBytes, 0);
  }));

Deno.test("automatic compaction leaves a streamed value still being committed in its own file", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { autoCompact: { minDeadBytes: 0, minDeadRatio: 0 } });
    await db.set("a", "1");
    await db.set("a", "2");
    await db.batch().set("b", "x").set("c", "y").commit();
    await db.delete("b");
    await db.setStream("big", new Blob([new Uint8Array(2 << 20).fill(3)]).stream());
    await db.set("d", "1");
    await db.set("d", "2");
    await new Promise((r) => setTimeout(r, 500));
    const big = db.stats().files.filter((f) => f.size >= 2 << 20);
    assert.equal(big.length, 1);
    // A file of its own: a file header and the one record.
    const own = FILE_HEADER_SIZE + HEADER_SIZE + "big".length + (2 << 20);
    assert.equal(big[0].size, own, `the value shares data.${big[0].id}`);
    assert.equal((await db.get("big"))?.length, 2 << 20);
  }));

Deno.test("automatic compaction's check drops expired keys without a change to feeds", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    await using db = await open(dir, {
      sync: "never",
      clock: () => now,
      autoCompact: { minDeadBytes: 1, minDeadRatio: 0.99 },
    });
    await db.set("t", "v", { ttl: 1000 });
    const feed = db.watch({ prefix: "" });
    now += 5000;
    await db.set("x", "1");
    await db.set("x", "2");
    await db.delete("x");
    const keys = [];
    for (let i = 0; i < 3; i++) keys.push(new TextDecoder().decode((await feed.next()).value!.key));
    assert.deepEqual(keys, ["x", "x", "x"]);
    await feed.return!();
  }));
