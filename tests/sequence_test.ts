import assert from "node:assert/strict";
import {
  type Cask,
  HistoryGoneError,
  InvalidArgumentError,
  open,
  type SyncMode,
  WatchOverflowError,
} from "../mod.ts";
import { stillRunning, text, withDir } from "./helpers.ts";

const te = new TextEncoder();

Deno.test("every commit takes the next sequence number; numbers survive restart and compaction", () =>
  withDir(async (dir) => {
    let last: number;
    {
      await using db = await open(dir, { maxFileSize: 4096 });
      assert.equal(db.sequence, 0);
      await db.set("a", "1");
      assert.equal(db.sequence, 1);
      assert.equal(await db.delete("missing"), false);
      assert.equal(db.sequence, 1, "a delete of nothing writes nothing");
      const r = await db.atomic([{ type: "set", key: "b", value: "2" }, {
        type: "delete",
        key: "a",
      }]);
      assert.deepEqual(r, { ok: true, sequence: 2 });
      for (let i = 0; i < 200; i++) await db.set(`k${i}`, "x".repeat(50));
      assert.equal(db.sequence, 202);
      assert.equal((await db.getEntry("k7"))?.sequence, 10);
      await db.compact();
      assert.equal(db.sequence, 202);
      assert.equal((await db.getEntry("k7"))?.sequence, 10, "compaction keeps a record's number");
      last = db.sequence;
    }
    await using db = await open(dir);
    assert.equal(db.sequence, last);
    await db.set("c", "3");
    assert.equal(db.sequence, last + 1);
    assert.equal((await db.getEntry("b"))?.sequence, 2);
  }));

for (const sync of ["always", "never"] as SyncMode[]) {
  Deno.test(`checked atomics (sync ${sync}): one of two racing compare-and-sets wins`, () =>
    withDir(async (dir) => {
      await using db = await open(dir, { sync });
      const absent = await db.atomic([{ type: "set", key: "n", value: "0" }], {
        checks: [{ key: "n", sequence: null }],
      });
      assert.equal(absent.ok, true);
      const again = await db.atomic([{ type: "set", key: "n", value: "x" }], {
        checks: [{ key: "n", sequence: null }],
      });
      assert.deepEqual(again, { ok: false });
      assert.equal(text(await db.get("n")), "0", "a failed check writes nothing");
      // Increment 100 times from 20 concurrent clients, each retrying on conflict.
      const client = async () => {
        for (let done = 0; done < 5;) {
          const e = (await db.getEntry("n"))!;
          const next = String(Number(text(e.value)) + 1);
          const r = await db.atomic([{ type: "set", key: "n", value: next }], {
            checks: [{ key: "n", sequence: e.sequence }],
          });
          if (r.ok) done++;
        }
      };
      await Promise.all(Array.from({ length: 20 }, client));
      assert.equal(text(await db.get("n")), "100", "no increment is lost");
      const e = (await db.getEntry("n"))!;
      assert.deepEqual(await db.atomic([], { checks: [{ key: "n", sequence: e.sequence }] }), {
        ok: true,
        sequence: db.sequence,
      });
      await assert.rejects(
        db.atomic([], { checks: [{ key: "n", sequence: -1 }] }),
        InvalidArgumentError,
      );
      await assert.rejects(
        db.atomic([], { checks: [{ key: "n", seq: 1 } as never] }),
        InvalidArgumentError,
      );
    }));
}

Deno.test("scanEntries yields values with their sequence numbers and expiry", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("p:a", "1");
    await db.set("p:b", "2", { expireAt: 4_000_000_000_000 });
    await db.set("q", "3");
    const got = [];
    for await (const e of db.scanEntries({ prefix: "p:" })) {
      got.push([text(e.key), text(e.value), e.sequence, e.expireAt]);
    }
    assert.deepEqual(got, [["p:a", "1", 1, 0], ["p:b", "2", 2, 4_000_000_000_000]]);
  }));

Deno.test("watch: changes of matching keys in commit order, batches whole, expiry noticed", () =>
  withDir(async (dir) => {
    let now = 1_000;
    await using db = await open(dir, { clock: () => now });
    const byPrefix = db.watch({ prefix: "u:" });
    const byKeys = db.watch({ keys: ["solo"] });
    const byRange = db.watch({ start: "m", end: "n" });
    await db.set("u:1", "a");
    await db.set("other", "x");
    await db.atomic([{ type: "set", key: "u:2", value: "b" }, { type: "delete", key: "u:1" }]);
    await db.set("solo", "s", { ttl: 10 });
    await db.set("mango", "m");
    now += 100;
    assert.equal(await db.get("solo"), undefined);
    const take = async (
      it: AsyncIterableIterator<{ key: Uint8Array; value?: Uint8Array; sequence: number }>,
      n: number,
    ) => {
      const out = [];
      for (let i = 0; i < n; i++) {
        const { value: c } = await it.next();
        out.push([text(c!.key), text(c!.value), c!.sequence]);
      }
      return out;
    };
    assert.deepEqual(await take(byPrefix, 3), [["u:1", "a", 1], ["u:2", "b", 3], [
      "u:1",
      undefined,
      3,
    ]]);
    assert.deepEqual(await take(byKeys, 2), [["solo", "s", 4], ["solo", undefined, 5]]);
    assert.deepEqual(await take(byRange, 1), [["mango", "m", 5]]);
    await byKeys.return!();
    await db.close();
    assert.deepEqual(await byPrefix.next(), { value: undefined, done: true }, "close ends a watch");
  }));

Deno.test("watch: a consumer that falls too far behind ends with WatchOverflowError", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    const feed = db.watch({ prefix: "k" });
    await db.set("k0", "first");
    assert.equal(text((await feed.next()).value!.value), "first");
    for (let i = 0; i < 10_001; i++) db.set(`k${i}`, te.encode("v"));
    await db.sync();
    const e = await feed.next().catch((e) => e);
    assert.ok(e instanceof WatchOverflowError, `got ${e}`);
    assert.equal(e.resumeFrom, 1, "resume after the last change delivered");
  }));

Deno.test("watch: one commit of more than 10,000 changes ends a feed whose consumer is waiting", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    for (const [size, overflows] of [[10_000, false], [10_001, true]] as const) {
      const feed = db.watch({ prefix: `b${size}:` });
      const waiting = feed.next();
      const from = db.sequence;
      await db.atomic(
        Array.from(
          { length: size },
          (_, i) => ({ type: "set" as const, key: `b${size}:${i}`, value: "x" }),
        ),
      );
      let got = 0;
      let error: unknown;
      try {
        for (let r = await waiting; !r.done; r = await feed.next()) if (++got === size) break;
      } catch (e) {
        error = e;
      }
      if (overflows) {
        assert.ok(error instanceof WatchOverflowError, `${size}: got ${error}, ${got} changes`);
        assert.equal(error.resumeFrom, from, "the batch comes again whole after the resume");
      } else {
        assert.equal(error, undefined);
        assert.equal(got, size);
      }
      await feed.return?.();
    }
  }));

Deno.test("watch({ since }) replays the log across a restart, then goes on live, with no gap or repeat", () =>
  withDir(async (dir) => {
    let mark: number;
    {
      await using db = await open(dir, { maxFileSize: 2048 });
      await db.set("w:a", "1");
      mark = db.sequence;
      for (let i = 0; i < 40; i++) await db.set(`w:k${i}`, `v${i}`);
      await db.atomic([{ type: "set", key: "w:b", value: "2" }, { type: "delete", key: "w:a" }]);
      await db.set("other", "x");
      await db.deleteRange({ start: "w:k", end: "w:k2" });
    }
    await using db = await open(dir);
    const feed = db.watch({ prefix: "w:", since: mark });
    await db.set("w:live", "L");
    const got: (string | undefined)[][] = [];
    for (;;) {
      const c = (await feed.next()).value!;
      got.push([text(c.key), text(c.value), String(c.sequence), c.range ? text(c.range.end) : ""]);
      if (text(c.key) === "w:live") break;
    }
    const want = [
      ...Array.from({ length: 40 }, (_, i) => [`w:k${i}`, `v${i}`, String(mark + 1 + i), ""]),
      ["w:b", "2", String(mark + 41), ""],
      ["w:a", undefined, String(mark + 41), ""],
      ["w:k", undefined, String(mark + 43), "w:k2"],
      ["w:live", "L", String(mark + 44), ""],
    ];
    assert.deepEqual(got, want);
  }));

Deno.test("watch({ since }) before a compaction's merge is refused with HistoryGoneError", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    await db.set("a", "1");
    await db.set("a", "2");
    await db.compact();
    await db.set("a", "3");
    const e = await db.watch({ keys: ["a"], since: 0 }).next().catch((e) => e);
    assert.ok(e instanceof HistoryGoneError, `got ${e}`);
    assert.equal(e.oldest, 2);
    const feed = db.watch({ keys: ["a"], since: 2 });
    assert.equal(text((await feed.next()).value!.value), "3");
    assert.throws(() => db.watch({ keys: ["a"], since: -1 }), InvalidArgumentError);
  }));

Deno.test("watch({ since }) past the store's sequence is refused: the commits in between would be hidden", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    await db.set("a", "0");
    assert.throws(() => db.watch({ keys: ["a"], since: db.sequence + 3 }), InvalidArgumentError);
    const feed = db.watch({ keys: ["a"], since: db.sequence });
    await db.set("a", "1");
    assert.equal((await feed.next()).value!.sequence, 2);
    await feed.return!();
  }));

Deno.test("watch({ since }) whose replay a compaction cuts short ends with HistoryGoneError", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never", maxFileSize: 4096 });
    for (let i = 0; i < 2000; i++) await db.set(`k${i % 50}`, `v${i}`.padEnd(40, "."));
    const feed = db.watch({ prefix: "k", since: 0 });
    const seen: number[] = [];
    let error: unknown;
    try {
      for await (const c of feed) {
        seen.push(c.sequence);
        if (seen.length === 10) await db.compact();
      }
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof HistoryGoneError, `got ${error}`);
    assert.ok(error.oldest > seen[seen.length - 1], `${error.oldest} after ${seen.at(-1)}`);
    // It names where the consumer was left, not where the replay began.
    assert.match(error.message, new RegExp(`changes after sequence ${seen.at(-1)};`));
  }));

Deno.test("watch({ since }) started as a compaction finishes is refused or replays from since + 1, never with a gap", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never", maxFileSize: 2048 });
    // Writes and compactions in a loop; feeds start from a recent number
    // meanwhile, some while a compaction installs its outputs and drops the
    // files it merged, which a feed's start waits out in a sync.
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        await Promise.all(
          Array.from({ length: 10 }, (_, j) => db.set(`k${(i * 10 + j) % 50}`, `${i}`)),
        );
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    const compactor = (async () => {
      while (!stop) {
        await db.compact();
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const gaps: string[] = [];
    let refused = 0;
    try {
      for (let t = 0; t < 150; t++) {
        await new Promise((r) => setTimeout(r, 5 + (t % 7)));
        const since = Math.max(0, db.sequence - 30 - (t % 11) * 7);
        try {
          for await (const c of db.watch({ prefix: "", since })) {
            if (c.sequence !== since + 1) gaps.push(`since ${since}: first ${c.sequence}`);
            break;
          }
        } catch (e) {
          if (!(e instanceof HistoryGoneError)) throw e;
          refused++;
        }
      }
    } finally {
      stop = true;
      await writer;
      await compactor;
    }
    assert.deepEqual(gaps, [], `${refused} refused`);
  }));

Deno.test("delete() of a key that expired unnoticed takes no sequence number", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    await using db = await open(dir, { clock: () => now });
    await db.set("k", "v", { ttl: 10 });
    const before = db.sequence;
    now += 20;
    assert.equal(await db.delete("k"), false);
    assert.equal(db.sequence, before);
  }));

Deno.test("deleteRange() over no live key takes no number, so a consumer of every change resumes after a compaction", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    await using db = await open(dir, { clock: () => now });
    const feed = db.watch({ prefix: "" });
    await db.set("a", "1");
    await db.set("t", "v", { ttl: 10 });
    now += 20;
    // An empty range, and one holding only a key that has expired.
    assert.equal(await db.deleteRange({ start: "m", end: "n" }), 0);
    assert.equal(await db.deleteRange({ start: "t", end: "u" }), 0);
    assert.equal(db.sequence, 2, "neither range delete took a number");
    // Whether it is live decides: a key a range holds is deleted as before.
    assert.equal(await db.deleteRange({ prefix: "a" }), 1);
    assert.equal(db.sequence, 3);
    let last = 0;
    for await (const c of feed) {
      last = c.sequence;
      if (last === 3) break;
    }
    await db.compact();
    // The consumer handled every change it was given: it resumes from there.
    const resumed = db.watch({ prefix: "", since: last });
    await db.set("b", "2");
    const next = await resumed.next();
    assert.equal(next.done, false);
    assert.equal(next.value!.sequence, 4);
    await resumed.return?.();
  }));

Deno.test('deleteRange() over a key that expires while it waits for its fsync deletes it, as delete() would (sync "always")', () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    await using db = await open(dir, { sync: "always", clock: () => now });
    const feed = db.watch({ prefix: "" });
    await db.set("a", "1");
    await db.set("t", "v", { ttl: 10 });
    const called = db.deleteRange({ start: "t", end: "u" });
    now += 20;
    // Reads that notice the expiry meanwhile leave the key to the range delete.
    assert.equal(await db.get("t"), undefined);
    assert.equal(db.size, 1);
    assert.equal(await called, 1, "live when called: it took its number as a delete that deletes");
    assert.equal(db.size, 1);
    assert.equal(db.sequence, 3);
    let last = 0;
    for await (const c of feed) {
      last = c.sequence;
      if (last === 3) {
        assert.equal(new TextDecoder().decode(c.key), "t");
        assert.equal(c.value, undefined);
        break;
      }
    }
    await db.compact();
    const resumed = db.watch({ prefix: "", since: last });
    await db.set("b", "2");
    assert.equal((await resumed.next()).value!.sequence, 4);
    await resumed.return?.();
  }));

Deno.test('deleteRange() in flight: size stays exact on every read, and an expiry noticed before it is reported (sync "always")', () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    await using db = await open(dir, { sync: "always", clock: () => now });
    await db.set("a:1", "v", { ttl: 10 });
    await db.set("a:2", "v", { ttl: 50 });
    await db.set("b:1", "v");
    now += 20;
    const feed = db.watch({ prefix: "a:" });
    // a:1 expired before the call; a:2 expires while the range delete waits for its fsync.
    const called = db.deleteRange({ prefix: "a:" });
    now += 40;
    assert.equal(await db.get("a:1"), undefined);
    assert.deepEqual([db.size, db.size, db.size], [1, 1, 1]);
    assert.equal(await db.count(), 1);
    assert.equal(db.size, 1);
    assert.equal(await called, 1, "a:2 was live when it was called");
    assert.equal(db.size, 1);
    const seen: string[] = [];
    for await (const c of feed) {
      seen.push(`${new TextDecoder().decode(c.key)}@${c.sequence}`);
      if (seen.length === 2) break;
    }
    // The read reported a:1's expiry; the range delete deleted a:2.
    assert.deepEqual(seen, ["a:1@3", "a:2@4"]);
  }));

Deno.test("delete() of an absent key takes no sequence number while other writes wait for their fsync", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "always" });
    await db.set("y", "1");
    const before = db.sequence;
    const [, deleted] = await Promise.all([db.set("y", "2"), db.delete("nope")]);
    assert.equal(deleted, false);
    assert.equal(db.sequence, before + 1, "only the set took a number");
    // A delete of a key whose set is still waiting for its fsync deletes it.
    const [, deletedPending] = await Promise.all([db.set("z", "1"), db.delete("z")]);
    assert.equal(deletedPending, true);
    assert.equal(await db.has("z"), false);
  }));

Deno.test("watch({ since: db.sequence }) delivers expiries noticed before the next commit", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    await using db = await open(dir, { clock: () => now });
    await db.set("a", "v", { ttl: 100 });
    const feed = db.watch({ prefix: "", since: db.sequence });
    now += 200;
    assert.equal(await db.get("a"), undefined);
    const change = (await feed.next()).value!;
    assert.deepEqual([text(change.key), change.value], ["a", undefined]);
    await feed.return!();
  }));

Deno.test("watch: an overflow in the middle of an atomic batch resumes with the whole batch", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    const feed = db.watch({ prefix: "" });
    const first = feed.next();
    const { sequence } = await db.atomic([
      { type: "set", key: "a", value: "1" },
      { type: "set", key: "b", value: "2" },
      { type: "set", key: "c", value: "3" },
    ]) as { sequence: number };
    assert.equal(text((await first).value!.key), "a");
    for (let i = 0; i < 10_001; i++) db.set(`x${i}`, "v");
    await db.sync();
    const e = await feed.next().catch((e) => e);
    assert.ok(e instanceof WatchOverflowError, `got ${e}`);
    assert.equal(e.resumeFrom, sequence - 1, "the batch was not delivered in full");
    const again = db.watch({ prefix: "", since: e.resumeFrom });
    const keys = [];
    for (let i = 0; i < 4; i++) {
      const c = (await again.next()).value!;
      keys.push(`${text(c.key)}@${c.sequence - sequence}`);
    }
    assert.deepEqual(keys, ["a@0", "b@0", "c@0", "x0@1"]);
    await again.return!();
  }));

Deno.test("watch({ since }): an overflow before the replay delivered anything resumes from since", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    for (let i = 0; i < 100; i++) await db.set(`old${i}`, "v");
    const feed = db.watch({ prefix: "", since: 0 });
    for (let i = 0; i < 10_001; i++) db.set(`new${i}`, "v");
    await db.sync();
    const e = await feed.next().catch((e) => e);
    assert.ok(e instanceof WatchOverflowError, `got ${e}`);
    assert.equal(e.resumeFrom, 0);
  }));

Deno.test("watch({ since }): an overflow names the last replayed commit delivered in full, so nothing repeats", () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "never" });
    for (let i = 1; i <= 20; i++) await db.set(`k${i}`, `v${i}`);
    await db.atomic([{ type: "set", key: "b1", value: "1" }, {
      type: "set",
      key: "b2",
      value: "2",
    }]);
    for (const [reads, resumeFrom] of [[5, 5], [21, 20], [22, 21]]) {
      const feed = db.watch({ prefix: "", since: 0 });
      for (let n = 0; n < reads; n++) await feed.next();
      for (let i = 0; i < 10_001; i++) db.set(`x${i % 10}`, "v");
      await db.sync();
      let e: unknown;
      while (!(e instanceof WatchOverflowError)) e = await feed.next().then(() => 0, (x) => x);
      // After 21 reads the batch (sequence 21) is half delivered: it comes again whole.
      assert.equal(e.resumeFrom, resumeFrom, `after ${reads} replayed changes`);
    }
  }));

Deno.test("watch({ since }): a value streamed into a file of its own replays without its bytes, as live", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    const live = db.watch({ prefix: "s" });
    await db.setStream("s:big", new Blob([new Uint8Array(2 << 20).fill(1)]).stream());
    await db.set("s:small", "0123456789");
    const lengths = async (feed: AsyncIterator<{ value?: Uint8Array }>) => {
      const out = [];
      for (let i = 0; i < 2; i++) out.push((await feed.next()).value!.value!.length);
      return out;
    };
    assert.deepEqual(await lengths(live), [0, 10]);
    assert.deepEqual(await lengths(db.watch({ prefix: "s", since: 0 })), [0, 10]);
  }));

Deno.test("watch: an expiry at the head of the queue at an overflow does not make a whole commit repeat", () =>
  withDir(async (dir) => {
    let now = 1_000_000;
    await using db = await open(dir, { sync: "never", clock: () => now });
    await db.set("e:ttl", "t", { ttl: 1000 });
    const feed = db.watch({ prefix: "e:" });
    await db.set("e:x", "x");
    assert.equal((await feed.next()).value!.sequence, db.sequence);
    const delivered = db.sequence;
    now += 5000;
    await db.get("e:ttl"); // the expiry is noticed: a change carrying `delivered`
    for (let i = 0; i < 10_001; i++) db.set(`e:k${i}`, "v");
    await db.sync();
    let e: unknown;
    while (!(e instanceof WatchOverflowError)) e = await feed.next().then(() => 0, (x) => x);
    assert.equal(e.resumeFrom, delivered);
  }));

Deno.test("watch({ since }): a close() during the replay ends the feed there, never skipping to live changes", () =>
  withDir(async (dir) => {
    const db = await open(dir);
    for (let i = 1; i <= 10; i++) await db.set(`k${i}`, "v");
    const feed = db.watch({ prefix: "k", since: 0 });
    const got = [(await feed.next()).value.sequence];
    await db.set("k11", "v");
    await db.close();
    for await (const c of feed) got.push(c.sequence);
    // What was delivered runs without a gap from since, so a consumer that
    // resumes after the last of it misses nothing.
    assert.deepEqual(got, got.map((_, i) => i + 1));
  }));

Deno.test("watch: next() called again before an earlier one settles is answered in order, replayed or live", () =>
  withDir(async (dir) => {
    await using db = await open(dir);
    for (let i = 1; i <= 6; i++) await db.set(i % 2 ? `a${i}` : `b${i}`, "v");
    // Replayed: the filter passes over b2, b4 and b6 between the answers.
    const replay = db.watch({ prefix: "a", since: 0 });
    const first = await Promise.all([replay.next(), replay.next(), replay.next()]);
    assert.deepEqual(first.map((r) => r.value.sequence), [1, 3, 5]);
    // Live: three calls waiting at once get three changes, in order.
    const live = db.watch({ prefix: "a" });
    const waiting = [live.next(), live.next(), live.next()];
    for (let i = 7; i <= 9; i++) await db.set(`a${i}`, "v");
    assert.deepEqual((await Promise.all(waiting)).map((r) => r.value.sequence), [7, 8, 9]);
    // Calls made while the replay's last ones still wait for live changes
    // come after them.
    const handover = db.watch({ prefix: "c", since: db.sequence });
    await db.set("other", "x");
    const [h1, h2] = [handover.next(), handover.next()];
    await new Promise((r) => setTimeout(r, 50));
    const h3 = handover.next();
    for (const k of ["c1", "c2", "c3"]) await db.set(k, "v");
    assert.deepEqual((await Promise.all([h1, h2, h3])).map((r) => text(r.value.key)), [
      "c1",
      "c2",
      "c3",
    ]);
    await handover.return?.();
    // A close answers every call still waiting.
    const more = [live.next(), live.next()];
    await db.close();
    assert.deepEqual(await Promise.all(more), [
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
    await replay.return?.();
  }));

Deno.test("watch: a live feed gets every write called before close(), then ends", () =>
  withDir(async (dir) => {
    for (const sync of ["always", "never"] as const) {
      const db = await open(`${dir}/${sync}`, { sync });
      const feed = db.watch({ prefix: "" });
      const seen: string[] = [];
      const reading = (async () => {
        for await (const c of feed) seen.push(`${new TextDecoder().decode(c.key)}@${c.sequence}`);
      })();
      await db.set("j", "pre");
      // Not awaited: still in flight (under "always", waiting for its fsync) when close() begins.
      const last = db.set("k", "after");
      await db.close();
      await last;
      await reading;
      assert.deepEqual(seen, ["j@1", "k@2"], sync);
    }
  }));

Deno.test('a change feed gets the bytes written, though the caller reuses its buffer before the write is applied (sync "always")', () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "always" });
    const fed: string[] = [];
    const feed = (async () => {
      for await (const c of db.watch({ keys: ["k"] })) {
        fed.push(new TextDecoder().decode(c.value));
        if (fed.length === 2) break;
      }
    })();
    const buf = new TextEncoder().encode("original");
    const first = db.set("k", buf);
    buf.set(new TextEncoder().encode("MUTATED!"));
    await first;
    const second = db.atomic([{ type: "set", key: "k", value: buf }]);
    buf.set(new TextEncoder().encode("changed2"));
    await second;
    await feed;
    assert.deepEqual(fed, ["original", "MUTATED!"]);
    assert.equal(await db.getString("k"), "MUTATED!");
  }));

Deno.test('a change feed started between a write\'s call and its fsync gets the bytes written (sync "always")', () =>
  withDir(async (dir) => {
    await using db = await open(dir, { sync: "always" });
    const buf = Uint8Array.of(1, 2, 3);
    const written = db.set("b", buf);
    const feed = db.watch({ prefix: "" })[Symbol.asyncIterator]();
    const first = feed.next();
    buf.fill(9);
    await written;
    assert.deepEqual((await first).value?.value, Uint8Array.of(1, 2, 3));
    await feed.return?.();
    assert.deepEqual(await db.get("b"), Uint8Array.of(1, 2, 3));
  }));

// Runs `fn` on a fresh store under each sync mode, named by `mode` in messages.
async function inEachSyncMode(fn: (db: Cask, mode: string) => Promise<void>): Promise<void> {
  for (const sync of ["always", "never", { intervalMs: 5 }] as const) {
    await withDir(async (dir) => {
      const db = await open(dir, { sync });
      try {
        await fn(db, JSON.stringify(sync));
      } finally {
        await db.close();
      }
    });
  }
}

Deno.test("sequence: a delete of a key whose delete is in flight deletes nothing and takes no number", () =>
  inEachSyncMode(async (db, mode) => {
    await db.set("k", "v");
    const before = db.sequence;
    const feed = db.watch({ prefix: "k" });
    assert.deepEqual(await Promise.all([db.delete("k"), db.delete("k")]), [true, false], mode);
    assert.equal(db.sequence, before + 1, mode);
    // A set in flight before the second delete gives it something to delete again.
    const [, again, gone] = await Promise.all([db.delete("k"), db.set("k", "w"), db.delete("k")]);
    assert.equal(again, undefined);
    assert.equal(gone, true, mode);
    assert.equal(db.sequence, before + 3, mode);
    // Acknowledged in call order, the deletes that wrote nothing included.
    await db.set("k", "v");
    const order: string[] = [];
    const t = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
    await Promise.all([
      t("set j", db.set("j", "v")),
      t("del 1", db.delete("k")),
      t("del 2", db.delete("k")),
      t("set k", db.set("k", "x")),
      t("del 3", db.delete("k")),
      t("del 4", db.delete("k")),
    ]);
    assert.deepEqual(order, ["set j", "del 1", "del 2", "set k", "del 3", "del 4"], mode);
    await db.close();
    const changes: number[] = [];
    for await (const c of feed) changes.push(c.sequence);
    const b = before;
    assert.deepEqual(changes, [b + 1, b + 2, b + 3, b + 4, b + 6, b + 7, b + 8], mode);
  }));

Deno.test("sequence: writes in flight decide deletes and absent-key checks by the newest of them", () =>
  inEachSyncMode(async (db, mode) => {
    await db.set("b", "1");
    await db.set("k", "v");
    const before = db.sequence;
    // A delete of a key a range delete in flight removes, a range delete over
    // no key, and a delete of its start key that never existed: nothing
    // written, no number taken.
    const [n, gone, , never] = await Promise.all([
      db.deleteRange({ start: "a", end: "c" }),
      db.delete("b"),
      db.deleteRange({ start: "x", end: "z" }),
      db.delete("x"),
    ]);
    assert.deepEqual([n, gone, never], [1, false, false], mode);
    assert.equal(db.sequence, before + 1, mode);
    // A check that a key is absent holds behind its delete in flight, and
    // behind a range delete in flight over it; not behind a set in flight.
    const absent = (key: string) => [{ key, sequence: null }];
    const [, afterDelete] = await Promise.all([
      db.delete("k"),
      db.atomic([{ type: "set", key: "k", value: "new" }], { checks: absent("k") }),
    ]);
    assert.equal(afterDelete.ok, true, `${mode}: check behind a delete`);
    const [, afterRange] = await Promise.all([
      db.deleteRange({ start: "k", end: "l" }),
      db.atomic([{ type: "set", key: "k", value: "newer" }], { checks: absent("k") }),
    ]);
    assert.equal(afterRange.ok, true, `${mode}: check behind a range delete`);
    const [, afterSet] = await Promise.all([
      db.set("m", "v"),
      db.atomic([{ type: "set", key: "m", value: "w" }], { checks: absent("m") }),
    ]);
    assert.equal(afterSet.ok, false, `${mode}: check behind a set`);
    assert.equal(text(await db.get("k")), "newer");
  }));

Deno.test("sequence: a checked commit behind a set in flight holds when it checks that set's number", () =>
  inEachSyncMode(async (db, mode) => {
    await db.set("k", "old");
    const old = db.sequence;
    // Not awaited: under "always" still waiting for its fsync when the check runs.
    const inFlight = db.set("k", "new");
    const next = old + 1;
    const [held, stale] = await Promise.all([
      db.atomic([{ type: "set", key: "k", value: "newer" }], {
        checks: [{ key: "k", sequence: next }],
      }),
      db.atomic([{ type: "set", key: "k", value: "lost" }], {
        checks: [{ key: "k", sequence: old }],
      }),
      inFlight,
    ]);
    assert.deepEqual(held, { ok: true, sequence: next + 1 }, `${mode}: check of the set in flight`);
    assert.equal(stale.ok, false, `${mode}: check of the number before it`);
    assert.equal(text(await db.get("k")), "newer", mode);
    // Behind a range delete in flight over the key, its number no longer holds.
    const range = db.deleteRange({ start: "k", end: "l" });
    const afterRange = await db.atomic([{ type: "set", key: "k", value: "x" }], {
      checks: [{ key: "k", sequence: next + 1 }],
    });
    await range;
    assert.equal(afterRange.ok, false, `${mode}: check behind a range delete`);
  }));

Deno.test("sequence: a set in flight judged by its expiry: past it, deletes and absent-key checks find nothing; before it, a delete deletes", async () => {
  for (const sync of ["always", "never"] as const) {
    await withDir(async (dir) => {
      let now = 1_000_000;
      const db = await open(dir, { clock: () => now, sync });
      // Expired before the calls after it are made, whether applied yet or not.
      const set = db.set("gone", "v", { ttl: 10 });
      now += 20;
      const del = db.delete("gone");
      const checked = db.atomic([{ type: "set", key: "x", value: "1" }], {
        checks: [{ key: "gone", sequence: null }],
      });
      await set;
      assert.equal(await del, false, sync);
      assert.deepEqual(await checked, { ok: true, sequence: 2 }, sync);
      // Present when the delete is called; expired, perhaps, by the time it is applied.
      const live = db.set("live", "v", { ttl: 10 });
      now += 5;
      const deleted = db.delete("live");
      now += 20;
      await live;
      assert.equal(await deleted, true, sync);
      assert.equal(db.sequence, 4, sync);
      await db.close();
    });
  }
});

Deno.test("sequence: a range delete applied no longer decides the writes of its keys called after it", () =>
  inEachSyncMode(async (db, mode) => {
    // Called together: the set after the range delete makes the key present
    // again, so the delete after it deletes it, and a check that it is absent fails.
    const [, , deleted] = await Promise.all([
      db.deleteRange({ prefix: "a" }),
      db.set("a1", "hello"),
      db.delete("a1"),
    ]);
    assert.equal(deleted, true, mode);
    assert.equal(await db.get("a1"), undefined, mode);
    const [, , , checked] = await Promise.all([
      db.set("b1", "x"),
      db.deleteRange({ prefix: "b" }),
      db.set("b1", "owner-A"),
      db.atomic([{ type: "set", key: "b1", value: "owner-B" }], {
        checks: [{ key: "b1", sequence: null }],
      }),
    ]);
    assert.equal(checked.ok, false, mode);
    assert.equal(text(await db.get("b1")), "owner-A", mode);
  }));

Deno.test("sequence: a range delete called after a set in flight decides an absent-key check and a delete of that key", () =>
  inEachSyncMode(async (db, mode) => {
    await db.set("b", "old");
    const [, n, checked] = await Promise.all([
      db.set("b", "new"),
      db.deleteRange({ start: "a", end: "c" }),
      db.atomic([{ type: "set", key: "x", value: "1" }], {
        checks: [{ key: "b", sequence: null }],
      }),
    ]);
    assert.equal(n, 1, mode);
    assert.equal(checked.ok, true, `${mode}: b is absent behind the range delete`);
    assert.equal(await db.has("x"), true, mode);
    const before = db.sequence;
    const [, , gone] = await Promise.all([
      db.set("b", "again"),
      db.deleteRange({ start: "a", end: "c" }),
      db.delete("b"),
    ]);
    assert.equal(gone, false, `${mode}: nothing left to delete`);
    assert.equal(db.sequence, before + 2, `${mode}: the delete took no number`);
  }));

Deno.test("watch: a feed waiting for a change keeps the process alive", () =>
  withDir(async (dir) => {
    const run = await stillRunning(dir, (mod) =>
      `import { open } from ${mod};
const db = await open(${JSON.stringify(`${dir}/store`)});
console.log("watching");
for await (const c of db.watch({ prefix: "config" })) console.log(c.sequence);
`);
    assert.equal(run.first, "watching\n");
    // Before, the program ended here: "Top-level await promise never resolved".
    assert.equal(run.after, "running", JSON.stringify(run.after));
  }));
