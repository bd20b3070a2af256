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
