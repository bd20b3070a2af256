/**
 * watch(): the current entries first, then one array per commit that changed
 * a watched key, run as the same script against Deno KV and Cask.
 */

import assert from "node:assert/strict";
import { openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";
import { openDenoKv, plain } from "./kv_peer.ts";

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
  if (raw) {
    await kv.delete(["b"]); // b stays absent: only a raw watch reports the mutation
    await take();
  }
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
