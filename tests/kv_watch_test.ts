/**
 * watch(): the current entries first, then one array per commit that changed
 * a watched key, run as the same script against Deno KV and Cask.
 */

import assert from "node:assert/strict";
import { openKv } from "../mod.ts";
import { heldMemoryMB, stillRunning, withDir } from "./helpers.ts";
import { openDenoKv, plain } from "./kv_peer.ts";

/** `p`'s value, or "timeout" when it takes longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Emitted = { key: unknown; value: unknown; stamped: boolean }[];

/** Runs the script on `kv`; returns what the stream emitted after each step. */
async function script(kv: Deno.Kv, raw: boolean): Promise<Emitted[]> {
  await kv.set(["a"], 1);
  const stream = kv.watch([["a"], ["b"]], { raw });
  const reader = stream.getReader();
  const seen: Emitted[] = [];
  const stamps: (string | null)[][] = [];
  const take = async () => {
    const { value, done } = await reader.read();
    assert.equal(done, false);
    stamps.push(value!.map((e) => e.versionstamp));
    seen.push(
      value!.map((e) => ({ key: e.key, value: plain(e.value), stamped: e.versionstamp !== null })),
    );
  };
  await take(); // the current entries
  await kv.set(["b"], "two");
  await take();
  await kv.set(["c"], "unwatched");
  await kv.delete(["zz"]);
  await kv.set(["a"], 3); // the next emission is this one: nothing watched changed before it
  await take();
  await kv.atomic().set(["a"], 4).delete(["b"]).commit();
  await take(); // one array for the commit, both keys changed
  await reader.cancel();
  // Within one commit both keys share a stamp; stamps grow from array to array.
  assert.equal(stamps[3][0] !== null && stamps[3][1] === null, true);
  for (let i = 1; i < stamps.length; i++) {
    assert.ok((stamps[i][0] ?? "") >= (stamps[i - 1][0] ?? ""));
  }
  return seen;
}

for (const raw of [false, true]) {
  Deno.test(`watch${raw ? " (raw)" : ""} emits the same arrays as Deno KV`, async () => {
    await withDir(async (dir) => {
      const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
      const cask = await openKv(`${dir}/cask`);
      try {
        const want = await script(denoKv, raw);
        const got = await script(cask as unknown as Deno.Kv, raw);
        assert.deepEqual(got, want);
        assert.deepEqual(got[0], [
          { key: ["a"], value: 1, stamped: true },
          { key: ["b"], value: null, stamped: false },
        ]);
      } finally {
        denoKv.close();
        await cask.close();
      }
    });
  });
}

Deno.test("closing the store ends its watch streams", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    const reader = kv.watch([["a"]]).getReader();
    assert.equal((await reader.read()).done, false);
    const pending = reader.read();
    await kv.close();
    assert.equal((await pending).done, true);
  });
});

Deno.test("a watched key that expires is reported absent", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    try {
      await kv.set(["a"], 1, { expireIn: 200 });
      const reader = kv.watch([["a"]]).getReader();
      assert.equal((await reader.read()).value![0].value, 1);
      const t0 = Date.now();
      const { value } = await reader.read();
      assert.deepEqual(value, [{ key: ["a"], value: null, versionstamp: null }]);
      assert.ok(Date.now() - t0 < 1000, "reported when it expired, not at some later read");
      await reader.cancel();
    } finally {
      await kv.close();
    }
  });
});

Deno.test("with an injected clock, a watch reports an expiry once that clock has passed it", async () => {
  await withDir(async (dir) => {
    // A day ahead of real time: a timer set by real time would wait a day.
    let now = Date.now() + 86_400_000;
    const kv = await openKv(dir, { clock: () => now });
    try {
      await kv.set(["a"], 1, { expireIn: 100 });
      const reader = kv.watch([["a"]]).getReader();
      assert.equal((await reader.read()).value![0].value, 1);
      const next = reader.read();
      // The timer fires after 100 real ms, but the clock has not moved: nothing to report.
      assert.equal(await within(next, 400), "timeout");
      now += 100;
      const t0 = performance.now();
      const late = await within(next, 2000);
      assert.notEqual(late, "timeout", "the expiry was never reported");
      assert.deepEqual(
        (late as ReadableStreamReadResult<unknown>).value,
        [{ key: ["a"], value: null, versionstamp: null }],
      );
      assert.ok(performance.now() - t0 < 1000, "seen at the timer's next wake");
      await reader.cancel();
    } finally {
      await kv.close();
    }
  });
});

Deno.test("a stream nobody read for 10,000+ commits still reports the latest entry", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir, { sync: "never" });
    try {
      const reader = kv.watch([["a"]]).getReader();
      await reader.read();
      // More changes than the store buffers for one watcher: its feed overflows.
      for (let i = 1; i <= 10_050; i++) await kv.set(["a"], i);
      const { value } = await reader.read();
      assert.equal(value![0].value, 10_050);
      await kv.set(["a"], "after");
      assert.equal((await reader.read()).value![0].value, "after");
      await reader.cancel();
    } finally {
      await kv.close();
    }
  });
});

Deno.test("a watch stream holds no change it saw: 5,000 values of 10 KB leave nothing behind", async () => {
  // Each wait for a change used to race the store's close, which kept every
  // change (50 MB here) until the store closed, the stream cancelled or not.
  const grew = await heldMemoryMB("watch");
  assert.ok(grew < 10, `${grew.toFixed(1)} MB still held`);
});

Deno.test("watch() refuses a key too large to read, as Deno KV does", async () => {
  await withDir(async (dir) => {
    const big = ["x".repeat(70_000)];
    await using kv = await openKv(`${dir}/cask`);
    const peer = await openDenoKv(`${dir}/deno.sqlite`);
    try {
      const theirs = (() => {
        try {
          peer.watch([big]);
        } catch (e) {
          return e;
        }
      })() as Error;
      assert.ok(theirs instanceof TypeError, String(theirs));
      assert.throws(() => kv.watch([big]), TypeError, "Key too large for read");
    } finally {
      peer.close();
    }
    await using small = await openKv(`${dir}/small`, { maxKeySize: 100 });
    assert.throws(() => small.watch([["x".repeat(198)]]), TypeError, "Key too large for read");
  });
});

Deno.test("a watch waiting for a change keeps the process alive, as Deno KV's does", async () => {
  await withDir(async (dir) => {
    const run = await stillRunning(dir, (mod) =>
      `import { openKv } from ${mod};
const kv = await openKv(${JSON.stringify(`${dir}/kv`)});
for await (const [e] of kv.watch([["config"]])) console.log(JSON.stringify(e.value));
`);
    assert.equal(run.first, "null\n");
    // Before, the program ended here: "Top-level await promise never resolved".
    assert.equal(run.after, "running", JSON.stringify(run.after));
  });
});

Deno.test("a raw watch reports a delete of an absent watched key, as Deno KV's does", async () => {
  await withDir(async (dir) => {
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    await using cask = await openKv(`${dir}/cask`);
    try {
      for (const kv of [denoKv, cask as unknown as Deno.Kv]) {
        const reader = kv.watch([["b"]], { raw: true }).getReader();
        assert.equal((await reader.read()).value![0].versionstamp, null);
        await kv.delete(["b"]);
        const next = await within(reader.read(), 2000);
        assert.notEqual(next, "timeout");
        assert.equal((next as { value: Deno.KvEntryMaybe<unknown>[] }).value[0].value, null);
        await reader.cancel();
      }
    } finally {
      denoKv.close();
    }
  });
});

Deno.test("a watch woken by its expiry timer with nothing expired still reports every later write", async () => {
  // A clock that stands still: the timer fires each 200 ms of real time and the
  // store finds nothing expired; each such wake once left a read of the feed
  // behind, which took the next change from the stream.
  const now = Date.now();
  await using kv = await openKv(":memory:", { clock: () => now });
  await kv.set(["a"], 0, { expireIn: 200 });
  const reader = kv.watch([["a"]]).getReader();
  await reader.read();
  let pending = reader.read();
  await new Promise((r) => setTimeout(r, 700));
  for (let i = 1; i <= 4; i++) {
    await kv.set(["a"], i);
    const got = await within(pending, 1000);
    assert.notEqual(got, "timeout", `set ${i} not reported`);
    assert.equal((got as { value: Deno.KvEntryMaybe<number>[] }).value[0].value, i);
    pending = reader.read();
  }
  await reader.cancel();
});

Deno.test("watch: an absent key's entry has a key array of its own in every array, as in Deno KV", async () => {
  await withDir(async (dir) => {
    const run = async (kv: Deno.Kv) => {
      const watched: Deno.KvKey = ["a"];
      const reader = kv.watch([watched]).getReader();
      const first = (await reader.read()).value![0];
      await kv.set(["a"], 1);
      await reader.read();
      await kv.delete(["a"]);
      const again = (await reader.read()).value![0];
      await reader.cancel();
      return {
        callersKey: first.key === watched,
        shared: first.key === again.key,
        keys: [first.key, again.key],
      };
    };
    const denoKv = await openDenoKv(`${dir}/deno.sqlite3`);
    const expected = await run(denoKv).finally(() => denoKv.close());
    const kv = await openKv(`${dir}/cask`);
    const got = await run(kv).finally(() => kv.close());
    assert.deepEqual(got, expected);
    assert.deepEqual(got, { callersKey: false, shared: false, keys: [["a"], ["a"]] });
  });
});
