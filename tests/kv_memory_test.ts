/**
 * openKv(":memory:"), as Deno.openKv(":memory:"): each open is a fresh, empty,
 * private store, nothing named ":memory:" appears in the working directory,
 * and its files are gone once it is closed.
 */

import assert from "node:assert/strict";
import { openKv } from "../mod.ts";
import { withDir } from "./helpers.ts";

/** Directories under the OS temp dir that hold a `:memory:` store. */
async function memoryDirs(): Promise<string[]> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const found: string[] = [];
  for await (const e of Deno.readDir(tmp)) {
    if (e.name.startsWith("cask-kv-memory-")) found.push(e.name);
  }
  return found.sort();
}

Deno.test(":memory: stores are fresh, private and leave nothing behind", async () => {
  await withDir(async (cwd) => {
    const before = await memoryDirs();
    const oldCwd = Deno.cwd();
    Deno.chdir(cwd);
    try {
      for (let run = 0; run < 2; run++) {
        const a = await openKv(":memory:");
        assert.equal((await a.get(["counter"])).value, null, `run ${run}: starts empty`);
        await a.set(["counter"], 1);
        // A second open at the same time is another store, not a locked directory.
        const b = await openKv(":memory:");
        assert.equal((await b.get(["counter"])).value, null);
        await b.set(["counter"], 2);
        assert.equal((await a.get(["counter"])).value, 1);
        assert.equal((await b.get(["counter"])).value, 2);
        assert.equal((await memoryDirs()).length, before.length + 2);
        await b.close();
        await a.close();
      }
      assert.deepEqual(await Array.fromAsync(Deno.readDir(cwd)), []);
      assert.deepEqual(await memoryDirs(), before);
    } finally {
      Deno.chdir(oldCwd);
    }
  });
});
