/**
 * Atomic commits under concurrency, and where Cask is stricter than Deno KV:
 * a commit that throws writes nothing.
 */

import assert from "node:assert/strict";
import { KvU64, openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";

type Kv = Awaited<ReturnType<typeof openKv>>;

const plainValue = (v: unknown) => v instanceof KvU64 ? v.value : v;

/** Compare-and-set increment of a KvU64, retried until its check passes. */
async function casIncrement(kv: Kv, key: string[]): Promise<number> {
  for (let tries = 1;; tries++) {
    const e = await kv.get<KvU64>(key);
    const next = new KvU64((e.value?.value ?? 0n) + 1n);
    if ((await kv.atomic().check(e).set(key, next).commit()).ok) return tries;
  }
}

Deno.test("concurrent sums and compare-and-set increments lose no update", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    try {
      const SUMS = 150, CAS = 150;
      const results = await Promise.all([
        ...Array.from({ length: SUMS }, () => kv.atomic().sum(["count"], 1n).commit()),
        ...Array.from({ length: CAS }, () => casIncrement(kv, ["count"])),
      ]);
      const total = (await kv.get<KvU64>(["count"])).value!.value;
      assert.equal(total, BigInt(SUMS + CAS));
      // Versionstamps of successful commits are distinct and all of them are accounted for.
      const stamps = results.slice(0, SUMS).map((r) =>
        (r as { versionstamp: string }).versionstamp
      );
      assert.equal(new Set(stamps).size, SUMS);
      assert.ok(
        (results.slice(SUMS) as number[]).some((tries) => tries > 1),
        "checks did fail under contention",
      );
    } finally {
      await kv.close();
    }
  });
});

Deno.test("all mutations of a commit share one versionstamp; later commits get larger ones", async () => {
  await withDir(async (dir) => {
    let kv = await openKv(dir);
    const a = await kv.atomic().set(["a"], 1).sum(["n"], 5n).set(["b"], 2).commit();
    assert.ok(a.ok);
    const got = await kv.getMany([["a"], ["n"], ["b"]]);
    assert.deepEqual(got.map((e) => e.versionstamp), [
      a.versionstamp,
      a.versionstamp,
      a.versionstamp,
    ]);
    assert.match(a.versionstamp, /^[0-9a-f]{20}$/);
    await kv.close();
    kv = await openKv(dir); // stamps keep growing across a restart
    const b = await kv.set(["a"], 3);
    assert.ok(b.versionstamp > a.versionstamp);
    await kv.close();
  });
});

Deno.test("a commit that throws on a non-U64 value writes none of its mutations", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    try {
      await kv.set(["text"], "not a number");
      await assert.rejects(
        kv.atomic().sum(["n"], 5n).set(["s"], 1).min(["text"], 1n).commit(),
        {
          name: "TypeError",
          message: "Failed to perform 'min' mutation on a non-U64 value in the database",
        },
      );
      assert.deepEqual((await kv.getMany([["n"], ["s"]])).map((e) => e.value), [null, null]);
      // Within one commit, later mutations see earlier ones: set then sum.
      await kv.atomic().set(["u"], new KvU64(5n)).sum(["u"], 3n).max(["u"], 2n).commit();
      assert.equal((await kv.get<KvU64>(["u"])).value!.value, 8n);
      // A key written twice in one commit ends with its last write.
      await kv.atomic().set(["x"], 1).delete(["x"]).delete(["y"]).set(["y"], 2).commit();
      await kv.atomic().sum(["z"], 1n).delete(["z"]).sum(["z"], 4n).commit();
      const twice = async () =>
        (await kv.getMany([["x"], ["y"], ["z"]])).map((e) => plainValue(e.value));
      assert.deepEqual(await twice(), [null, 2, 4n]);
      await kv.atomic().sum(["u"], 2n ** 64n - 1n).commit(); // wraps modulo 2^64
      assert.equal((await kv.get<KvU64>(["u"])).value!.value, 7n);
    } finally {
      await kv.close();
    }
  });
});

Deno.test("kv: commits called together apply in call order, sum/min/max among them, as Deno KV's do", async () => {
  for (const sync of ["always", "never", { intervalMs: 5 }] as const) {
    await withDir(async (dir) => {
      await using kv = await openKv(dir, { sync });
      const mode = JSON.stringify(sync);
      // A set called after a sum wins, and takes the later versionstamp.
      const [sum, set] = await Promise.all([
        kv.atomic().sum(["n"], 1n).commit(),
        kv.set(["n"], new KvU64(10n)),
      ]);
      assert.equal((await kv.get<KvU64>(["n"])).value?.value, 10n, mode);
      assert.ok(sum.ok && sum.versionstamp < set.versionstamp, mode);
      // A delete called after a max sticks.
      await Promise.all([kv.atomic().max(["m"], 5n).commit(), kv.delete(["m"])]);
      assert.equal((await kv.get(["m"])).value, null, mode);
      // A create-if-absent called after a sum of the key finds it present.
      const [, create] = await Promise.all([
        kv.atomic().sum(["q"], 1n).commit(),
        kv.atomic().check({ key: ["q"], versionstamp: null }).set(["q"], new KvU64(5n)).commit(),
      ]);
      assert.equal(create.ok, false, mode);
      assert.equal((await kv.get<KvU64>(["q"])).value?.value, 1n, mode);
      // Many sums and sets in a row: the last call decides.
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) {
        calls.push(kv.atomic().min(["r"], BigInt(100 - i)).commit());
        calls.push(kv.set(["r"], new KvU64(BigInt(1000 + i))));
      }
      await Promise.all(calls);
      assert.equal((await kv.get<KvU64>(["r"])).value?.value, 1049n, mode);
    });
  }
});

Deno.test("kv: reads and close() wait for the commits called before them that wait behind a sum", async () => {
  for (const sync of ["always", "never", { intervalMs: 5 }] as const) {
    await withDir(async (dir) => {
      const mode = JSON.stringify(sync);
      {
        const kv = await openKv(dir, { sync });
        await kv.set(["n"], new KvU64(5n));
        await kv.set(["a"], 0);
        const sum = kv.atomic().sum(["n"], 1n).commit();
        const set = kv.set(["a"], 1);
        const [n, a] = await kv.getMany<[KvU64, number]>([["n"], ["a"]]);
        // Under "always" a write is visible once durable (see the README), so
        // the read shows what is durable by then; otherwise both writes.
        if (sync !== "always") {
          assert.equal(n.value?.value, 6n, mode);
          assert.equal(a.value, 1, mode);
          assert.equal((await kv.get(["a"])).value, 1, mode);
        }
        await Promise.all([sum, set]);
        // Un-awaited sums and sets, then close(): every one called before it is written.
        const calls: Promise<unknown>[] = [];
        for (let i = 0; i < 70; i++) {
          calls.push(i % 7 === 0 ? kv.atomic().sum(["n"], 1n).commit() : kv.set(["k", i], i));
        }
        await kv.close();
        const settled = await Promise.allSettled(calls);
        assert.deepEqual(settled.filter((s) => s.status === "rejected"), [], mode);
      }
      await using again = await openKv(dir);
      assert.equal((await again.get<KvU64>(["n"])).value?.value, 16n, mode);
      assert.equal((await again.get(["k", 69])).value, 69, mode);
    });
  }
});

Deno.test("kv: a list's batch sees the writes called before it that wait behind a sum", async () => {
  for (const sync of ["never", { intervalMs: 5 }] as const) {
    await withDir(async (dir) => {
      await using kv = await openKv(dir, { sync });
      const mode = JSON.stringify(sync);
      await kv.set(["n"], new KvU64(5n));
      await kv.set(["a", 1], 0);
      const writes = [
        kv.atomic().sum(["n"], 1n).commit(),
        kv.set(["a", 1], 1),
        kv.set(["a", 2], 2),
        kv.delete(["a", 1]),
      ];
      const seen = [];
      for await (const e of kv.list({ prefix: ["a"] })) seen.push([e.key, e.value]);
      assert.deepEqual(seen, [[["a", 2], 2]], mode);
      await Promise.all(writes);
      // And a batch pulled later sees what was called before it.
      const page = kv.list({ prefix: ["a"] }, { batchSize: 1 });
      assert.deepEqual((await page.next()).value?.key, ["a", 2], mode);
      const more = [kv.atomic().sum(["n"], 1n).commit(), kv.set(["a", 3], 3)];
      assert.deepEqual((await page.next()).value?.key, ["a", 3], mode);
      await Promise.all(more);
      // A write called after a batch was pulled is not in it.
      const late = [kv.atomic().sum(["n"], 1n).commit(), kv.set(["a", 4], 4)];
      const it = kv.list({ prefix: ["a"] });
      const first = it.next();
      late.push(kv.set(["a", 9], 9));
      const keys = [(await first).value?.key];
      for await (const e of it) keys.push(e.key);
      assert.deepEqual(keys, [["a", 2], ["a", 3], ["a", 4]], mode);
      await Promise.all(late);
    });
  }
});

Deno.test("kv: a list batch costs what it reads, whatever its batchSize", async () => {
  await using kv = await openKv(":memory:");
  for (let i = 0; i < 3; i++) await kv.set(["k", i], i);
  const keys = [];
  for await (const e of kv.list({ prefix: ["k"] }, { batchSize: 2 ** 32, limit: 2 })) {
    keys.push(e.key);
  }
  assert.deepEqual(keys, [["k", 0], ["k", 1]]);
});

Deno.test("kv: a read answers as of its call, not with writes called after it", async () => {
  for (const sync of ["always", "never", { intervalMs: 5 }] as const) {
    await withDir(async (dir) => {
      await using kv = await openKv(dir, { sync });
      const mode = JSON.stringify(sync);
      await kv.set(["k"], 1);
      const get = kv.get(["k"]);
      const many = kv.getMany([["k"]]);
      const later = kv.set(["k"], 2);
      assert.equal((await get).value, 1, mode);
      assert.equal((await many)[0].value, 1, mode);
      await later;
      assert.equal((await kv.get(["k"])).value, 2, mode);
    });
  }
});
