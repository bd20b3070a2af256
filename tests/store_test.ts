import assert from "node:assert/strict";
import {
  type Cask,
  CaskError,
  ClosedError,
  CorruptionError,
  InvalidArgumentError,
  IOError,
  LockedError,
  open,
  verify,
} from "../mod.ts";
import { openQuiet, prng, randomBytes, text, withDir } from "./helpers.ts";

Deno.test("set, get, has, delete round trip", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    assert.equal(await db.get("missing"), undefined);
    await db.set("a", "1");
    await db.set("b", new Uint8Array([1, 2, 3]));
    assert.equal(text(await db.get("a")), "1");
    assert.equal(await db.getString("a"), "1");
    assert.deepEqual(await db.get("b"), new Uint8Array([1, 2, 3]));
    assert.equal(await db.has("a"), true);
    assert.equal(await db.has("zz"), false);
    await db.set("a", "2");
    assert.equal(await db.getString("a"), "2");
    assert.equal(db.size, 2);
    assert.equal(await db.delete("a"), true);
    assert.equal(await db.delete("a"), false);
    assert.equal(await db.get("a"), undefined);
    assert.equal(await db.has("a"), false);
    assert.equal(db.size, 1);
    await db.set("empty", "");
    assert.deepEqual(await db.get("empty"), new Uint8Array(0));
  }));

Deno.test("string and byte keys are the same key (UTF-8)", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("ключ-🔑", "v");
    assert.equal(await db.getString(new TextEncoder().encode("ключ-🔑")), "v");
    await db.set(new TextEncoder().encode("plain"), "w");
    assert.equal(await db.getString("plain"), "w");
  }));

Deno.test("binary keys and values: every byte value survives a restart", () =>
  withDir(async (dir) => {
    const all = new Uint8Array(256).map((_, i) => i);
    {
      await using db = await open(dir);
      for (let i = 0; i < 256; i++) await db.set(new Uint8Array([i]), all.subarray(i));
      await db.set(all, all);
    }
    await using db = await open(dir);
    assert.equal(db.size, 257);
    for (let i = 0; i < 256; i++) {
      assert.deepEqual(await db.get(new Uint8Array([i])), all.subarray(i), `key ${i}`);
    }
    assert.deepEqual(await db.get(all), all);
  }));

for (const sync of ["always", "never", { intervalMs: 20 }] as const) {
  Deno.test(`data survives close and reopen (sync ${JSON.stringify(sync)})`, () =>
    withDir(async (dir) => {
      {
        await using db = await open(dir, { sync });
        for (let i = 0; i < 500; i++) await db.set(`k${i}`, `v${i}`);
        for (let i = 0; i < 500; i += 3) await db.delete(`k${i}`);
        await db.set("k1", "changed");
      }
      await using db = await open(dir, { sync });
      for (let i = 0; i < 500; i++) {
        const want = i === 1 ? "changed" : i % 3 === 0 ? undefined : `v${i}`;
        assert.equal(await db.getString(`k${i}`), want, `k${i}`);
      }
    }));
}

Deno.test("files rotate at maxFileSize and every key stays readable", () =>
  withDir(async (dir) => {
    const value = "x".repeat(300);
    {
      await using db = await open(dir, { maxFileSize: 4096, sync: "never" });
      for (let i = 0; i < 200; i++) await db.set(`key-${i}`, value + i);
      assert.ok(db.stats().files.length > 10, "expected many files");
      for (const f of db.stats().files) assert.ok(f.size <= 4096, `file ${f.id} is ${f.size}`);
    }
    await using db = await open(dir, { maxFileSize: 4096 });
    for (let i = 0; i < 200; i++) assert.equal(await db.getString(`key-${i}`), value + i);
  }));

Deno.test("large values (8 MiB) set, get and survive a restart", () =>
  withDir(async (dir) => {
    const big = randomBytes(prng(7), 8 << 20);
    {
      await using db = await open(dir);
      await db.set("big", big);
      await db.set("small", "after");
      assert.deepEqual(await db.get("big"), big);
    }
    await using db = await open(dir);
    assert.deepEqual(await db.get("big"), big);
    assert.equal(await db.getString("small"), "after");
  }));

// A view whose buffer was transferred, and one a resizable buffer shrank below.
function detached(): Uint8Array {
  const u = new Uint8Array([1, 2, 3]);
  structuredClone(u.buffer, { transfer: [u.buffer] });
  return u;
}

function shrunk(): Uint8Array {
  const rab = new ArrayBuffer(8, { maxByteLength: 16 });
  const u = new Uint8Array(rab, 4, 4);
  rab.resize(2);
  return u;
}

Deno.test("bad input is rejected with InvalidArgumentError and writes nothing", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir, { maxKeySize: 8, maxValueSize: 16 });
      await db.set("ok", "fine");
      const bad: Array<[string, () => Promise<unknown>]> = [
        ["empty key", () => db.set("", "v")],
        ["empty byte key", () => db.set(new Uint8Array(0), "v")],
        ["key too long", () => db.set("123456789", "v")],
        ["value too long", () => db.set("k", "x".repeat(17))],
        ["number key", () => db.set(42 as unknown as string, "v")],
        ["null value", () => db.set("k", null as unknown as string)],
        ["object value", () => db.set("k", {} as unknown as string)],
        ["negative ttl", () => db.set("k", "v", { ttl: -1 })],
        ["NaN ttl", () => db.set("k", "v", { ttl: NaN })],
        ["ttl and expireAt", () => db.set("k", "v", { ttl: 5, expireAt: 5 })],
        ["get number", () => db.get(1 as unknown as string)],
        ["delete undefined", () => db.delete(undefined as unknown as string)],
        ["has object", () => db.has({} as unknown as string)],
        ["batch with a bad op", () =>
          db.atomic([
            { type: "set", key: "b1", value: "v" },
            { type: "set", key: "", value: "v" },
          ])],
        [
          "batch bad type",
          () => db.atomic([{ type: "nope" } as unknown as { type: "delete"; key: string }]),
        ],
        ["atomic not array", () => db.atomic("x" as unknown as [])],
        ["scan bad limit", () => db.keys({ limit: -1 }).next()],
        // No UTF-8 form: encoded, each would be U+FFFD, one key with "a\uFFFD".
        ["key with a lone surrogate", () => db.set("a\uD800", "v")],
        ["value with a lone surrogate", () => db.set("k", "x\uDC00")],
        ["get of a key with a lone surrogate", () => db.get("a\uDC00")],
        ["delete of a key with a lone surrogate", () => db.delete("a\uD800")],
        ["scan prefix with a lone surrogate", () => db.keys({ prefix: "\uD800" }).next()],
        ["batch with a lone surrogate", () =>
          db.atomic([
            { type: "set", key: "b1", value: "v" },
            { type: "set", key: "b2\uDBFF", value: "v" },
          ])],
        ["detached value", () => db.set("k", detached())],
        ["shrunk value", () => db.set("k", shrunk())],
        ["detached key", () => db.set(detached(), "v")],
        ["batch with a detached value", () =>
          db.atomic([
            { type: "set", key: "b1", value: "v" },
            { type: "set", key: "b2", value: detached() },
          ])],
        ["stream of a detached chunk", () =>
          db.setStream(
            "k",
            new ReadableStream({
              start(c) {
                c.enqueue(detached());
                c.close();
              },
            }),
          )],
      ];
      for (const [name, call] of bad) {
        await assert.rejects(call, InvalidArgumentError, name);
      }
      assert.equal(await db.get("b1"), undefined, "no part of a rejected batch was applied");
      assert.equal(db.size, 1);
      await db.set("after", "still works");
      // A surrogate pair is well formed: its UTF-8 is four bytes.
      await db.set("\u{1F600}", "\u{1F600}");
      assert.equal(await db.getString("\u{1F600}"), "\u{1F600}");
      assert.equal(await db.delete("\u{1F600}"), true);
    }
    const { db, warnings } = await openQuiet(dir);
    assert.deepEqual(warnings, []);
    assert.equal(db.size, 2);
    assert.equal(await db.getString("ok"), "fine");
    assert.equal(await db.getString("after"), "still works");
    await db.close();
  }));

Deno.test("bad options are rejected with InvalidArgumentError", () =>
  withDir(async (dir) => {
    for (
      const o of [
        { sync: "sometimes" },
        { sync: { intervalMs: 0 } },
        { maxFileSize: 10 },
        { maxKeySize: 0 },
        { maxValueSize: -1 },
        { strict: "yes" },
      ]
    ) {
      await assert.rejects(() => open(dir, o as never), InvalidArgumentError, JSON.stringify(o));
    }
    // A failed open leaves the directory unlocked.
    await (await open(dir)).close();
  }));

Deno.test("use after close is rejected with ClosedError; close is idempotent", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    await db.set("k", "v");
    await db.close();
    await db.close();
    await assert.rejects(() => db.get("k"), ClosedError);
    await assert.rejects(() => db.set("k", "v"), ClosedError);
    await assert.rejects(() => db.delete("k"), ClosedError);
    await assert.rejects(() => db.has("k"), ClosedError);
    await assert.rejects(() => db.keys().next(), ClosedError);
    await assert.rejects(() => db.sync(), ClosedError);
    assert.throws(() => db.stats(), ClosedError);
    assert.throws(() => db.size, ClosedError);
    const again = await open(dir);
    assert.equal(await again.getString("k"), "v");
    await again.close();
  }));

Deno.test("writes issued before close() all land", () =>
  withDir(async (dir) => {
    const db = await open(dir, { sync: "always" });
    const writes = Array.from({ length: 100 }, (_, i) => db.set(`k${i}`, `v${i}`));
    await db.close();
    await Promise.all(writes);
    await using again = await open(dir);
    assert.equal(again.size, 100);
  }));

Deno.test("a second open of the same directory in this process gets LockedError", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    const err = await open(dir).catch((e) => e);
    assert.ok(err instanceof LockedError);
    assert.ok(err instanceof CaskError);
    assert.equal(err.code, "LOCKED");
    await db.close();
    await (await open(dir)).close();
  }));

Deno.test("the lock holds across processes", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { open } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
         try { await open(${JSON.stringify(dir)}); console.log("opened"); }
         catch (e) { console.log(e.code); }`,
      ],
      stdout: "piped",
      stderr: "inherit",
    });
    const out = await child.output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "LOCKED");
    await db.close();
    const again = await child.output();
    assert.equal(new TextDecoder().decode(again.stdout).trim(), "opened");
  }));

Deno.test("many concurrent writers and readers see consistent values", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "always" });
    const rand = prng(3);
    // Each writer owns its keys, so what it last wrote to each (or deleted) is
    // what the store must hold at the end: a lost or reordered write fails.
    const expected = new Map<string, string | undefined>();
    const writers = Array.from({ length: 32 }, async (_, w) => {
      for (let i = 0; i < 30; i++) {
        const key = `w${w}:k${i % 7}`;
        await db.set(key, `w${w}:v${i}`);
        expected.set(key, `w${w}:v${i}`);
        if (rand() < 0.2) {
          const gone = `w${w}:k${(i + 3) % 7}`;
          await db.delete(gone);
          expected.set(gone, undefined);
        }
      }
    });
    const readers = Array.from({ length: 16 }, async () => {
      for (let i = 0; i < 200; i++) {
        const w = (rand() * 32) | 0;
        const v = await db.getString(`w${w}:k${(rand() * 7) | 0}`);
        if (v !== undefined) assert.match(v, new RegExp(`^w${w}:v\\d+$`));
      }
    });
    const batches = Array.from({ length: 8 }, (_, b) =>
      db.atomic([
        { type: "set", key: `batch${b}:x`, value: `${b}` },
        { type: "set", key: `batch${b}:y`, value: `${b}` },
      ]));
    await Promise.all([...writers, ...readers, ...batches]);
    const check = async (store: Cask, when: string) => {
      assert.equal(expected.size, 32 * 7);
      for (const [key, value] of expected) {
        assert.equal(await store.getString(key), value, `${key} ${when}`);
      }
      for (let b = 0; b < 8; b++) {
        assert.equal(await store.getString(`batch${b}:x`), `${b}`, when);
        assert.equal(await store.getString(`batch${b}:y`), `${b}`, when);
      }
      const live = [...expected.values()].filter((v) => v !== undefined).length;
      assert.equal(store.size, live + 16, `key count ${when}`);
    };
    await check(db, "before close");
    await db.close(); // idempotent: the `await using` close later is a no-op
    await using again = await open(dir);
    await check(again, "after reopen");
  }));

Deno.test("unawaited writes to one key apply in call order", () =>
  withDir(async (dir) => {
    for (const sync of ["always", "never"] as const) {
      await using db = await open(`${dir}/${sync}`, { sync });
      const ps = [];
      for (let i = 0; i < 50; i++) ps.push(db.set("k", `${i}`));
      ps.push(db.delete("k"));
      ps.push(db.set("k", "last"));
      await Promise.all(ps);
      assert.equal(await db.getString("k"), "last");
    }
  }));

Deno.test("atomic batches and batch() builder", () =>
  withDir(async (dir) => {
    {
      await using db = await open(dir);
      await db.set("gone", "x");
      await db.atomic([
        { type: "set", key: "a", value: "1" },
        { type: "set", key: "b", value: "2", ttl: 60_000 },
        { type: "delete", key: "gone" },
        { type: "set", key: "a", value: "3" },
      ]);
      assert.equal(await db.getString("a"), "3");
      assert.equal(await db.has("gone"), false);
      const b = db.batch().set("c", "4").delete("b");
      assert.equal(b.length, 2);
      await b.commit();
      await db.atomic([]);
    }
    await using db = await open(dir);
    assert.equal(await db.getString("a"), "3");
    assert.equal(await db.has("b"), false);
    assert.equal(await db.getString("c"), "4");
    assert.equal(await db.has("gone"), false);
  }));

Deno.test("read-your-writes under sync never, before the buffer is flushed", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    for (let i = 0; i < 1000; i++) {
      await db.set(`k${i}`, `v${i}`);
      assert.equal(await db.getString(`k${i}`), `v${i}`);
    }
    const keys = [];
    for await (const k of db.keys({ prefix: "k99" })) keys.push(text(k));
    assert.deepEqual(keys, [
      "k99",
      "k990",
      "k991",
      "k992",
      "k993",
      "k994",
      "k995",
      "k996",
      "k997",
      "k998",
      "k999",
    ]);
  }));

Deno.test("file-system failures on open are typed IOErrors", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/not-a-dir`, "x");
    const err = await open(`${dir}/not-a-dir`).catch((e) => e);
    assert.ok(err instanceof IOError, String(err));
    assert.equal(err.code, "IO");
    // Say, a Deno KV SQLite file kept in a switch to openKv: named as such, left as it was.
    assert.match(err.message, /not-a-dir: it is a file, not a store directory/);
    assert.equal(await Deno.readTextFile(`${dir}/not-a-dir`), "x");
    const v = await verify(`${dir}/missing`).catch((e) => e);
    assert.ok(v instanceof IOError, String(v));
  }));

Deno.test("values read back are independent: changing one changes no other value and nothing stored", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    for (let i = 0; i < 50; i++) await db.set(`k${i}`, `value-${i}`);
    const values = await Promise.all(Array.from({ length: 50 }, (_, i) => db.get(`k${i}`)));
    for (const v of values) v!.fill(0x21);
    for (let i = 0; i < 50; i++) {
      assert.equal(await db.getString(`k${i}`), `value-${i}`);
      assert.equal(values[i]!.every((b) => b === 0x21), true);
      assert.equal(values[i]!.length, `value-${i}`.length);
    }
    const big = new Uint8Array(64 * 1024).fill(7);
    await db.set("big", big);
    const got = (await db.get("big"))!;
    assert.equal(got.buffer.byteLength, got.length, "a large value has a buffer of its own");
  }));

Deno.test("keys and values a scan yields are independent of each other and of the store", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    for (let i = 0; i < 50; i++) await db.set(`k${i}`, `value-${i}`);
    const seen: [Uint8Array, Uint8Array][] = [];
    for await (const kv of db.scan()) seen.push(kv);
    const keys: Uint8Array[] = [];
    for await (const k of db.keys()) keys.push(k);
    for (const [k, v] of seen) {
      k.fill(0x21);
      v.fill(0x22);
    }
    const expected = Array.from({ length: 50 }, (_, i) => `k${i}`).sort();
    assert.deepEqual(keys.map((k) => new TextDecoder().decode(k)), expected);
    for (const [k, v] of seen) {
      assert.equal(k.every((b) => b === 0x21), true);
      assert.equal(v.every((b) => b === 0x22), true);
    }
    const again: string[] = [];
    for await (const [k, v] of db.scan()) {
      const key = new TextDecoder().decode(k);
      again.push(key);
      assert.equal(new TextDecoder().decode(v), `value-${key.slice(1)}`);
    }
    assert.deepEqual(again, expected);
  }));

Deno.test("absent keys that share their leading bytes with stored ones read as absent", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    // Each absent key shares its leading bytes (what the index searches by
    // first) with a stored one; "wxyz" with "wxyz1" alone.
    const stored = ["abcde", "abcdf", "abcd\x00", "abce", "user:1000", "user:10000", "user:1000x"];
    stored.push("wxyz1");
    for (const k of stored) await db.set(k, `v-${k}`);
    for (const k of stored) assert.equal(await db.getString(k), `v-${k}`);
    for (
      const k of ["abcd", "abc", "abcdg", "user:100", "user:1000y", "user:10", "wxyz", "wxyz2"]
    ) {
      assert.equal(await db.get(k), undefined, JSON.stringify(k));
    }
  }));

Deno.test("a data file cut short under an open store: its keys' gets throw, absent neighbours' do not", () =>
  withDir(async (dir) => {
    // Gets read the record an index probe lands on before comparing keys: an
    // absent key that shares all but its last byte with a stored one lands on
    // that key's record, which here lies past the end of its file.
    const stored = (i: number) => `key-${i}-padding-a`,
      absent = (i: number) => `key-${i}-padding-b`;
    const opts = { maxFileSize: 2048, sync: "never" as const };
    {
      await using db = await open(dir, opts);
      for (let i = 0; i < 200; i++) await db.set(stored(i), `value ${i}`);
    }
    await using db = await open(dir, opts);
    const path = `${dir}/data.0`;
    const at = new TextDecoder("latin1").decode(Deno.readFileSync(path)).indexOf(stored(3));
    assert.ok(at > 0);
    Deno.truncateSync(path, at);
    for (let round = 0; round < 2; round++) {
      assert.equal(await db.get(absent(3)), undefined);
      await assert.rejects(db.get(stored(3)), CorruptionError);
      assert.throws(() => db.getSync(stored(3)), CorruptionError);
      assert.equal(await db.getString(stored(2)), "value 2");
      assert.equal(await db.getString(stored(199)), "value 199");
      // Many absent keys landing on other keys' records turn reading first off.
      for (let i = 100; i < 200; i++) assert.equal(await db.get(absent(i)), undefined);
    }
  }));

Deno.test("getSync gives what get gives: values, absent and expired keys, writes not yet flushed, errors thrown", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    const db = await open(dir, { sync: "never", maxFileSize: 4096, clock: () => now });
    const rnd = prng(7);
    const model = new Map<string, Uint8Array>();
    for (let i = 0; i < 500; i++) {
      const k = `k${Math.floor(rnd() * 200)}`;
      if (rnd() < 0.2) {
        await db.delete(k);
        model.delete(k);
      } else {
        const v = randomBytes(rnd, Math.floor(rnd() * 300));
        // Unawaited: the read below must see it before the append buffer is flushed.
        db.set(k, v);
        model.set(k, v);
      }
      assert.deepEqual(db.getSync(k), model.get(k));
    }
    for (let i = 0; i < 200; i++) {
      assert.deepEqual(db.getSync(`k${i}`), await db.get(`k${i}`));
      assert.deepEqual(db.getSync(new TextEncoder().encode(`k${i}`)), model.get(`k${i}`));
    }
    await db.set("short", "lived", { ttl: 10 });
    assert.equal(text(db.getSync("short")), "lived");
    now += 11;
    assert.equal(db.getSync("short"), undefined);
    assert.throws(() => db.getSync(42 as unknown as string), InvalidArgumentError);
    await db.close();
    assert.throws(() => db.getSync("k1"), ClosedError);
  }));

Deno.test("entries() is scan(); a closed store refuses even empty commits; compact() checks its options", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    await db.set("a", "1");
    await db.set("b", "2");
    const pairs: string[] = [];
    for await (const [k, v] of db.entries({ start: "b" })) pairs.push(`${text(k)}=${text(v)}`);
    assert.deepEqual(pairs, ["b=2"]);
    await assert.rejects(db.compact({ onProgress: 5 } as never), InvalidArgumentError);
    await assert.rejects(db.compact({ onProgres: () => {} } as never), InvalidArgumentError);
    await db.close();
    await assert.rejects(db.atomic([]), ClosedError);
    await assert.rejects(db.batch().commit(), ClosedError);
  }));

Deno.test("a store opened by a relative path stays where it was opened when the process changes directory", () =>
  withDir(async (dir) => {
    for (const mode of ["always", "never", "interval"]) {
      const from = `${dir}/${mode}-a`, to = `${dir}/${mode}-b`;
      await Deno.mkdir(from);
      await Deno.mkdir(`${to}/data`, { recursive: true });
      const child = new URL("./children/chdir_writer.ts", import.meta.url).pathname;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", child, from, to, mode],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, `${mode}: ${err}`);
      const { size } = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(size, 25, mode);
      assert.deepEqual([...Deno.readDirSync(`${to}/data`)], [], `${mode}: files written elsewhere`);
    }
  }));

Deno.test("a loop of awaited reads lets a durable write called before it finish", () =>
  withDir(async (dir) => {
    for (const inlineFsync of [false, true]) {
      await using db = await open(`${dir}/${inlineFsync}`, { inlineFsync });
      const writing = db.set("ready", "yes");
      // Reads settle in microtasks; the fsync the write waits for needs the
      // event loop. A bound ends the test (failed) if the loop never lets it
      // run: in time, not in reads, which on a loaded machine outran a slow
      // fsync (2,000,000 of them in under half a second).
      const bound = () => {
        const end = performance.now() + 20_000;
        return () => performance.now() < end;
      };
      for (const more = bound(); !(await db.has("ready")) && more(););
      assert.ok(await db.has("ready"), `inlineFsync ${inlineFsync}: never saw the write`);
      await writing;
      // The same through get(), and through scans (each step a read).
      const later = db.set("later", "1");
      for (const more = bound(); (await db.get("later")) === undefined && more(););
      assert.ok(await db.get("later"), `inlineFsync ${inlineFsync}: get never saw the write`);
      await later;
      let done = false;
      const last = db.set("last", "1").then(() => done = true);
      for (const more = bound(); !done && more();) {
        for await (const _ of db.keys({ prefix: "none" }));
      }
      assert.ok(
        done,
        `inlineFsync ${inlineFsync}: a loop of empty scans never let the write finish`,
      );
      await last;
    }
  }));
