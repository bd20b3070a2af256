/**
 * A process crash under "never" and the interval mode loses at most the writes
 * still buffered, even for a bulk load that awaits each write and so never
 * yields to the event loop, while the writer moves to new data files.
 */

import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { withDir } from "./helpers.ts";

const CHILD = new URL("./children/never_loop.ts", import.meta.url).pathname;
const WRITES = 20_000;
// A write of 200 bytes makes a record of about 230: a buffer of 1 MiB (what is
// written at once once it fills) holds about 4,600 of them.
const MAX_LOST = 5_000;

for (const mode of ["never", "interval"]) {
  for (const maxFileSize of [4096, 64 << 20]) {
    Deno.test(`kill -9 after ${WRITES} awaited writes under ${mode}, ${maxFileSize}-byte files, loses at most the buffer`, () =>
      withDir(async (dir) => {
        const child = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", CHILD, dir, mode, String(maxFileSize), String(WRITES)],
          stderr: "piped",
        }).output();
        assert.equal(child.signal, "SIGKILL", new TextDecoder().decode(child.stderr));
        await using db = await open(dir);
        let kept = 0;
        while (kept < WRITES && await db.has(`k${kept}`)) kept++;
        assert.equal(db.size, kept, "the survivors are a prefix of the writes");
        assert.ok(kept >= WRITES - MAX_LOST, `${kept} of ${WRITES} acknowledged writes survived`);
      }));
  }
}

Deno.test({
  name:
    "a loop of awaited writes that rotates files thousands of times holds a bounded number of descriptors",
  ignore: Deno.build.os !== "linux",
  fn: () =>
    withDir(async (dir) => {
      // Descriptors of this store's directory and files only: test files running in
      // parallel share the process.
      const fds = () =>
        [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
          try {
            return Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith(dir);
          } catch {
            return false;
          }
        }).length;
      await using db = await open(dir, { sync: "never", maxFileSize: 1024 });
      const before = fds();
      let most = before;
      // 2.6 MB: the buffer is written out twice on the way, past 1 MiB each time.
      for (let i = 0; i < 20_000; i++) {
        await db.set(`k${i}`, "v".repeat(100));
        if (i % 500 === 0) most = Math.max(most, fds());
      }
      assert.ok(db.stats().files.length > 500, `${db.stats().files.length} files`);
      assert.ok(most - before < 10, `${most - before} more descriptors open at the most`);
    }),
});
