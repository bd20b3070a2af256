import assert from "node:assert/strict";
import { IndexFullError, InvalidArgumentError, open } from "../mod.ts";
import { dataFiles, openQuiet, prng, text, withDir } from "./helpers.ts";

const ROUNDS = Number(Deno.env.get("CASK_RANGE_OPS") ?? 3000);

Deno.test("deleteRange, count and getMany match a Map model through TTLs, compactions and restarts", () =>
  withDir(async (dir) => {
    const rand = prng(11);
    let now = 1_000_000;
    const clock = () => now;
    const opts = { clock, maxFileSize: 8 * 1024, onWarning: () => {} };
    // key -> [value, expireAt (0 = never)]
    const model = new Map<string, [string, number]>();
    const live = (k: string) => {
      const m = model.get(k);
      return m !== undefined && (m[1] === 0 || m[1] > now);
    };
    const key = () => `${"abc"[Math.floor(rand() * 3)]}${Math.floor(rand() * 60)}`;
    let db = await open(dir, opts);
    try {
      for (let op = 0; op < ROUNDS; op++) {
        const r = rand();
        if (r < 0.45) {
          const k = key(), v = `v${op}`, ttl = rand() < 0.2 ? 1 + Math.floor(rand() * 50) : 0;
          await db.set(k, v, ttl ? { ttl } : undefined);
          model.set(k, [v, ttl ? now + ttl : 0]);
        } else if (r < 0.55) {
          const k = key();
          assert.equal(await db.delete(k), live(k), `delete ${k}`);
          model.delete(k);
        } else if (r < 0.65) {
          let [a, b] = [key(), key()];
          if (a > b) [a, b] = [b, a];
          const want = [...model.keys()].filter((k) => k >= a && k < b && live(k)).length;
          assert.equal(await db.deleteRange({ start: a, end: b }), want, `deleteRange ${a}..${b}`);
          for (const k of [...model.keys()]) if (k >= a && k < b) model.delete(k);
        } else if (r < 0.7) {
          const p = "abc"[Math.floor(rand() * 3)] +
            (rand() < 0.5 ? String(Math.floor(rand() * 6)) : "");
          const want = [...model.keys()].filter((k) => k.startsWith(p) && live(k)).length;
          assert.equal(await db.deleteRange({ prefix: p }), want, `deleteRange prefix ${p}`);
          for (const k of [...model.keys()]) if (k.startsWith(p)) model.delete(k);
        } else if (r < 0.8) {
          const ks = Array.from({ length: 5 }, key);
          const got = (await db.getMany(ks)).map(text);
          assert.deepEqual(got, ks.map((k) => live(k) ? model.get(k)![0] : undefined));
        } else if (r < 0.85) {
          const p = "abc"[Math.floor(rand() * 3)];
          const want = [...model.keys()].filter((k) => k.startsWith(p) && live(k)).length;
          assert.equal(await db.count({ prefix: p }), want, `count ${p}`);
        } else if (r < 0.9) {
          now += Math.floor(rand() * 30);
        } else if (r < 0.95) {
          await db.compact();
        } else {
          await db.close();
          db = (await openQuiet(dir, opts)).db;
        }
      }
      await db.close();
      db = (await openQuiet(dir, { ...opts, strict: true })).db;
      const want = [...model.keys()].filter(live).sort();
      const got = [];
      for await (const [k, v] of db.scan()) {
        got.push(text(k)!);
        assert.equal(text(v), model.get(text(k)!)![0]);
      }
      assert.deepEqual(got, want);
      assert.equal(await db.count(), want.length);
    } finally {
      await db.close();
    }
  }));

Deno.test("deleteRange writes one record, not a tombstone per key, and compaction drops it", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    for (let i = 0; i < 1000; i++) {
      await db.set(`user:${String(i).padStart(4, "0")}`, "x".repeat(20));
    }
    await db.set("zzz", "kept");
    const before = (await Deno.stat((await dataFiles(dir)).at(-1)!)).size;
    const seq = db.sequence;
    assert.equal(await db.deleteRange({ prefix: "user:" }), 1000);
    assert.equal(db.sequence, seq + 1, "one commit");
    const after = (await Deno.stat((await dataFiles(dir)).at(-1)!)).size;
    assert.ok(after - before < 100, `the range record took ${after - before} bytes`);
    assert.equal(await db.count(), 1);
    await db.compact();
    const total = (await Promise.all((await dataFiles(dir)).map((f) => Deno.stat(f))))
      .reduce((n, s) => n + s.size, 0);
    assert.ok(total < 400, `after compaction the files hold ${total} bytes`);
    assert.equal(text(await db.get("zzz")), "kept");
    await assert.rejects(db.deleteRange({ start: "a" } as never), InvalidArgumentError);
    await assert.rejects(db.count({ limit: 3 } as never), InvalidArgumentError);
  }));

Deno.test("watch sees each key a deleteRange removes", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("p:1", "a");
    await db.set("p:2", "b");
    const feed = db.watch({ prefix: "p:" });
    await db.deleteRange({ prefix: "p:" });
    const got = [];
    for (let i = 0; i < 2; i++) {
      const c = (await feed.next()).value!;
      got.push([text(c.key), c.value, c.sequence]);
    }
    assert.deepEqual(got, [["p:1", undefined, 3], ["p:2", undefined, 3]]);
  }));

Deno.test("a deleteRange over keys that had expired reports only the keys it removed, as its count does", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    await using db = await open(dir, { clock: () => now });
    await db.set("s:1", "a", { ttl: 10 });
    await db.set("s:2", "b");
    await db.set("s:3", "c", { ttl: 10 });
    const feed = db.watch({ prefix: "" });
    now += 10;
    assert.equal(await db.deleteRange({ prefix: "s:" }), 1);
    await db.set("z", "end");
    const got = [];
    for (;;) {
      const c = (await feed.next()).value!;
      got.push([text(c.key), text(c.value), c.sequence]);
      if (text(c.key) === "z") break;
    }
    assert.deepEqual(got, [["s:2", undefined, 4], ["z", "end", 5]]);
  }));

Deno.test("stats() reports index memory; maxIndexBytes refuses new keys but not overwrites or deletes", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { sync: "never" });
      for (let i = 0; i < 5000; i++) db.set(`key:${i}`, "v");
      await db.sync();
      const { index } = db.stats();
      assert.ok(index.bytesPerKey > 40 && index.bytesPerKey < 200, `${index.bytesPerKey} B/key`);
      assert.ok(Math.abs(index.bytes - index.bytesPerKey * 5000) < 1);
    }
    await using db = await open(dir, { maxIndexBytes: 1 });
    await assert.rejects(db.set("new", "v"), IndexFullError);
    await assert.rejects(db.atomic([{ type: "set", key: "new2", value: "v" }]), IndexFullError);
    await db.set("key:1", "overwritten");
    assert.equal(text(await db.get("key:1")), "overwritten");
    assert.equal(await db.delete("key:2"), true);
    assert.equal(await db.has("new"), false);
  }));

Deno.test("maxIndexBytes: keys deleted give their room back to new keys, without a reopen", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never", maxIndexBytes: 256 * 1024 });
    const fill = async (prefix: string) => {
      for (let i = 0;; i++) {
        try {
          await db.set(`${prefix}${String(i).padStart(6, "0")}`, "v");
        } catch (e) {
          assert.ok(e instanceof IndexFullError, String(e));
          return i;
        }
      }
    };
    const first = await fill("a:");
    assert.ok(first > 1000, `${first} keys fit`);
    // What stats() reports is what the budget counts, and the blocks nodes left
    // as they grew, kept for reuse (18 KiB here).
    const held = db.stats().index.bytes;
    assert.ok(held >= 256 * 1024 && held < 288 * 1024, `${held} bytes held`);
    assert.equal(await db.deleteRange({ prefix: "a:" }), first);
    // About as many new keys fit again.
    const second = await fill("b:");
    assert.ok(second > first * 0.9, `${second} new keys fit after deleting ${first}`);
    // Churn in other key orders leaves freed storage only other sizes of node
    // can take; what the index holds stays within 1.25 times the budget.
    for (let round = 0; round < 4; round++) {
      const keys = (await Array.fromAsync(db.keys())).map((k) => new TextDecoder().decode(k));
      for (let i = 0; i < keys.length; i++) if (i % 40 !== 0) await db.delete(keys[i]);
      for (let i = 0;; i++) {
        const k = `c${round}:${String((i * 7919) % 100_000).padStart(6, "0")}:${i}`;
        try {
          await db.set(k, "v");
        } catch (e) {
          assert.ok(e instanceof IndexFullError, String(e));
          // The refusal names the bound that refused it.
          const heldBound = db.stats().index.bytes >= 1.25 * 256 * 1024;
          assert.match(e.message, heldBound ? /uses \d+ bytes|over 1.25 times/ : /uses \d+ bytes/);
          break;
        }
      }
      const held = db.stats().index.bytes;
      assert.ok(held <= 1.3 * 256 * 1024, `round ${round}: ${held} bytes held`);
    }
  }));

Deno.test("a deleteRange or watch whose bound is undefined is refused and deletes nothing", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      for (let i = 0; i < 10; i++) await db.set(`user:${i}`, "v");
      const seq = db.sequence;
      const prefix: string | undefined = undefined;
      for (
        const range of [
          { prefix },
          { start: undefined, end: undefined },
          { start: "user:5", end: undefined },
          { start: undefined, end: "user:5" },
          { prefix: "user:", start: "user:2", end: "user:4" },
        ]
      ) {
        await assert.rejects(
          db.deleteRange(range as never),
          InvalidArgumentError,
          JSON.stringify(range),
        );
        assert.throws(() => db.watch(range as never), InvalidArgumentError, JSON.stringify(range));
      }
      assert.equal(db.sequence, seq, "nothing committed");
    }
    await using db = await open(dir);
    assert.equal(await db.count(), 10, "all ten keys after a reopen");
  }));

Deno.test("maxIndexBytes: a refusal by what the index holds says so, not that it uses the budget", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never", maxIndexBytes: 20_000 });
    for (let n = 0;; n++) {
      try {
        await db.set(`key${n}`, "v");
      } catch (e) {
        assert.ok(e instanceof IndexFullError, String(e));
        assert.match(e.message, /^the index (uses|holds) \d+ bytes/);
        break;
      }
    }
    // A delete frees less than the storage the nodes keep past the budget (the
    // old message said the index used 17404 of its 20000 bytes here).
    assert.equal(await db.delete("key1"), true);
    const err = await db.set("new1", "v").catch((e) => e);
    assert.ok(err instanceof IndexFullError, String(err));
    assert.match(
      err.message,
      /^the index holds \d+ bytes \(freed storage kept for new nodes included\), over 1.25 times its 20000-byte budget; new keys are refused/,
    );
  }));
