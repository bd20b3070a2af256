/**
 * Type-level compatibility: what openKv returns is assignable to Deno.Kv
 * without a cast, so code typed against Deno KV accepts it. `deno check` (and
 * `deno test`, which type-checks first) fails on this file if it is not.
 */

import assert from "node:assert/strict";
import { openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";

/** Code written for Deno KV, used unchanged. */
async function denoKvCode(kv: Deno.Kv): Promise<string | null> {
  const op: Deno.AtomicOperation = kv.atomic();
  await op.check({ key: ["k"], versionstamp: null }).set(["k"], "v").commit();
  const it: Deno.KvListIterator<string> = kv.list<string>({ prefix: [] });
  for await (const e of it) assert.equal(e.value, "v");
  const entry: Deno.KvEntryMaybe<string> = await kv.get<string>(["k"]);
  return entry.value;
}

Deno.test("openKv's result is a Deno.Kv for the type checker, and works as one", async () => {
  await withDir(async (dir) => {
    const cask = await openKv(dir);
    const kv: Deno.Kv = cask;
    try {
      assert.equal(await denoKvCode(kv), "v");
    } finally {
      // Deno.Kv's close() returns void; Cask's also returns a promise, to wait for the unlock.
      await cask.close();
    }
    const again = await openKv(dir);
    assert.equal((await again.get(["k"])).value, "v");
    await again.close();
  });
});
