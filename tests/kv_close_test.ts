/**
 * close(): Deno KV code ignores what close() returns (Deno.Kv.close() returns
 * nothing), so the promise must never become an unhandled rejection; callers
 * who await it still see a failed flush.
 */

import assert from "node:assert/strict";
import { openKv } from "../mod.ts";
import { tempDir } from "./helpers.ts";

const CHILD = new URL("./children/kv_close_unawaited.ts", import.meta.url).pathname;

for (const mode of ["nowrite", "get", "write", "using"]) {
  Deno.test(`close() not awaited, directory removed at once (${mode}): the process survives`, async () => {
    const dir = await tempDir();
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CHILD, dir, mode],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "survived");
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}

Deno.test("an awaited close() still rejects when its flush fails", async () => {
  const dir = await tempDir();
  const kv = await openKv(dir);
  const closing = kv.close();
  await Deno.remove(dir, { recursive: true });
  await assert.rejects(closing);
});
