/**
 * expireIn: a key reads as present until its time is up and absent after,
 * in get, getMany, list and checks, also after a restart.
 */

import assert from "node:assert/strict";
import { openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listed(kv: Awaited<ReturnType<typeof openKv>>): Promise<unknown[]> {
  const keys = [];
  for await (const e of kv.list({ prefix: ["s"] })) keys.push(e.key);
  return keys;
}

Deno.test("expireIn keys vanish from get, getMany, list and checks once expired", async () => {
  await withDir(async (dir) => {
    const kv = await openKv(dir);
    const short = await kv.set(["s", 1], "short", { expireIn: 300 });
    const viaAtomic = await kv.atomic().set(["s", 2], "via atomic", { expireIn: 300 }).commit();
    assert.ok(viaAtomic.ok);
    await kv.atomic().mutate({ type: "set", key: ["s", 3], value: "via mutate", expireIn: 300 })
      .commit();
    await kv.set(["s", 4], "long", { expireIn: 60_000 });
    await kv.set(["s", 5], "forever");

    const before = await kv.get(["s", 1]);
    assert.deepEqual(before, { key: ["s", 1], value: "short", versionstamp: short.versionstamp });
    assert.equal((await listed(kv)).length, 5);

    await kv.close();
    await sleep(350);
    const again = await openKv(dir);
    try {
      assert.deepEqual(await again.get(["s", 1]), {
        key: ["s", 1],
        value: null,
        versionstamp: null,
      });
      assert.deepEqual((await again.getMany([["s", 2], ["s", 3], ["s", 4]])).map((e) => e.value), [
        null,
        null,
        "long",
      ]);
      assert.deepEqual(await listed(again), [["s", 4], ["s", 5]]);
      // An expired key is absent for checks too: "must be absent" passes.
      const r = await again.atomic().check({ key: ["s", 1], versionstamp: null }).set(
        ["s", 1],
        "new",
      )
        .commit();
      assert.equal(r.ok, true);
      // A check naming the expired entry's stamp fails: that entry is gone.
      const stale = await again.atomic().check({
        key: ["s", 2],
        versionstamp: viaAtomic.versionstamp,
      })
        .commit();
      assert.equal(stale.ok, false);
    } finally {
      await again.close();
    }
  });
});

Deno.test("with an injected clock, expireIn counts from that clock, however far it is from real time", async () => {
  for (const offset of [-86_400_000, 86_400_000]) {
    await withDir(async (dir) => {
      let now = Date.now() + offset;
      const kv = await openKv(dir, { clock: () => now });
      try {
        await kv.set(["s", 1], "set", { expireIn: 60_000 });
        await kv.atomic().set(["s", 2], "atomic", { expireIn: 60_000 }).commit();
        await kv.atomic().mutate({ type: "set", key: ["s", 3], value: "mutate", expireIn: 60_000 })
          .commit();
        const values = async () =>
          (await kv.getMany([["s", 1], ["s", 2], ["s", 3]])).map((e) => e.value);
        assert.deepEqual(await values(), ["set", "atomic", "mutate"], `offset ${offset}: just set`);
        now += 59_999;
        assert.deepEqual(
          await values(),
          ["set", "atomic", "mutate"],
          `offset ${offset}: 1 ms left`,
        );
        now += 1;
        assert.deepEqual(await values(), [null, null, null], `offset ${offset}: time is up`);
      } finally {
        await kv.close();
      }
    });
  }
});
